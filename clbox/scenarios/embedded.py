"""Datasets that need no download: scikit-learn's digits and idx-file (Fashion-)MNIST.

All are :class:`ArrayDataset` subclasses: images live in one uint8 array shared by every
subset (splitting a scenario never copies pixels), and each sample is
``dict(img=HxWxC uint8, gt_label=int)`` before the pipeline, like mmpretrain's loaders give.
"""
import gzip
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.dataset import BaseDataset

from clbox.registry import DATASETS
from .batched import LabelBatch, format_inputs, pack_only_input_key


class _SharedArray:
    """Holds an array that ``copy.deepcopy`` shares instead of copying (for subsets)."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def __deepcopy__(self, memo):
        return self


@DATASETS.register_module()
class ArrayDataset(BaseDataset):
    """An mm dataset over in-memory arrays.

    Args:
        images (np.ndarray): (N, H, W) or (N, H, W, C) uint8 images.
        labels (Sequence[int]): N class ids.
        classes (Sequence[str], optional): Class names. Defaults to ``'0'..'K-1'``.
        pipeline (list): mm transforms. Defaults to [].
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self, images: np.ndarray, labels: Sequence[int],
                 classes: Optional[Sequence[str]] = None, pipeline: Sequence = (), **kwargs):
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        labels = np.asarray(labels, dtype=np.int64)
        if len(images) != len(labels):
            raise ValueError(f'{type(self).__name__}: {len(images)} images but '
                             f'{len(labels)} labels.')
        self._images = _SharedArray(images)
        self._labels = labels
        if classes is None:
            classes = [str(i) for i in range(int(labels.max()) + 1 if len(labels) else 0)]
        kwargs.setdefault('serialize_data', False)
        super().__init__(metainfo=dict(classes=tuple(classes)), pipeline=list(pipeline),
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        return [dict(array_idx=i, gt_label=int(label)) for i, label in enumerate(self._labels)]

    def get_data_info(self, idx: int) -> dict:
        # a shallow copy is enough (the entries hold ints) and avoids BaseDataset's
        # per-sample deepcopy on the training hot path
        info = dict(self.data_list[idx], sample_idx=idx)
        info['img'] = self._images.array[info['array_idx']]
        info['img_shape'] = info['ori_shape'] = info['img'].shape[:2]
        return info

    def get_gt_labels(self) -> np.ndarray:
        """Labels of every sample, in order."""
        return self._index()[1].copy()

    def _index(self):
        """(array index, label) of every sample as arrays, cached per data list."""
        cache = self.__dict__.get('_index_cache')
        if cache is None or cache[0] is not self.data_list:
            rows = np.array([d['array_idx'] for d in self.data_list], dtype=np.int64)
            labels = np.array([d['gt_label'] for d in self.data_list], dtype=np.int64)
            cache = (self.data_list, rows, labels)
            self.__dict__['_index_cache'] = cache
        return cache[1], cache[2]

    def fetch_batch(self, indices: Sequence[int]) -> Optional[dict]:
        """The collated batch of ``indices`` in one fancy-indexing step, or None when the
        pipeline does more than pack (see :mod:`clbox.scenarios.batched`).

        Same values as ``default_collate([self[i] for i in indices])``: (B, C, H, W)
        uint8 inputs and a :class:`~clbox.scenarios.batched.LabelBatch`.
        """
        if not self._fully_initialized:
            self.full_init()
        key = pack_only_input_key(self.pipeline)
        if key != 'img':
            return None
        pack = self.pipeline.transforms[0]
        idx = np.asarray(indices, dtype=np.int64)
        rows, labels = self._index()
        images = self._images.array[rows[idx]]
        shape = tuple(images.shape[1:3])
        meta = {k: shape for k in ('img_shape', 'ori_shape') if k in pack.meta_keys}
        return dict(inputs=format_inputs(images),
                    data_samples=LabelBatch(
                        torch.from_numpy(labels[idx]),
                        idx if 'sample_idx' in pack.meta_keys else None, meta))

    @property
    def images(self) -> np.ndarray:
        """Every image of this (sub)set, as one uint8 array."""
        return self._images.array[[d['array_idx'] for d in self.data_list]]


def _split_indices(n: int, split: str, test_ratio: float, seed: int) -> np.ndarray:
    order = np.random.RandomState(seed).permutation(n)
    n_test = int(round(n * test_ratio))
    if split == 'train':
        return np.sort(order[n_test:])
    if split == 'test':
        return np.sort(order[:n_test])
    if split == 'all':
        return np.arange(n)
    raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}.")


def load_digits_array():
    """scikit-learn's digits as ((1797, 8, 8) float pixels 0..16, (1797,) labels), read
    from the file scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``) without
    importing scikit-learn, whose import (scipy included) takes ~1.5 s; the same values
    as ``sklearn.datasets.load_digits``."""
    import importlib.util
    spec = importlib.util.find_spec('sklearn')
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError('Digits needs scikit-learn, which ships the data: '
                                  'pip install scikit-learn.')
    path = osp.join(list(spec.submodule_search_locations)[0], 'datasets', 'data',
                    'digits.csv.gz')
    with gzip.open(path, 'rt') as f:
        data = np.loadtxt(f, delimiter=',')
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)


@DATASETS.register_module()
class Digits(ArrayDataset):
    """scikit-learn's 1,797 8x8 handwritten digits, embedded in the package (no download).

    Pixel values 0..16 are scaled to 0..255 uint8. The train/test split is a seeded
    stratification-free random split.

    Args:
        split (str): 'train', 'test' or 'all'. Defaults to 'train'.
        test_ratio (float): Fraction held out for 'test'. Defaults to 0.2.
        seed (int): Seed of the split. Defaults to 0.
        pipeline (list): mm transforms. Defaults to [].
        upscale (int): Nearest-neighbour upscaling factor (4 gives 32x32 images).
            Defaults to 1.
    """

    def __init__(self, split: str = 'train', test_ratio: float = 0.2, seed: int = 0,
                 pipeline: Sequence = (), upscale: int = 1, **kwargs):
        if int(upscale) < 1:
            raise ValueError(f'Digits: upscale must be a positive integer, got {upscale}.')
        pixels, target = load_digits_array()
        images = np.round(pixels * (255.0 / 16.0)).astype(np.uint8)
        if upscale > 1:
            images = images.repeat(int(upscale), 1).repeat(int(upscale), 2)
        idx = _split_indices(len(images), split, test_ratio, seed)
        super().__init__(images[idx], target[idx], pipeline=pipeline, **kwargs)


def read_idx(path: str) -> np.ndarray:
    """Read an idx file (the MNIST format), gzipped or not.

    Raises:
        ValueError: If the file is not a valid idx file.
    """
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError(f'{path} is not an unsigned-byte idx file (bad magic number).')
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
    payload = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if payload.size != int(np.prod(shape)):
        raise ValueError(f'{path} is truncated: header says {shape}, found {payload.size} '
                         'bytes of data.')
    return payload.reshape(shape)


@DATASETS.register_module()
class MNIST(ArrayDataset):
    """MNIST from its idx files under ``data_root`` (``{train,t10k}-{images,labels}-idx?-ubyte[.gz]``).

    Args:
        data_root (str): Folder holding the four idx files.
        split (str): 'train' or 'test'. Defaults to 'train'.
        pipeline (list): mm transforms. Defaults to [].
    """

    CLASSES = tuple(str(i) for i in range(10))
    #: How to get the files when they are missing.
    SOURCE = 'the MNIST idx files (train/t10k images and labels)'

    def __init__(self, data_root: str, split: str = 'train', pipeline: Sequence = (),
                 **kwargs):
        if split not in ('train', 'test'):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
        prefix = 'train' if split == 'train' else 't10k'
        images = read_idx(self._find(data_root, f'{prefix}-images-idx3-ubyte'))
        labels = read_idx(self._find(data_root, f'{prefix}-labels-idx1-ubyte'))
        super().__init__(images, labels, classes=self.CLASSES, pipeline=pipeline, **kwargs)

    @classmethod
    def _find(cls, data_root: str, stem: str) -> str:
        if not osp.isdir(data_root):
            raise FileNotFoundError(
                f'{cls.__name__}: data_root "{data_root}" does not exist. Point data_root at '
                f'a folder with {cls.SOURCE}.')
        for name in (stem, stem + '.gz', stem.replace('-idx', '.idx'),
                     stem.replace('-idx', '.idx') + '.gz'):
            if osp.isfile(osp.join(data_root, name)):
                return osp.join(data_root, name)
        raise FileNotFoundError(
            f'{cls.__name__}: "{stem}[.gz]" not found in "{data_root}" (it holds '
            f'{sorted(os.listdir(data_root))[:10]}). Put {cls.SOURCE} there.')


@DATASETS.register_module()
class FashionMNIST(MNIST):
    """Fashion-MNIST from idx files (Debian's ``dataset-fashion-mnist`` installs them).

    Args: as :class:`MNIST`.
    """

    CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
               'Sneaker', 'Bag', 'Ankle boot')
    SOURCE = ('the Fashion-MNIST idx files (`apt-get install dataset-fashion-mnist` puts '
              'them under /usr/share/datasets/fashion-mnist)')
