"""Every config under configs/ loads, every `type` in it resolves, and its model builds."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from clbox import registry as R
from helpers import ROOT

# training configs (the probe configs of tools/linear_probe.py are tested with the probe)
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p and f'{osp.sep}probes{osp.sep}' not in p)
REGISTRIES = [R.MODELS, R.SCENARIOS, R.DATASETS, R.TRANSFORMS, R.BUFFERS, R.HOOKS, R.LOOPS,
              R.EVALUATORS, R.METRICS, R.OPTIMIZERS, R.OPTIM_WRAPPERS, R.PARAM_SCHEDULERS,
              R.DATA_SAMPLERS, R.FUNCTIONS, R.VISUALIZERS, R.VISBACKENDS, R.RUNNERS,
              R.LOG_PROCESSORS, R.OPTIM_WRAPPER_CONSTRUCTORS, R.WEIGHT_INITIALIZERS]


def _types(node, path='cfg'):
    if isinstance(node, dict):
        if isinstance(node.get('type'), str):
            yield path, node['type']
        if isinstance(node.get('benchmark'), dict):   # an Avalanche factory, not a registry
            from clbox.scenarios.avalanche import benchmark_factory
            benchmark_factory(node['benchmark']['type'])
            node = dict(node, benchmark={k: v for k, v in node['benchmark'].items()
                                         if k != 'type'})
        for k, v in node.items():
            yield from _types(v, f'{path}.{k}')
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _types(v, f'{path}[{i}]')


def _resolves(name):
    for registry in REGISTRIES:
        if name in registry:
            return True
    if '.' in name:   # a dotted import path (TorchDataset's dataset, generator arguments)
        from clbox.scenarios.own_data import import_dotted
        try:
            import_dotted(name)
            return True
        except ImportError:
            return False
    return False


def test_there_are_configs():
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_config_loads_resolves_and_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'clbox'
    unresolved = [(where, t) for where, t in _types(cfg.to_dict()) if not _resolves(t)]
    assert not unresolved, f'unregistered types: {unresolved}'
    model = R.MODELS.build(cfg.model)
    assert hasattr(model, 'train_step')
    assert cfg.train_cfg.type in R.LOOPS and cfg.val_cfg.type in R.LOOPS
