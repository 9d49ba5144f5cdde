"""k-shot CLEAR: k training images per class per bucket, as split lists for the iid protocol.

    python tools/dataset_converters/clear_fewshot.py DATASET_ROOT --out DIR --shots 5
        [--seed 0] [--test-ratio 0.3]

Each bucket is first split 7:3 exactly as the ``iid`` protocol does (same seed, same
stratified split), then ``--shots`` images per class are drawn (seeded) from the training
part; the test part is kept whole, so k-shot results compare with full-data iid ones. DIR
receives ``<bucket>/train.txt`` and ``<bucket>/test.txt`` (``<path> <label>`` lines, paths
relative to DATASET_ROOT) and ``fewshot.json``; nothing is written into DATASET_ROOT. Use it:

    scenario=dict(type='CLEAR', dataset_root=DATASET_ROOT, evaluation_protocol='iid',
                  seed=0, split_dir=DIR)

or skip the files: ``scenario=dict(..., evaluation_protocol='iid', shot=5, seed=0)`` draws
the same lists in memory.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from clbox.scenarios.clear import draw_shots, iid_split  # noqa: E402
from clbox.scenarios.clear_layout import read_clear  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Write k-shot CLEAR split lists')
    parser.add_argument('dataset_root', help='CLEAR root (read only)')
    parser.add_argument('--out', required=True, help='folder for the split lists')
    parser.add_argument('--shots', type=int, required=True, help='images per class per bucket')
    parser.add_argument('--seed', type=int, default=0, help='seed of the split and the draw')
    parser.add_argument('--test-ratio', type=float, default=0.3)
    return parser.parse_args(argv)


def fewshot(dataset_root: str, out: str, shots: int, seed: int = 0,
            test_ratio: float = 0.3) -> dict:
    """Write the k-shot split lists; returns the summary written to ``fewshot.json``.

    Raises:
        ValueError: If ``shots`` < 1 or ``out`` is inside ``dataset_root``.
    """
    if shots < 1:
        raise ValueError(f'--shots must be at least 1, got {shots}.')
    index = read_clear(dataset_root)
    root = index.root
    if osp.realpath(out) == root or osp.realpath(out).startswith(root + osp.sep):
        raise ValueError(f'--out "{out}" is inside the dataset root; clbox never writes there.')
    summary = dict(shots=shots, seed=seed, test_ratio=test_ratio, dataset_root=root,
                   buckets={}, short_classes={})
    train_split = 'train' if 'train' in index.pools else ''
    for bucket in index.buckets(train_split):
        pooled = {r.path: r for pool in index.pools.values() for r in pool.get(bucket, [])}
        train, test = iid_split(list(pooled.values()), test_ratio, seed, bucket)
        chosen, short = draw_shots(train, shots, seed, bucket)
        for label, count in short.items():
            summary['short_classes'].setdefault(bucket, {})[index.class_names[label]] = count
        folder = osp.join(out, bucket)
        os.makedirs(folder, exist_ok=True)
        for name, records in (('train', chosen), ('test', test)):
            with open(osp.join(folder, f'{name}.txt'), 'w') as f:
                f.writelines(f'{r.path} {r.label}\n' for r in records)
        summary['buckets'][bucket] = dict(train=len(chosen), test=len(test))
    with open(osp.join(out, 'fewshot.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    return summary


def main(argv=None):
    args = parse_args(argv)
    summary = fewshot(args.dataset_root, args.out, args.shots, args.seed, args.test_ratio)
    for bucket, counts in summary['buckets'].items():
        print(f'bucket {bucket}: {counts["train"]} train, {counts["test"]} test')
    if summary['short_classes']:
        print(f'classes with fewer than {args.shots} images (all taken): '
              f'{summary["short_classes"]}')


if __name__ == '__main__':
    main()
