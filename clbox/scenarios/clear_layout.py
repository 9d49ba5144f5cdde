"""Read the public CLEAR-10 / CLEAR-100 on-disk layout without touching it.

CLEAR (Lin et al., "The CLEAR Benchmark: Continual LEArning on Real-World Imagery",
NeurIPS 2021 Datasets and Benchmarks track, arXiv:2201.06289) ships labeled images bucketed
by upload year. The 2022 public release (the ``clear10`` / ``clear100`` archives) has one
folder per split, each laid out as::

    <split>/class_names.txt             one class name per line, in label order
    <split>/labeled_metadata.json       {bucket: {class_name: "labeled_metadata/<b>/<c>.json"}}
    <split>/labeled_metadata/<b>/<c>.json   {image_id: {"IMG_PATH": "labeled_images/...",
                                                       "DATE_TAKEN": ..., ...}}
    <split>/labeled_images/<b>/<c>/<id>.jpg

with ``<split>`` in ``train`` and ``test``; ``test`` holds one bucket more (bucket ``0``)
than ``train``. A root holding those files directly (no split folders) is read as a single
split; that is what ``tools/dataset_converters/clear_by_metadata.py`` writes. The NeurIPS'21
archive lists images in ``training_folder/filelists/<b>/all.txt`` (``<path> <label>`` per
line, paths relative to the root; buckets in ``training_folder/bucket_indices.json``) and,
when shipped, ``testing_folder/filelists/<b>/all.txt``; those lists win over the metadata.

Everything here only reads. Avalanche 0.6's reader gives every bucket the images of all
buckets (one ``samples`` list outside the bucket loop); :func:`read_clear` builds one list per
bucket, and the tests check that each bucket holds exactly its own images.
"""
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List

#: Where the data comes from, for error messages (the CLEAR wiki has the download links).
CLEAR_SOURCE = ('CLEAR-10/-100 from https://clear-benchmark.github.io (download links on '
                'the CLEAR wiki, https://linzhiqiu.gitbook.io/the-clear-benchmark); unzip '
                'the train and test archives so that <dataset_root>/train and '
                '<dataset_root>/test each hold class_names.txt and labeled_metadata.json')
SPLITS = ('train', 'test')


class CLEARLayoutError(FileNotFoundError):
    """The dataset root does not hold a readable CLEAR layout."""


@dataclass
class CLEARRecord:
    """One labeled image.

    Args:
        path (str): Image path relative to the dataset root.
        label (int): Class id (line number in ``class_names.txt``).
        bucket (str): Bucket name (``'0'``..``'10'`` in CLEAR-10).
        split (str): ``'train'``, ``'test'`` or ``''`` (a root without split folders).
        meta (dict): The image's metadata entry (``DATE_TAKEN``, ``ID``, ...).
    """
    path: str
    label: int
    bucket: str
    split: str = ''
    meta: dict = field(default_factory=dict)


@dataclass
class CLEARIndex:
    """What :func:`read_clear` found: class names and, per split, the records of each bucket.

    Attributes:
        root (str): The dataset root.
        class_names (list[str]): Class names in label order.
        pools (dict): ``{split: {bucket: [CLEARRecord, ...]}}``; the split is ``'train'``,
            ``'test'`` or ``''``.
        source (str): ``'metadata'`` or ``'filelists'``.
    """
    root: str
    class_names: List[str]
    pools: Dict[str, Dict[str, List[CLEARRecord]]]
    source: str = 'metadata'

    def buckets(self, split: str) -> List[str]:
        """Bucket names of ``split`` in time order."""
        return sort_buckets(self.pools.get(split, {}))

    def records(self) -> List[CLEARRecord]:
        """Every record of every split and bucket."""
        return [r for pool in self.pools.values() for recs in pool.values() for r in recs]


def sort_buckets(names) -> List[str]:
    """Numeric bucket names in numeric order ('2' before '10'), others alphabetically."""
    names = list(names)
    if all(str(n).lstrip('-').isdigit() for n in names):
        return sorted(names, key=lambda n: int(n))
    return sorted(names)


def _load_json(path: str, what: str):
    if not osp.isfile(path):
        raise CLEARLayoutError(f'CLEAR: {what} "{path}" is missing. Re-extract the dataset '
                               f'or point dataset_root at {CLEAR_SOURCE}.')
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'CLEAR: {what} "{path}" is not valid JSON ({e}); the file is '
                         'truncated or corrupt, re-extract it.') from None


def read_class_names(path: str) -> List[str]:
    """Class names, one per non-empty line (a trailing newline adds no class)."""
    if not osp.isfile(path):
        raise CLEARLayoutError(f'CLEAR: class list "{path}" is missing; expected '
                               f'{CLEAR_SOURCE}.')
    with open(path) as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        raise ValueError(f'CLEAR: "{path}" lists no class.')
    return names


def _read_metadata_split(folder: str, split: str, class_names: List[str],
                         root: str) -> Dict[str, List[CLEARRecord]]:
    """Records of one split folder from ``labeled_metadata.json`` and the per-class files."""
    index = _load_json(osp.join(folder, 'labeled_metadata.json'), 'metadata index')
    pool: Dict[str, List[CLEARRecord]] = {}
    for bucket, per_class in index.items():
        missing = [c for c in class_names if c not in per_class]
        if missing:
            raise ValueError(f'CLEAR: bucket {bucket} of "{folder}/labeled_metadata.json" '
                             f'has no entry for class(es) {missing}; it does not match '
                             'class_names.txt.')
        records = []
        for label, name in enumerate(class_names):
            entries = _load_json(osp.join(folder, per_class[name]),
                                 f'metadata of class "{name}" in bucket {bucket}')
            for image_id, meta in entries.items():
                if 'IMG_PATH' not in meta:
                    raise ValueError(f'CLEAR: image {image_id} in "{per_class[name]}" has no '
                                     'IMG_PATH field.')
                path = osp.relpath(osp.join(folder, meta['IMG_PATH']), root)
                records.append(CLEARRecord(path, label, str(bucket), split,
                                           dict(meta, ID=meta.get('ID', image_id))))
        pool[str(bucket)] = records
    return pool


def read_filelist(path: str, bucket: str, split: str) -> List[CLEARRecord]:
    """Records of a ``<path> <label>`` list (paths relative to the dataset root)."""
    if not osp.isfile(path):
        raise CLEARLayoutError(f'CLEAR: file list "{path}" is missing.')
    records = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                raise ValueError(f'CLEAR: line {n} of "{path}" is not "<path> <label>": '
                                 f'{line.strip()!r}.')
            records.append(CLEARRecord(parts[0], int(parts[1]), bucket, split))
    return records


def _read_filelists(folder: str, split: str) -> Dict[str, List[CLEARRecord]]:
    lists = osp.join(folder, 'filelists')
    indices = osp.join(folder, 'bucket_indices.json')
    buckets = [str(b) for b in _load_json(indices, 'bucket list')] if osp.isfile(indices) \
        else sort_buckets(os.listdir(lists))
    return {b: read_filelist(osp.join(lists, b, 'all.txt'), b, split) for b in buckets}


def _check_files(index: CLEARIndex) -> None:
    missing = [r.path for r in index.records() if not osp.isfile(osp.join(index.root, r.path))]
    if missing:
        raise CLEARLayoutError(
            f'CLEAR: {len(missing)} image(s) listed in the metadata of "{index.root}" are '
            f'missing, e.g. {missing[:3]}. The archive was not fully extracted; re-extract '
            f'{CLEAR_SOURCE}.')


def read_clear(root: str, verify_files: bool = True) -> CLEARIndex:
    """Index a CLEAR dataset root (any layout described in this module's docstring).

    Args:
        root (str): The dataset root.
        verify_files (bool): Check that every listed image exists. Defaults to True.

    Returns:
        CLEARIndex: Class names and the records of each split and bucket.

    Raises:
        CLEARLayoutError: If the root, a metadata file or an image is missing.
        ValueError: If a metadata file is malformed.
    """
    if not osp.isdir(root):
        raise CLEARLayoutError(f'CLEAR: dataset_root "{root}" does not exist. clbox never '
                               f'downloads at run time; get {CLEAR_SOURCE}.')
    root = osp.abspath(root)
    if osp.isdir(osp.join(root, 'training_folder', 'filelists')):
        names = read_class_names(osp.join(root, 'class_names.txt'))
        pools = {'train': _read_filelists(osp.join(root, 'training_folder'), 'train')}
        if osp.isdir(osp.join(root, 'testing_folder', 'filelists')):
            pools['test'] = _read_filelists(osp.join(root, 'testing_folder'), 'test')
        index = CLEARIndex(root, names, pools, source='filelists')
    else:
        splits = [s for s in SPLITS if osp.isfile(osp.join(root, s, 'labeled_metadata.json'))]
        if not splits and not osp.isfile(osp.join(root, 'labeled_metadata.json')):
            raise CLEARLayoutError(
                f'CLEAR: no labeled_metadata.json in "{root}" nor in its train/ and test/ '
                f'folders (it holds {sorted(os.listdir(root))[:10]}). Expected {CLEAR_SOURCE}.')
        folders = {s: osp.join(root, s) for s in splits} or {'': root}
        names = None
        pools = {}
        for split, folder in folders.items():
            split_names = read_class_names(osp.join(folder, 'class_names.txt'))
            if names is not None and split_names != names:
                raise ValueError(f'CLEAR: class_names.txt differs between the splits of '
                                 f'"{root}"; labels would not match.')
            names = split_names
            pools[split] = _read_metadata_split(folder, split, names, root)
        index = CLEARIndex(root, names, pools)
    if verify_files:
        _check_files(index)
    return index
