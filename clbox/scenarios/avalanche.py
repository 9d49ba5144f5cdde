"""Avalanche benchmarks as clbox scenarios: every experience becomes an mm dataset.

Avalanche's own transforms are dropped (``replace_current_transform_group(None)``) and
each sample is converted to what mm pipelines expect (``dict(img=HxWxC uint8,
gt_label=int, task_label=int)``), so the config's mm pipeline does all the
preprocessing. Avalanche is imported only when such a scenario is built.
"""
import importlib
from typing import Optional, Sequence

import numpy as np

from clbox.registry import DATASETS, SCENARIOS
from .base import BaseScenario, Experience
from .own_data import TorchDataset


@DATASETS.register_module()
class AvalancheExperienceDataset(TorchDataset):
    """An mm dataset over an Avalanche (or any indexable ``(x, y[, t])``) dataset: a
    :class:`~clbox.scenarios.own_data.TorchDataset` without Avalanche's transforms, with
    the task label of ``(x, y, t)`` items.

    Args:
        dataset: The source dataset; Avalanche transforms are removed.
        pipeline (list): mm transforms. Defaults to [].
        classes (Sequence[str], optional): Class names for the metainfo. Defaults to None.
    """

    def __init__(self, dataset, pipeline: Sequence = (), classes: Optional[Sequence] = None):
        if hasattr(dataset, 'replace_current_transform_group'):
            dataset = dataset.replace_current_transform_group(None)
        super().__init__(dataset, pipeline=pipeline, classes=classes)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        item = self.source[int(info['sample_idx'])]
        info['task_label'] = int(item[2]) if len(item) > 2 else 0
        return info


def benchmark_factory(name: str):
    """The Avalanche benchmark factory called ``name``: a name in
    ``avalanche.benchmarks.classic`` / ``avalanche.benchmarks`` (classic benchmarks and
    generators such as ``nc_benchmark``, ``ni_benchmark``, ``benchmark_from_datasets``) or
    a dotted path.

    Raises:
        KeyError: Neither module has it.
    """
    if '.' in name:
        module, attr = name.rsplit('.', 1)
        return getattr(importlib.import_module(module), attr)
    for module in ('avalanche.benchmarks.classic', 'avalanche.benchmarks'):
        factory = getattr(importlib.import_module(module), name, None)
        if factory is not None:
            return factory
    raise KeyError(f"'{name}' is neither in avalanche.benchmarks.classic nor in "
                   'avalanche.benchmarks; give a dotted path to the factory.')


def _build_benchmark(cfg):
    """Call the factory named by ``type`` (:func:`benchmark_factory`); dataset arguments
    may be configs with a dotted ``type``."""
    cfg = dict(cfg)
    factory = benchmark_factory(cfg.pop('type'))
    return factory(**{k: _build_argument(v) for k, v in cfg.items()})


def _build_argument(value):
    """A generator argument: a dict whose ``type`` is a dotted path (a torchvision dataset,
    your own class) is built, lists of them too; anything else is passed as it is."""
    if isinstance(value, dict) and '.' in str(value.get('type', '')):
        from .own_data import import_dotted
        args = dict(value)
        return import_dotted(args.pop('type'))(**{k: _build_argument(v)
                                                  for k, v in args.items()})
    if isinstance(value, (list, tuple)):
        return type(value)(_build_argument(v) for v in value)
    return value


@SCENARIOS.register_module()
class AvalancheScenario(BaseScenario):
    """Wrap an Avalanche benchmark's train and test streams as mm datasets.

    Args:
        benchmark (dict | object): A built Avalanche benchmark, or
            ``dict(type='SplitMNIST', n_experiences=5, dataset_root=...)`` (any factory
            of ``avalanche.benchmarks.classic``, or a dotted path). Classic benchmarks
            download their data unless it is already under ``dataset_root``.
        pipeline (list): mm pipeline for training experiences. Defaults to PackInputs.
        test_pipeline (list, optional): mm pipeline for test experiences. Defaults to
            ``pipeline``.
    """

    def __init__(self, benchmark, pipeline: Sequence = (dict(type='PackInputs'), ),
                 test_pipeline: Optional[Sequence] = None):
        self.benchmark = _build_benchmark(benchmark) if isinstance(benchmark, dict) \
            else benchmark
        test_pipeline = pipeline if test_pipeline is None else test_pipeline
        self.train_stream = self._wrap(self.benchmark.train_stream, pipeline, 'train')
        self.test_stream = self._wrap(self.benchmark.test_stream, test_pipeline, 'test')

    @staticmethod
    def _wrap(stream, pipeline, name):
        out = []
        for i, exp in enumerate(stream):
            dataset = AvalancheExperienceDataset(exp.dataset, pipeline=pipeline)
            classes = getattr(exp, 'classes_in_this_experience', None)
            if classes is None:
                classes = np.unique(dataset.get_gt_labels()).tolist()
            out.append(Experience(i, dataset, tuple(int(c) for c in classes),
                                  task_label=int(getattr(exp, 'task_label', 0) or 0),
                                  name=f'{name}/{i}'))
        return out
