"""Class-, domain- and instance-incremental splits of any mm dataset."""
from typing import List, Optional, Sequence, Union

import numpy as np

from clbox.registry import SCENARIOS
from .base import (BaseScenario, DatasetLike, Experience, build_dataset, check_labels,
                   dataset_labels, subset)


def _class_groups(classes: np.ndarray, num_experiences: Optional[int],
                  classes_per_experience: Union[int, Sequence[int], None]) -> List[np.ndarray]:
    """Cut an ordered class list into consecutive groups."""
    if classes_per_experience is not None:
        sizes = ([classes_per_experience] * int(np.ceil(len(classes) / classes_per_experience))
                 if isinstance(classes_per_experience, int) else list(classes_per_experience))
        if sum(sizes) != len(classes):
            raise ValueError(f'classes_per_experience {sizes} sums to {sum(sizes)} but the '
                             f'dataset has {len(classes)} classes.')
    elif num_experiences is not None:
        if not 0 < num_experiences <= len(classes):
            raise ValueError(f'num_experiences={num_experiences} must be in '
                             f'[1, {len(classes)}] (the number of classes).')
        base, extra = divmod(len(classes), num_experiences)
        sizes = [base + (i < extra) for i in range(num_experiences)]
    else:
        raise ValueError('give num_experiences or classes_per_experience.')
    bounds = np.cumsum([0] + sizes)
    return [classes[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


@SCENARIOS.register_module()
class ClassIncremental(BaseScenario):
    """New classes arrive with each experience (Avalanche's ``nc_benchmark``).

    Train and test sets are split by the same class groups; experience ``i`` of the test
    stream holds the test samples of the classes of training experience ``i``.

    Args:
        train (dict | Dataset): Training set (config or built).
        test (dict | Dataset): Test set (config or built).
        num_experiences (int, optional): Number of experiences; classes are spread as evenly
            as possible. Defaults to None.
        classes_per_experience (int | list[int], optional): Classes per experience, instead
            of ``num_experiences``. Defaults to None.
        class_order (list[int], optional): Fixed class order. Defaults to None (sorted, or
            seeded random if ``shuffle``).
        shuffle (bool): Shuffle the class order with ``seed`` when no order is given.
            Defaults to False.
        seed (int): Seed of the class order. Defaults to 0.
        task_labels (bool): Give experience ``i`` task label ``i`` (task-incremental).
            Defaults to False.
        num_classes (int, optional): Size of the label space, checked against the labels.
            Defaults to None (inferred).
    """

    def __init__(self, train: DatasetLike, test: DatasetLike,
                 num_experiences: Optional[int] = None,
                 classes_per_experience: Union[int, Sequence[int], None] = None,
                 class_order: Optional[Sequence[int]] = None, shuffle: bool = False,
                 seed: int = 0, task_labels: bool = False, num_classes: Optional[int] = None):
        train_set, test_set = build_dataset(train), build_dataset(test)
        train_labels, test_labels = dataset_labels(train_set), dataset_labels(test_set)
        check_labels(train_labels, num_classes, f'training set {type(train_set).__name__}')
        check_labels(test_labels, num_classes, f'test set {type(test_set).__name__}')
        present = np.unique(train_labels)
        if class_order is not None:
            order = np.asarray(class_order)
            if sorted(order.tolist()) != present.tolist():
                raise ValueError(f'class_order {order.tolist()} must be a permutation of the '
                                 f'training classes {present.tolist()}.')
        else:
            order = np.random.RandomState(seed).permutation(present) if shuffle else present
        self.class_order = order.tolist()
        self.groups = _class_groups(order, num_experiences, classes_per_experience)
        self.train_stream = self._split(train_set, train_labels, task_labels, 'train')
        self.test_stream = self._split(test_set, test_labels, task_labels, 'test')

    def _split(self, dataset, labels, task_labels: bool, stream: str) -> List[Experience]:
        return [Experience(i, subset(dataset, np.flatnonzero(np.isin(labels, group))),
                           classes=tuple(int(c) for c in group),
                           task_label=i if task_labels else 0, name=f'{stream}/{i}')
                for i, group in enumerate(self.groups)]


def _partition(dataset, key: Optional[str], order: Optional[Sequence], num_parts: Optional[int],
               seed: int) -> List[tuple]:
    """Split a dataset into (name, indices) parts by a metadata key or at random."""
    if key is not None:
        values = dataset_labels(dataset, key)
        names = list(order) if order is not None else sorted(np.unique(values).tolist())
        return [(str(v), np.flatnonzero(values == v)) for v in names]
    if num_parts is None:
        raise ValueError('give `key` (a per-sample metadata key) or `num_experiences`.')
    perm = np.random.RandomState(seed).permutation(len(dataset))
    return [(str(i), np.sort(part)) for i, part in enumerate(np.array_split(perm, num_parts))]


def _experiences(sets: list, stream: str) -> List[Experience]:
    exps = []
    for i, (name, dataset) in enumerate(sets):
        labels = dataset_labels(dataset)
        exps.append(Experience(i, dataset, tuple(int(c) for c in np.unique(labels)),
                               name=f'{stream}/{name}', meta=dict(domain=name)))
    return exps


def _stream(cfg, key, order, num_parts, seed) -> List[tuple]:
    if isinstance(cfg, (list, tuple)):
        return [(str(i), build_dataset(c)) for i, c in enumerate(cfg)]
    dataset = build_dataset(cfg)
    return [(name, subset(dataset, idx))
            for name, idx in _partition(dataset, key, order, num_parts, seed)]


@SCENARIOS.register_module()
class DomainIncremental(BaseScenario):
    """The same classes in new domains: one experience per dataset or per metadata value.

    Args:
        train (list | dict | Dataset): One dataset per experience, or one dataset split by
            ``key``.
        test (list | dict | Dataset): Same form as ``train``.
        key (str, optional): Per-sample metadata key (``get_data_info(i)[key]``) that names
            the domain. Defaults to None.
        order (list, optional): Order of the domain values. Defaults to sorted.
    """

    def __init__(self, train, test, key: Optional[str] = None,
                 order: Optional[Sequence] = None):
        self.train_stream = _experiences(_stream(train, key, order, None, 0), 'train')
        self.test_stream = _experiences(_stream(test, key, order, None, 0), 'test')


@SCENARIOS.register_module()
class InstanceIncremental(BaseScenario):
    """New instances of the known classes with each experience (NI).

    Training data is split per dataset, per metadata ``key`` or at random into
    ``num_experiences`` seeded parts; the test set is one experience unless it is given per
    experience or ``split_test`` is set.

    Args:
        train (list | dict | Dataset): Datasets per experience, or one dataset to split.
        test (list | dict | Dataset): The test set(s).
        num_experiences (int, optional): Random parts when no ``key``. Defaults to None.
        key (str, optional): Metadata key to split on. Defaults to None.
        split_test (bool): Split the test set the same way as training. Defaults to False.
        seed (int): Seed of the random split. Defaults to 0.
    """

    def __init__(self, train, test, num_experiences: Optional[int] = None,
                 key: Optional[str] = None, split_test: bool = False, seed: int = 0):
        self.train_stream = _experiences(_stream(train, key, None, num_experiences, seed),
                                         'train')
        if isinstance(test, (list, tuple)) or split_test:
            self.test_stream = _experiences(
                _stream(test, key, None, num_experiences, seed + 1), 'test')
        else:
            self.test_stream = _experiences([('all', build_dataset(test))], 'test')


@SCENARIOS.register_module()
class OnlineStream(BaseScenario):
    """A single pass of small mini-batches over another scenario's training stream.

    The online loop reads ``batch_size`` and ``boundaries``; the test stream is the wrapped
    scenario's.

    Args:
        scenario (dict | BaseScenario): The scenario to stream.
        batch_size (int): Incoming mini-batch size. Defaults to 10.
        boundaries (str): ``'given'`` (the method's ``before_experience`` /
            ``after_experience`` run at experience changes) or ``'hidden'`` (they never run:
            the method sees one long stream; evaluation still happens per experience).
            Defaults to 'given'.
        shuffle (bool): Shuffle samples within each experience. Defaults to True.
    """

    def __init__(self, scenario, batch_size: int = 10, boundaries: str = 'given',
                 shuffle: bool = True):
        if boundaries not in ('given', 'hidden'):
            raise ValueError(f"boundaries must be 'given' or 'hidden', got {boundaries!r}.")
        self.scenario = SCENARIOS.build(scenario) if isinstance(scenario, dict) else scenario
        self.batch_size = batch_size
        self.boundaries = boundaries
        self.shuffle = shuffle
        self.train_stream = self.scenario.train_stream
        self.test_stream = self.scenario.test_stream
