"""Avalanche benchmarks as clbox scenarios: every experience becomes an mm dataset.

Avalanche's own transforms are dropped (``replace_current_transform_group(None)``) and
each sample is converted to what mm pipelines expect (``dict(img=HxWxC uint8,
gt_label=int, task_label=int)``), so the config's mm pipeline does all the
preprocessing. Avalanche is imported only when such a scenario is built.
"""
import importlib
from typing import Any, Optional, Sequence

import numpy as np
import torch
from mmengine.dataset import BaseDataset

from clbox.registry import DATASETS, SCENARIOS
from .base import BaseScenario, Experience


def to_hwc_uint8(x: Any) -> np.ndarray:
    """PIL image, CHW float tensor in [0, 1], CHW uint8 tensor or numpy array ->
    HxWxC uint8 numpy."""
    if isinstance(x, torch.Tensor):
        if x.dtype.is_floating_point:
            x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
        x = x.numpy()
        if x.ndim == 3:
            x = x.transpose(1, 2, 0)
    else:
        x = np.asarray(x)
        if x.dtype != np.uint8:
            x = (np.clip(x, 0, 1) * 255).round().astype(np.uint8) \
                if np.issubdtype(x.dtype, np.floating) else x.astype(np.uint8)
    return x[..., None] if x.ndim == 2 else x


@DATASETS.register_module()
class AvalancheExperienceDataset(BaseDataset):
    """An mm dataset over an Avalanche (or any indexable ``(x, y[, t])``) dataset.

    Args:
        dataset: The source dataset; Avalanche transforms are removed.
        pipeline (list): mm transforms. Defaults to [].
        classes (Sequence[str], optional): Class names for the metainfo. Defaults to None.
    """

    def __init__(self, dataset, pipeline: Sequence = (), classes: Optional[Sequence] = None):
        if hasattr(dataset, 'replace_current_transform_group'):
            dataset = dataset.replace_current_transform_group(None)
        self._source = dataset
        metainfo = dict(classes=tuple(classes)) if classes is not None else None
        super().__init__(metainfo=metainfo, pipeline=list(pipeline), serialize_data=False)

    def load_data_list(self):
        targets = getattr(self._source, 'targets', None)
        labels = [int(t) for t in targets] if targets is not None else \
            [int(self._source[i][1]) for i in range(len(self._source))]
        return [dict(source_idx=i, gt_label=y) for i, y in enumerate(labels)]

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        item = self._source[info['source_idx']]
        info['img'] = to_hwc_uint8(item[0])
        info['img_shape'] = info['ori_shape'] = info['img'].shape[:2]
        info['task_label'] = int(item[2]) if len(item) > 2 else 0
        return info

    def get_gt_labels(self) -> np.ndarray:
        return np.array([d['gt_label'] for d in self.data_list], dtype=np.int64)


def _build_benchmark(cfg):
    """Call an Avalanche benchmark factory named by ``type``: a name in
    ``avalanche.benchmarks.classic`` / ``avalanche.benchmarks`` or a dotted path."""
    cfg = dict(cfg)
    name = cfg.pop('type')
    if '.' in name:
        module, attr = name.rsplit('.', 1)
        factory = getattr(importlib.import_module(module), attr)
    else:
        factory = None
        for module in ('avalanche.benchmarks.classic', 'avalanche.benchmarks'):
            factory = getattr(importlib.import_module(module), name, None)
            if factory is not None:
                break
        if factory is None:
            raise KeyError(f"'{name}' is neither in avalanche.benchmarks.classic nor in "
                           'avalanche.benchmarks; give a dotted path to the factory.')
    return factory(**cfg)


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
