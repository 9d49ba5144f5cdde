"""Pre-extracted features on disk and the dataset that serves them.

A feature folder, written by ``tools/extract_features.py``, holds:

* ``features.f16`` - an (N, D) float16 array, raw and memory-mapped (C order);
* ``index.json`` - ``dim``, ``count``, and per row ``paths`` (relative to the dataset root),
  ``labels``, ``buckets`` and ``splits``, plus what produced it (config, checkpoint);
* ``done.npy`` - a boolean mask of the rows already written (extraction is resumable).

CLEAR's feature protocol (Lin et al., NeurIPS 2021, Sec. 5) trains a linear or MLP head per
bucket on frozen features; :class:`PrecomputedFeatures` is that data as an mm dataset, and
the ``CLEAR`` scenario uses it when ``feature_type`` is set.
"""
import errno
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.dataset import BaseDataset

from clbox.registry import DATASETS
from .batched import LabelBatch, pack_only_input_key

FEATURES_FILE = 'features.f16'
INDEX_FILE = 'index.json'
DONE_FILE = 'done.npy'


class _Features:
    """A read-only memory map that neither ``deepcopy`` nor pickling copies.

    Pickling (dataloader workers) sends the path and reopens the map on arrival.
    """

    def __init__(self, path: str, shape: tuple):
        self.path, self.shape = path, tuple(shape)
        self.array = np.memmap(path, dtype=np.float16, mode='r', shape=self.shape)

    def __deepcopy__(self, memo):
        return self

    def __getstate__(self):
        return dict(path=self.path, shape=self.shape)

    def __setstate__(self, state):
        self.__init__(state['path'], state['shape'])


def read_feature_index(folder: str) -> dict:
    """The ``index.json`` of a feature folder, checked against its array and done mask.

    Raises:
        FileNotFoundError: If the folder, the index or the array is missing.
        ValueError: If the array size does not match the index.
    """
    index_path = osp.join(folder, INDEX_FILE)
    if not osp.isfile(index_path):
        raise FileNotFoundError(
            f'no pre-extracted features in "{folder}" ({INDEX_FILE} is missing). Run '
            f'`python tools/extract_features.py CONFIG --out {folder}` first, or set '
            'feature_root to the folder it wrote.')
    with open(index_path) as f:
        index = json.load(f)
    array = osp.join(folder, FEATURES_FILE)
    expected = int(index['count']) * int(index['dim']) * 2
    if not osp.isfile(array) or osp.getsize(array) != expected:
        size = osp.getsize(array) if osp.isfile(array) else 'missing'
        raise ValueError(f'"{array}" should hold {index["count"]}x{index["dim"]} float16 '
                         f'({expected} bytes), found {size}; rerun tools/extract_features.py '
                         'with the same --out to rebuild it.')
    return index


def done_mask(folder: str, count: int) -> np.ndarray:
    """Rows of a feature folder already written (all False when there is no mask yet)."""
    path = osp.join(folder, DONE_FILE)
    if not osp.isfile(path):
        return np.zeros(count, dtype=bool)
    mask = np.load(path)
    if mask.shape != (count,):
        raise ValueError(f'"{path}" has shape {mask.shape}, expected ({count},); delete the '
                         'feature folder and extract again.')
    return mask


@DATASETS.register_module()
class PrecomputedFeatures(BaseDataset):
    """Frozen-backbone features of a dataset, one row per image.

    Each sample before the pipeline is ``dict(feat=(D,) float32, gt_label=int,
    img_path=str, bucket=str)``; the default pipeline packs ``feat`` as the model input, so
    an ``ImageClassifier`` with the ``FeatureInput`` backbone and any mmpretrain head trains
    on it directly.

    Args:
        feature_root (str): A folder written by ``tools/extract_features.py``.
        paths (Sequence[str], optional): Image paths (relative to the dataset root, as in
            the index) to serve, in this order. Defaults to None (every row).
        pipeline (list): mm transforms. Defaults to ``[PackInputs(input_key='feat')]``.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.

    Raises:
        KeyError: If a requested path has no row in the index.
        RuntimeError: If a requested row was never written (extraction interrupted).
    """

    def __init__(self, feature_root: str, paths: Optional[Sequence[str]] = None,
                 pipeline: Optional[Sequence] = None, **kwargs):
        self.feature_root = feature_root
        self._index = read_feature_index(feature_root)
        self._paths = None if paths is None else list(paths)
        shape = (int(self._index['count']), int(self._index['dim']))
        self._features = _Features(osp.join(feature_root, FEATURES_FILE), shape)
        if pipeline is None:
            pipeline = [dict(type='PackInputs', input_key='feat')]
        kwargs.setdefault('serialize_data', False)
        classes = self._index.get('classes')
        super().__init__(metainfo=dict(classes=tuple(classes)) if classes else None,
                         pipeline=list(pipeline), **kwargs)

    @property
    def dim(self) -> int:
        """Feature length."""
        return int(self._index['dim'])

    def rows_of(self, paths: Sequence[str]) -> np.ndarray:
        """Row numbers of image ``paths`` (relative to the dataset root)."""
        lookup: Dict[str, int] = {p: i for i, p in enumerate(self._index['paths'])}
        missing = [p for p in paths if p not in lookup]
        if missing:
            raise KeyError(
                f'{len(missing)} image(s) have no pre-extracted features in '
                f'"{self.feature_root}", e.g. {missing[:3]}. Extract features of the same '
                'dataset (tools/extract_features.py CONFIG --out DIR) and point feature_root '
                'at DIR.')
        return np.array([lookup[p] for p in paths], dtype=np.int64)

    def load_data_list(self) -> List[dict]:
        idx = self._index
        rows = np.arange(int(idx['count'])) if self._paths is None else \
            self.rows_of(self._paths)
        done = done_mask(self.feature_root, int(idx['count']))
        if len(rows) and not done[rows].all():
            raise RuntimeError(
                f'feature extraction into "{self.feature_root}" is incomplete '
                f'({int(done.sum())} of {len(done)} rows written). Rerun '
                'tools/extract_features.py with the same --out: it resumes where it stopped.')
        # the row lives under its own key: mmengine overwrites ``sample_idx`` with the
        # position in the (sub)set
        return [dict(row=int(r), gt_label=int(idx['labels'][r]),
                     img_path=idx['paths'][r], bucket=str(idx['buckets'][r])) for r in rows]

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info['feat'] = np.asarray(self._features.array[info['row']], dtype=np.float32)
        return info

    def get_gt_labels(self) -> np.ndarray:
        """Labels of every sample, in order."""
        return np.array([d['gt_label'] for d in self.data_list], dtype=np.int64)

    def fetch_batch(self, indices: Sequence[int]) -> Optional[dict]:
        """The collated batch of ``indices`` in one read of the feature map (the values
        of ``default_collate([self[i] for i in indices])``), or None when the pipeline
        does more than pack ``feat`` (see :mod:`clbox.scenarios.batched`)."""
        if not self._fully_initialized:
            self.full_init()
        if pack_only_input_key(self.pipeline) != 'feat':
            return None
        pack = self.pipeline.transforms[0]
        cache = self.__dict__.get('_batch_cache')
        if cache is None or cache[0] is not self.data_list:
            cache = (self.data_list,
                     np.array([d['row'] for d in self.data_list], dtype=np.int64),
                     np.array([d['gt_label'] for d in self.data_list], dtype=np.int64))
            self.__dict__['_batch_cache'] = cache
        idx = np.asarray(indices, dtype=np.int64)
        feats = np.asarray(self._features.array[cache[1][idx]], dtype=np.float32)
        per_sample = {'img_path': [self.data_list[i]['img_path'] for i in idx]} \
            if 'img_path' in pack.meta_keys else {}
        return dict(inputs=torch.from_numpy(feats),
                    data_samples=LabelBatch(
                        torch.from_numpy(cache[2][idx]),
                        idx if 'sample_idx' in pack.meta_keys else None,
                        per_sample=per_sample))


class FeatureWriter:
    """Write rows of a feature folder, resumably, with plain positioned writes.

    The array file is preallocated when created, so a disk that cannot hold it fails at
    once with ``OSError(ENOSPC)`` instead of hours later (and never with the SIGBUS a
    memory-mapped write to a full disk gives). Rows are marked done only after
    :meth:`commit` has synced them to disk.

    Args:
        folder (str): Output folder.
        records (list[dict]): One ``dict(path, label, bucket, split)`` per row.
        dim (int): Feature length.
        extra (dict, optional): More fields for ``index.json`` (config, classes, ...).

    Raises:
        ValueError: If the folder holds features of other images or another length.
    """

    def __init__(self, folder: str, records: Sequence[dict], dim: int,
                 extra: Optional[dict] = None):
        self.folder, self.dim, self.count = folder, int(dim), len(records)
        os.makedirs(folder, exist_ok=True)
        index = dict(dim=self.dim, count=self.count, dtype='float16',
                     paths=[r['path'] for r in records],
                     labels=[int(r['label']) for r in records],
                     buckets=[str(r['bucket']) for r in records],
                     splits=[str(r.get('split', '')) for r in records], **(extra or {}))
        index_path = osp.join(folder, INDEX_FILE)
        if osp.isfile(index_path):
            with open(index_path) as f:
                old = json.load(f)
            if old['paths'] != index['paths'] or int(old['dim']) != self.dim:
                raise ValueError(f'"{folder}" holds features of other images or of another '
                                 'length; pick a new --out or delete the folder.')
        self.path = osp.join(folder, FEATURES_FILE)
        nbytes = self.count * self.dim * 2
        reuse = osp.isfile(self.path) and osp.getsize(self.path) == nbytes
        self.done = done_mask(folder, self.count) if reuse else \
            np.zeros(self.count, dtype=bool)
        self._pending = np.zeros(0, dtype=np.int64)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT)
        self.created = not reuse
        if not reuse:
            try:
                os.ftruncate(self._fd, 0)
                _preallocate(self._fd, nbytes)
                save_done(folder, self.done)
            except OSError:
                self.remove()
                raise
        if not osp.isfile(index_path):
            with open(index_path + '.tmp', 'w') as f:
                json.dump(index, f)
            os.replace(index_path + '.tmp', index_path)

    def write(self, rows: np.ndarray, features: np.ndarray) -> None:
        """Write ``features`` (len(rows), D) to ``rows`` (not yet marked done)."""
        data = np.ascontiguousarray(features, dtype=np.float16)
        if data.shape != (len(rows), self.dim):
            raise ValueError(f'expected features of shape ({len(rows)}, {self.dim}), got '
                             f'{data.shape}.')
        row_bytes = self.dim * 2
        for row, vec in zip(rows, data):
            os.pwrite(self._fd, vec.tobytes(), int(row) * row_bytes)
        self._pending = np.concatenate([self._pending, np.asarray(rows, dtype=np.int64)])

    def commit(self) -> None:
        """Sync written rows to disk, then mark them done."""
        if len(self._pending):
            os.fsync(self._fd)
            self.done[self._pending] = True
            save_done(self.folder, self.done)
            self._pending = np.zeros(0, dtype=np.int64)

    def close(self) -> None:
        """Commit and close the array file."""
        if self._fd is not None:
            self.commit()
            os.close(self._fd)
            self._fd = None

    def remove(self) -> None:
        """Close and delete the array, the done mask and the index (a failed extraction)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        for name in (FEATURES_FILE, DONE_FILE, INDEX_FILE, DONE_FILE + '.tmp.npy',
                     INDEX_FILE + '.tmp'):
            path = osp.join(self.folder, name)
            if osp.exists(path):
                os.remove(path)


def _preallocate(fd: int, nbytes: int) -> None:
    """Reserve ``nbytes`` on disk (raises OSError ENOSPC when they do not fit)."""
    if nbytes == 0:
        return
    try:
        os.posix_fallocate(fd, 0, nbytes)
    except OSError as e:
        if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
        zeros = bytes(1 << 20)  # the filesystem cannot reserve: write zeros instead
        for offset in range(0, nbytes, len(zeros)):
            os.pwrite(fd, zeros[:min(len(zeros), nbytes - offset)], offset)


def save_done(folder: str, mask: np.ndarray) -> None:
    """Atomically write the done mask of a feature folder."""
    tmp = osp.join(folder, DONE_FILE + '.tmp.npy')
    np.save(tmp, mask)
    os.replace(tmp, osp.join(folder, DONE_FILE))
