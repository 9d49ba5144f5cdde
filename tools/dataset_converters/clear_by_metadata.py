"""Rebuild a CLEAR-layout dataset with buckets cut from a metadata field.

    python tools/dataset_converters/clear_by_metadata.py DATASET_ROOT --out DIR
        --key DATE_TAKEN (--num-buckets 10 | --by-year) [--copy]

CLEAR buckets images by upload time (``DATE_UPLOADED``); this tool re-buckets them by any
field of the per-image metadata, e.g. ``DATE_TAKEN``: images are sorted on the field
(numerically when every value is a number, else as strings, which orders ISO dates) and cut
into ``--num-buckets`` consecutive buckets of equal size (named 1..N), or grouped by the
year the value starts with (``--by-year``). Train and test images are bucketed together,
so bucket i of both splits covers the same period; each image keeps its split. DIR
receives the public layout (``<split>/class_names.txt``, ``labeled_metadata.json``,
per-class metadata with an added ``ORIGINAL_BUCKET`` field, and
``labeled_images/<bucket>/<class>/<id>.<ext>`` as symbolic links to the source images,
or copies with ``--copy``). The CLEAR scenario reads DIR as it reads the original.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from clbox.scenarios.clear_layout import read_clear  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Re-bucket CLEAR on a metadata field')
    parser.add_argument('dataset_root', help='CLEAR root (read only)')
    parser.add_argument('--out', required=True, help='new dataset root (must not exist or '
                        'be empty)')
    parser.add_argument('--key', default='DATE_TAKEN', help='metadata field to sort on')
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument('--num-buckets', type=int, help='equal-size buckets')
    group.add_argument('--by-year', action='store_true', help='one bucket per year')
    parser.add_argument('--copy', action='store_true', help='copy images instead of linking')
    return parser.parse_args(argv)


def _sort_key(values):
    try:
        numbers = [float(v) for v in values]
        return lambda i: numbers[i]
    except (TypeError, ValueError):
        return lambda i: str(values[i])


def assign_buckets(values, num_buckets=None, by_year=False):
    """Bucket name of every value (equal-size chunks of the sorted order, or years)."""
    if by_year:
        years = [str(v)[:4] for v in values]
        bad = [v for v, y in zip(values, years) if not y.isdigit()]
        if bad:
            raise ValueError(f'--by-year needs values starting with a year, got {bad[:3]}.')
        return years
    if not num_buckets or num_buckets < 1 or num_buckets > len(values):
        raise ValueError(f'--num-buckets must be in [1, {len(values)}], got {num_buckets}.')
    order = sorted(range(len(values)), key=_sort_key(values))
    names = [''] * len(values)
    for rank, i in enumerate(order):
        names[i] = str(rank * num_buckets // len(values) + 1)
    return names


def _place(src: str, dst: str, copy: bool) -> None:
    os.makedirs(osp.dirname(dst), exist_ok=True)
    if copy:
        shutil.copy2(src, dst)
    else:
        os.symlink(osp.realpath(src), dst)


def rebuild(dataset_root: str, out: str, key: str, num_buckets=None, by_year=False,
            copy=False) -> dict:
    """Write the re-bucketed dataset; returns ``{split: {bucket: count}}``.

    Raises:
        ValueError: If ``out`` is inside the root or not empty, or ``key`` is missing.
    """
    index = read_clear(dataset_root)
    root = index.root
    real_out = osp.realpath(out)
    if real_out == root or real_out.startswith(root + osp.sep):
        raise ValueError(f'--out "{out}" is inside the dataset root; clbox never writes there.')
    if osp.isdir(out) and os.listdir(out):
        raise ValueError(f'--out "{out}" is not empty; pick a new folder.')
    records = index.records()
    lacking = [r.path for r in records if key not in r.meta]
    if lacking:
        raise ValueError(f'{len(lacking)} image(s) have no "{key}" in their metadata, e.g. '
                         f'{lacking[:2]} (fields: {sorted(records[0].meta)[:12]}). Pick '
                         'another --key (file-list layouts carry no metadata).')
    buckets = assign_buckets([r.meta[key] for r in records], num_buckets, by_year)
    counts = {}
    for split in index.pools:
        folder = osp.join(out, split) if split else out
        entries = {}
        for r, b in zip(records, buckets):
            if r.split != split:
                continue
            name = index.class_names[r.label]
            image_id = str(r.meta.get('ID', osp.splitext(osp.basename(r.path))[0]))
            rel = f'labeled_images/{b}/{name}/{image_id}{osp.splitext(r.path)[1]}'
            _place(osp.join(root, r.path), osp.join(folder, rel), copy)
            meta = dict(r.meta, IMG_PATH=rel, ORIGINAL_BUCKET=r.bucket)
            entries.setdefault(b, {}).setdefault(name, {})[image_id] = meta
        _write_split(folder, index.class_names, entries)
        counts[split] = {b: sum(len(v) for v in per.values()) for b, per in entries.items()}
    return counts


def _write_split(folder: str, class_names, entries: dict) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(osp.join(folder, 'class_names.txt'), 'w') as f:
        f.write('\n'.join(class_names) + '\n')
    index = {}
    for b, per_class in entries.items():
        index[b] = {}
        for name in class_names:
            rel = f'labeled_metadata/{b}/{name}.json'
            os.makedirs(osp.dirname(osp.join(folder, rel)), exist_ok=True)
            with open(osp.join(folder, rel), 'w') as f:
                json.dump(per_class.get(name, {}), f)
            index[b][name] = rel
    with open(osp.join(folder, 'labeled_metadata.json'), 'w') as f:
        json.dump(index, f, indent=1)


def main(argv=None):
    args = parse_args(argv)
    counts = rebuild(args.dataset_root, args.out, args.key, args.num_buckets, args.by_year,
                     args.copy)
    for split, per_bucket in counts.items():
        print(f'{split or "all"}: ' + ', '.join(f'bucket {b}: {n}' for b, n in
                                                  sorted(per_bucket.items())))


if __name__ == '__main__':
    main()
