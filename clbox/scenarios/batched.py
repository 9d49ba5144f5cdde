"""Batched fetch: a whole mini-batch of an in-memory dataset in a few tensor operations.

mmengine datasets return one sample at a time: ``get_data_info`` -> pipeline ->
``PackInputs`` -> one ``DataSample`` per sample, then the collate function stacks them.
For an in-memory dataset (embedded digits, (Fashion-)MNIST, pre-extracted features) whose
pipeline only packs, that is ~20 us of Python per sample, more than a small model's step.

Here a dataset that can gather a batch itself implements ``fetch_batch(indices)``, and
the loaders (:func:`clbox.engine.utils.build_loader`) ask for whole batches through
:class:`BatchFetchView` (PyTorch's ``__getitems__`` protocol). The batch holds the same
values the per-sample path gives (the stacked, ``PackInputs``-formatted inputs) with a
:class:`LabelBatch` as ``data_samples``: one (B,) label tensor instead of B data
elements. Indexing or iterating a ``LabelBatch`` gives mmpretrain ``DataSample`` objects,
so code written for lists of data samples keeps working; the methods' hot paths read
``LabelBatch.gt_label`` directly. Datasets with any other pipeline keep the per-sample
path and their mm transforms.
"""
import bisect
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset


class LabelBatch:
    """The data samples of a batch as one (B,) label tensor plus metadata.

    Args:
        gt_label (Tensor): (B,) int64 class ids.
        sample_idx (Sequence[int], optional): Each sample's index in its dataset (e.g.
            an int array, kept as given).
        metainfo (dict, optional): Metadata shared by every sample (``img_shape``, ...).
        per_sample (dict, optional): Metadata with one value per sample (``img_path``, ...).
    """

    def __init__(self, gt_label: torch.Tensor, sample_idx: Optional[Sequence[int]] = None,
                 metainfo: Optional[dict] = None, per_sample: Optional[Dict[str, list]] = None):
        self.gt_label = gt_label.reshape(-1)
        self.sample_idx = sample_idx
        self.metainfo = dict(metainfo or {})
        self.per_sample = dict(per_sample or {})

    def __len__(self) -> int:
        return len(self.gt_label)

    def _sample(self, i: int):
        from mmpretrain.structures import DataSample
        meta = dict(self.metainfo)
        meta.update({k: v[i] for k, v in self.per_sample.items()})
        if self.sample_idx is not None:
            meta['sample_idx'] = int(self.sample_idx[i])
        return DataSample(metainfo=meta).set_gt_label(self.gt_label[i:i + 1])

    def __getitem__(self, index):
        if isinstance(index, slice):
            rows = range(len(self))[index]
            return LabelBatch(self.gt_label[index],
                              None if self.sample_idx is None else self.sample_idx[index],
                              self.metainfo, {k: v[index] for k, v in self.per_sample.items()}) \
                if rows.step == 1 else [self._sample(i) for i in rows]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f'LabelBatch index {index} out of range for {len(self)} samples')
        return self._sample(index)

    def __iter__(self):
        return (self._sample(i) for i in range(len(self)))

    def to_data_samples(self) -> list:
        """One mmpretrain ``DataSample`` per sample (what ``PackInputs`` gives)."""
        return list(self)

    def to(self, *args, **kwargs) -> 'LabelBatch':
        """The labels moved (``Tensor.to`` arguments): a copy, or self when they stay."""
        moved = self.gt_label.to(*args, **kwargs)
        if moved is self.gt_label:
            return self
        return LabelBatch(moved, self.sample_idx, self.metainfo,
                          self.per_sample)

    def pin_memory(self) -> 'LabelBatch':
        """A copy with the labels in pinned memory (for ``DataLoader(pin_memory=True)``)."""
        return LabelBatch(self.gt_label.pin_memory(), self.sample_idx, self.metainfo,
                          self.per_sample)

    def __repr__(self) -> str:
        return f'LabelBatch({len(self)} samples, gt_label={self.gt_label.tolist()[:8]}...)'


class PackedBatch(dict):
    """What :meth:`BatchFetchView.__getitems__` returns for a batched fetch: an already
    collated batch, which :class:`PackedAwareCollate` passes through."""


class PackedAwareCollate:
    """A collate function that passes :class:`PackedBatch` through and collates the rest.

    Args:
        collate_fn (callable): The collate function of per-sample batches.
    """

    def __init__(self, collate_fn):
        self.collate_fn = collate_fn

    def __call__(self, data):
        if isinstance(data, PackedBatch):
            return dict(data)
        return self.collate_fn(data)


def pack_only_input_key(pipeline) -> Optional[str]:
    """The input key when ``pipeline`` is a single default ``PackInputs`` (what a batched
    fetch reproduces), else None (the per-sample path must run the pipeline).

    Args:
        pipeline: An mmengine ``Compose`` (or anything with ``transforms``).
    """
    transforms = getattr(pipeline, 'transforms', None)
    if transforms is None or len(transforms) != 1:
        return None
    from mmpretrain.datasets.transforms import PackInputs
    pack = transforms[0]
    if type(pack) is not PackInputs or tuple(pack.algorithm_keys):
        return None
    return pack.input_key


def format_inputs(array: np.ndarray) -> torch.Tensor:
    """A batch of raw inputs as ``PackInputs`` formats each sample, stacked: (B, H, W)
    uint8 and (B, H, W, C) images become (B, C, H, W); anything else keeps its shape.

    The result has the default (row-major) strides that stacking per-sample tensors
    gives: a permuted view with one channel also counts as contiguous, but its strides
    make convolutions pick a channels-last kernel with other rounding.
    """
    if array.ndim == 3 and array.dtype == np.uint8:   # grayscale HxW images
        array = array[:, None]
    elif array.ndim == 4 and array.shape[3] == 1:
        array = array.reshape(array.shape[0], 1, *array.shape[1:3])
    elif array.ndim == 4:
        array = array.transpose(0, 3, 1, 2)
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.stride() != _row_major_strides(tensor.shape):
        tensor = torch.empty(tensor.shape, dtype=tensor.dtype).copy_(tensor)
    return tensor


def _row_major_strides(shape) -> tuple:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def fetch_batch(dataset: Dataset, indices: Sequence[int]) -> Optional[dict]:
    """A collated batch of ``dataset[indices]`` in one go, or None when the dataset (or a
    part of it) cannot fetch batches.

    Handles datasets with a ``fetch_batch`` method, and torch ``Subset`` and
    ``ConcatDataset`` over such datasets (the order of ``indices`` is kept).
    """
    own = getattr(dataset, 'fetch_batch', None)
    if own is not None:
        return own(indices)
    if isinstance(dataset, Subset):
        return fetch_batch(dataset.dataset, [dataset.indices[i] for i in indices])
    if isinstance(dataset, ConcatDataset):
        return _fetch_concat(dataset, indices)
    return None


def _fetch_concat(dataset: ConcatDataset, indices: Sequence[int]) -> Optional[dict]:
    parts: Dict[int, List[int]] = {}
    rows: Dict[int, List[int]] = {}
    for row, idx in enumerate(indices):
        idx = int(idx) + (len(dataset) if idx < 0 else 0)
        d = bisect.bisect_right(dataset.cumulative_sizes, idx)
        offset = dataset.cumulative_sizes[d - 1] if d else 0
        parts.setdefault(d, []).append(idx - offset)
        rows.setdefault(d, []).append(row)
    batches = []
    for d, local in parts.items():
        batch = fetch_batch(dataset.datasets[d], local)
        if batch is None:
            return None
        batches.append(batch)
    if len(batches) == 1:
        return batches[0]
    return _reorder(batches, [r for d in parts for r in rows[d]])


def _reorder(batches: List[dict], order: List[int]) -> Optional[dict]:
    """Concatenate batches, then put row ``order[k]`` of the result at position k's
    original place."""
    inputs = [b['inputs'] for b in batches]
    if any(x.shape[1:] != inputs[0].shape[1:] for x in inputs):
        return None
    perm = torch.empty(len(order), dtype=torch.long)
    perm[torch.tensor(order)] = torch.arange(len(order))
    samples = [b['data_samples'] for b in batches]
    labels = torch.cat([s.gt_label for s in samples])[perm]
    idx = [i for s in samples
           for i in (list(s.sample_idx) if s.sample_idx is not None else [None] * len(s))]
    per_sample = {}
    for key in samples[0].per_sample:
        values = [v for s in samples for v in s.per_sample.get(key, [None] * len(s))]
        per_sample[key] = [values[int(p)] for p in perm]
    meta = {k: v for k, v in samples[0].metainfo.items()
            if all(s.metainfo.get(k) == v for s in samples)}
    return dict(inputs=torch.cat(inputs)[perm],
                data_samples=LabelBatch(labels, [idx[int(p)] for p in perm], meta, per_sample))


class BatchFetchView(Dataset):
    """A dataset view whose ``__getitems__`` fetches whole batches when it can.

    Everything else (``len``, indexing, attributes such as ``metainfo``) is the wrapped
    dataset's.

    Args:
        dataset (Dataset): The dataset.
    """

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index):
        return self.dataset[index]

    def __getitems__(self, indices):
        batch = fetch_batch(self.dataset, indices)
        if batch is None:
            return [self.dataset[i] for i in indices]
        return PackedBatch(batch)

    def __getattr__(self, name):
        if name == 'dataset':
            raise AttributeError(name)
        return getattr(self.dataset, name)


def can_fetch_batches(dataset: Dataset) -> bool:
    """Whether :func:`fetch_batch` works on ``dataset`` (tried on its first sample)."""
    if len(dataset) == 0:
        return False
    try:
        return fetch_batch(dataset, [0]) is not None
    except NotImplementedError:
        return False


class BatchFetchLoader(DataLoader):
    """A ``DataLoader`` over a :class:`BatchFetchView` whose in-process iterator asks the
    batch sampler for indices and the dataset for the batch, and nothing else.

    PyTorch's single-process iterator adds a profiler range, iterable-dataset checks and
    per-call dispatch to every batch, which shows on a small model. This iterator draws
    the same seed from the global RNG at creation as PyTorch's (so runs stay
    bit-identical), pins memory when asked, and with workers the loader is PyTorch's.
    """

    def _get_iterator(self):
        if self.num_workers == 0:
            return _BatchFetchIter(self)
        return super()._get_iterator()


class _BatchFetchIter:
    """Iterator of :class:`BatchFetchLoader` in the main process."""

    def __init__(self, loader: DataLoader):
        # the draw torch's _BaseDataLoaderIter makes (it seeds IterableDataset workers)
        torch.empty((), dtype=torch.int64).random_(generator=loader.generator)
        self._indices = iter(loader.batch_sampler)
        self._fetch = loader.dataset.__getitems__
        self._collate = loader.collate_fn
        self._pin = loader.pin_memory and torch.cuda.is_available()
        self._length = len(loader)

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return self._length

    def __next__(self):
        batch = self._collate(self._fetch(next(self._indices)))
        if self._pin:
            from torch.utils.data._utils.pin_memory import pin_memory
            batch = pin_memory(batch)
        return batch
