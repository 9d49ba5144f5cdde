"""Datasets users bring: any torch dataset, torchvision datasets on disk, numpy files.

The scenarios (``ClassIncremental``, ``DomainIncremental``, ``InstanceIncremental``, ...)
split mm datasets: each item a dict that an mm pipeline turns into ``inputs`` and
``data_samples``, with labels readable without loading images. These wrappers make other
datasets into that:

* :class:`TorchDataset`: any map-style dataset of ``(image, label)`` pairs (a torchvision
  dataset, ``TensorDataset``, your own ``Dataset``): built from a dotted path in a config
  (``dataset=dict(type='torchvision.datasets.CIFAR10', root=..., download=False)``) or
  given built from Python. Images may be PIL images, HWC or CHW arrays / tensors; labels
  ints or 0-d tensors.
* :class:`NumpyDataset`: images and labels stored in a ``.npz`` / ``.npy`` pair.

``build_dataset`` wraps a plain torch dataset in :class:`TorchDataset` on its own, so a
``TensorDataset`` handed to a scenario works as it is.
"""
import importlib
import os.path as osp
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset

from clbox.registry import DATASETS


def import_dotted(path: str):
    """The object at a dotted path (``'torchvision.datasets.CIFAR10'``).

    Raises:
        ImportError: Naming the path, when the module or the name does not exist.
    """
    module, _, name = str(path).rpartition('.')
    if not module:
        raise ImportError(f'{path!r} is not a dotted path (e.g. '
                          "'torchvision.datasets.CIFAR10' or 'my_package.MyDataset').")
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise ImportError(f'cannot import {path!r}: {e}. Check the spelling, and that its '
                          'package is installed (or on PYTHONPATH).') from None
    return obj


def _ensure_scope() -> None:
    """Make 'clbox' the registry scope when none is set (a dataset built from Python,
    outside a runner, must still find ``PackInputs`` and the other transforms)."""
    from mmengine.registry import DefaultScope
    if DefaultScope.get_current_instance() is None:
        from clbox import init_scope
        init_scope()


def to_hwc_uint8(image) -> np.ndarray:
    """A PIL image, (H, W[, C]) or (C, H, W) array / tensor as an (H, W, C) uint8 array
    (floats in [0, 1] are scaled to 0..255)."""
    if hasattr(image, 'convert') and hasattr(image, 'mode'):        # PIL
        array = np.asarray(image.convert('RGB') if image.mode not in ('L', 'RGB')
                           else image)
    else:
        array = image.detach().cpu().numpy() if torch.is_tensor(image) else np.asarray(image)
        if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
            array = array.transpose(1, 2, 0)                        # CHW -> HWC
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(f'an image must be (H, W), (H, W, C) or (C, H, W); got shape '
                         f'{array.shape}.')
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and array.size and array.max() <= 1.0:
            array = array * 255.0
        array = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def _label(value) -> int:
    if torch.is_tensor(value) or isinstance(value, np.ndarray):
        count = value.size if isinstance(value, np.ndarray) else value.numel()
        if count != 1:
            raise ValueError(f'a label must be one class id; got shape {tuple(value.shape)} '
                             '(multi-label targets are not supported here).')
        value = value.item()
    if isinstance(value, (bool, float)) and float(value) != int(value):
        raise ValueError(f'a label must be an integer class id, got {value!r}.')
    return int(value)


@DATASETS.register_module()
class TorchDataset(BaseDataset):
    """An mm dataset over a map-style torch dataset of ``(image, label)`` pairs.

    Labels are read from the dataset's ``targets`` (torchvision) or ``tensors[1]``
    (``TensorDataset``) when it has them, else by reading every sample once at start-up.

    Args:
        dataset (dict | Dataset): The dataset, or ``dict(type='dotted.path', **kwargs)``.
        pipeline (list): mm transforms. Defaults to ``[PackInputs]``.
        label_key (int): Position of the label in each item. Defaults to 1.
        classes (Sequence[str], optional): Class names for the metainfo. Defaults to the
            dataset's ``classes`` when it has them.

    Raises:
        TypeError: ``dataset`` is not indexable with a length.
        ValueError: An item that is not an (image, label) pair.
    """

    def __init__(self, dataset, pipeline: Sequence = (dict(type='PackInputs'), ),
                 label_key: int = 1, classes: Optional[Sequence[str]] = None):
        _ensure_scope()
        if isinstance(dataset, dict):
            cfg = dict(dataset)
            dataset = import_dotted(cfg.pop('type'))(**cfg)
        if not (hasattr(dataset, '__getitem__') and hasattr(dataset, '__len__')):
            raise TypeError(f'TorchDataset needs a map-style dataset (with __getitem__ and '
                            f'__len__); got {type(dataset).__name__}.')
        self.source, self.label_key = dataset, int(label_key)
        names = classes if classes is not None else getattr(dataset, 'classes', None)
        metainfo = dict(classes=tuple(names)) if names is not None and not isinstance(
            names, str) else None
        super().__init__(metainfo=metainfo, pipeline=list(pipeline), serialize_data=False,
                         lazy_init=False)

    def load_data_list(self):
        labels = self._labels()
        return [dict(gt_label=int(y), sample_idx=i) for i, y in enumerate(labels)]

    def _labels(self) -> np.ndarray:
        source = self.source
        targets = getattr(source, 'targets', None)
        if targets is None and isinstance(source, torch.utils.data.TensorDataset):
            targets = source.tensors[self.label_key] if len(source.tensors) > 1 else None
        if targets is not None:
            return np.asarray([_label(t) for t in targets], dtype=np.int64)
        return np.asarray([_label(self._item(i)[1]) for i in range(len(source))],
                          dtype=np.int64)

    def _item(self, idx: int):
        item = self.source[idx]
        if not isinstance(item, (tuple, list)) or len(item) <= self.label_key:
            raise ValueError(f'{type(self.source).__name__}[{idx}] is a '
                             f'{type(item).__name__}, not an (image, label) pair: TorchDataset '
                             'reads image = item[0], label = item[label_key].')
        return item[0], item[self.label_key]

    def get_data_info(self, idx: int) -> dict:
        info = dict(super().get_data_info(idx))
        image, _ = self._item(int(info['sample_idx']))
        info['img'] = to_hwc_uint8(image)
        info['img_shape'] = info['ori_shape'] = info['img'].shape[:2]
        return info

    def get_gt_labels(self) -> np.ndarray:
        return np.array([d['gt_label'] for d in self.data_list], dtype=np.int64)


@DATASETS.register_module()
class NumpyDataset(BaseDataset):
    """Images and labels from numpy files: one ``.npz`` holding both arrays, or an images
    ``.npy`` and a labels ``.npy``.

    Args:
        path (str): The ``.npz`` file, or the images ``.npy``.
        labels_path (str, optional): The labels ``.npy`` (with an images ``.npy``).
        images_key (str): Array name in the ``.npz``. Defaults to 'images'.
        labels_key (str): Defaults to 'labels'.
        pipeline (list): mm transforms. Defaults to ``[PackInputs]``.

    Raises:
        FileNotFoundError: A missing file.
        KeyError: An array name the ``.npz`` lacks (the message lists its names).
        ValueError: Images and labels of different lengths.
    """

    def __init__(self, path: str, labels_path: Optional[str] = None,
                 images_key: str = 'images', labels_key: str = 'labels',
                 pipeline: Sequence = (dict(type='PackInputs'), )):
        for p in (path, labels_path):
            if p is not None and not osp.isfile(p):
                raise FileNotFoundError(f'NumpyDataset: "{p}" does not exist.')
        if path.endswith('.npz'):
            with np.load(path) as data:
                missing = [k for k in (images_key, labels_key) if k not in data.files]
                if missing:
                    raise KeyError(f'NumpyDataset: "{path}" has no array {missing}; it holds '
                                   f'{data.files}: set images_key / labels_key.')
                images, labels = data[images_key], data[labels_key]
        else:
            if labels_path is None:
                raise ValueError(f'NumpyDataset: "{path}" is not an .npz; give labels_path '
                                 '(the labels .npy) too.')
            images, labels = np.load(path), np.load(labels_path)
        labels = np.asarray(labels).reshape(-1)
        if len(images) != len(labels):
            raise ValueError(f'NumpyDataset: {len(images)} images but {len(labels)} labels.')
        self.images = images
        self.labels = labels.astype(np.int64)
        _ensure_scope()
        super().__init__(pipeline=list(pipeline), serialize_data=False, lazy_init=False)

    def load_data_list(self):
        return [dict(gt_label=int(y), sample_idx=i) for i, y in enumerate(self.labels)]

    def get_data_info(self, idx: int) -> dict:
        info = dict(super().get_data_info(idx))
        info['img'] = to_hwc_uint8(self.images[int(info['sample_idx'])])
        info['img_shape'] = info['ori_shape'] = info['img'].shape[:2]
        return info

    def get_gt_labels(self) -> np.ndarray:
        return self.labels.copy()


def as_mm_dataset(dataset: Union[BaseDataset, torch.utils.data.Dataset]):
    """``dataset`` itself when it is an mm dataset (or yields dicts already, as subsets and
    concatenations of mm datasets do), else wrapped in :class:`TorchDataset`."""
    if isinstance(dataset, BaseDataset) or hasattr(dataset, 'get_data_info') or \
            hasattr(dataset, 'get_gt_labels'):
        return dataset
    if hasattr(dataset, '__getitem__') and hasattr(dataset, '__len__'):
        if len(dataset) and isinstance(dataset[0], dict):
            return dataset
        return TorchDataset(dataset)
    raise TypeError(f'a scenario needs a dataset (a config dict, an mm dataset or a torch '
                    f'Dataset of (image, label) pairs); got {type(dataset).__name__}.')
