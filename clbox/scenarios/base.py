"""Experiences and scenarios: the stream abstraction every loop consumes.

A scenario owns two streams of :class:`Experience` (``train_stream`` and ``test_stream``).
Each experience wraps an mm dataset (with its pipeline) plus the metadata a continual method
needs: its index, the classes in it and its task label.
"""
import copy
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
from torch.utils.data import Dataset

from clbox.registry import DATASETS

DatasetLike = Union[Dataset, Dict[str, Any]]


@dataclass
class Experience:
    """One step of a stream.

    Args:
        index (int): Position in its stream.
        dataset (Dataset): The mm dataset of the step, pipeline included.
        classes (tuple[int]): Class ids present in the step.
        task_label (int): Task id (0 unless the scenario gives task labels).
        name (str): A readable name, e.g. ``'train/3'`` or ``'bucket-2004'``.
        meta (dict): Anything else a scenario wants to pass along (domain name, ...).
    """
    index: int
    dataset: Dataset
    classes: tuple = ()
    task_label: int = 0
    name: str = ''
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.dataset)


class BaseScenario:
    """A pair of streams and the class space they live in.

    Subclasses fill :attr:`train_stream` and :attr:`test_stream` in ``__init__``.

    Attributes:
        train_stream (list[Experience]): What the model trains on, in order.
        test_stream (list[Experience]): What it is evaluated on after each experience.
        num_classes (int): Size of the label space (max label + 1 over both streams).
    """

    train_stream: List[Experience]
    test_stream: List[Experience]

    @property
    def num_experiences(self) -> int:
        """Number of training experiences."""
        return len(self.train_stream)

    @property
    def num_classes(self) -> int:
        classes = [c for exp in self.train_stream + self.test_stream for c in exp.classes]
        return int(max(classes)) + 1 if classes else 0

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(train={[len(e) for e in self.train_stream]}, '
                f'test={[len(e) for e in self.test_stream]}, num_classes={self.num_classes})')


def build_dataset(cfg: DatasetLike) -> Dataset:
    """Build a dataset from a config dict; a built mm dataset is returned unchanged and a
    plain torch dataset of (image, label) pairs (``TensorDataset``, torchvision's, your own)
    is wrapped in :class:`~clbox.scenarios.own_data.TorchDataset`."""
    if isinstance(cfg, dict):
        return DATASETS.build(copy.deepcopy(cfg))
    from .own_data import as_mm_dataset
    return as_mm_dataset(cfg)


def dataset_labels(dataset: Dataset, key: str = 'gt_label') -> np.ndarray:
    """Labels (or any per-sample metadata ``key``) of a dataset, without loading images.

    Uses ``get_gt_labels`` (mmpretrain) when asking for labels, otherwise
    ``get_data_info(i)[key]`` (mmengine), otherwise ``dataset.targets`` (torchvision).

    Raises:
        KeyError: If the dataset does not expose ``key``.
    """
    if key == 'gt_label' and hasattr(dataset, 'get_gt_labels'):
        return np.asarray(dataset.get_gt_labels()).reshape(-1)
    if hasattr(dataset, 'get_data_info'):
        values = []
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            if key not in info:
                raise KeyError(f'{type(dataset).__name__} sample {i} has no "{key}" '
                               f'(it has {sorted(info)}); pick one of those keys.')
            values.append(info[key])
        return np.asarray(values).reshape(len(values), -1).squeeze(-1) \
            if values and np.ndim(values[0]) else np.asarray(values)
    if key == 'gt_label' and hasattr(dataset, 'targets'):
        return np.asarray(dataset.targets)
    raise KeyError(f'cannot read "{key}" from {type(dataset).__name__}: it has neither '
                   '`get_gt_labels`, `get_data_info` nor `targets`.')


def subset(dataset: Dataset, indices: Sequence[int]) -> Dataset:
    """A subset that stays an mm dataset when the source is one.

    mmengine's ``BaseDataset.get_subset`` keeps the pipeline and metainfo; other datasets
    fall back to :class:`torch.utils.data.Subset`.
    """
    indices = [int(i) for i in indices]
    if hasattr(dataset, 'get_subset'):
        return dataset.get_subset(indices)
    from torch.utils.data import Subset
    return Subset(dataset, indices)


def with_pipeline(dataset: Dataset, pipeline: Sequence) -> Dataset:
    """A view of ``dataset`` (same samples, shared storage) whose samples go through
    ``pipeline`` instead of its own. Works on mmengine datasets and on torch ``Subset`` /
    ``ConcatDataset`` of them.

    Raises:
        TypeError: For a dataset without an mm pipeline.
    """
    from torch.utils.data import ConcatDataset, Subset
    from mmengine.dataset import BaseDataset, Compose
    if isinstance(dataset, BaseDataset):
        view = copy.copy(dataset)
        view.pipeline = Compose(list(pipeline))
        view.__dict__.pop('_index_cache', None)
        return view
    if isinstance(dataset, Subset):
        return Subset(with_pipeline(dataset.dataset, pipeline), dataset.indices)
    if isinstance(dataset, ConcatDataset):
        return ConcatDataset([with_pipeline(d, pipeline) for d in dataset.datasets])
    raise TypeError(f'cannot give {type(dataset).__name__} another pipeline (it is not an '
                    'mmengine dataset); drop observe_pipeline or wrap the data in an mm '
                    'dataset.')


def check_labels(labels: np.ndarray, num_classes: Optional[int], where: str) -> None:
    """Raise a clear error when a label falls outside ``[0, num_classes)``.

    Args:
        labels (np.ndarray): Labels to check.
        num_classes (int, optional): Size of the label space; None skips the check.
        where (str): What the labels belong to, for the message.
    """
    if num_classes is None or len(labels) == 0:
        return
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if len(bad):
        raise ValueError(
            f'{where} has class id {int(bad[0])} outside [0, {num_classes}) '
            f'({len(bad)} samples). Set num_classes (and the head\'s num_classes) to at least '
            f'{int(labels.max()) + 1}, or fix the labels.')
