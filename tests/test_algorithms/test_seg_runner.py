"""A synthetic continual-segmentation config runs through the runner, and every config of
configs/continual_seg builds its model, scenario-free."""
import glob
import json
import os.path as osp

import pytest
from mmengine.config import Config

from clbox.registry import MODELS
from helpers import ROOT, build_runner

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs/continual_seg/*.py')))


def test_synthetic_mib_through_the_runner(tmp_path, monkeypatch):
    monkeypatch.setenv('CLBOX_CACHE', str(tmp_path / 'cache'))
    cfg = Config.fromfile(osp.join(ROOT, 'configs/continual_seg/'
                                         'mib_deeplabv3-tiny_1xb16-4e_synthetic-2-2.py'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.scenario.update(num_train=16, num_test=8)
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.logger.interval = 1000
    cfg.log_level = 'WARNING'
    build_runner(cfg).train()
    with open(osp.join(cfg.work_dir, 'results.json')) as f:
        history = json.load(f)['history']
    assert [h['experience'] for h in history] == [0, 1]
    assert {'mIoU_base', 'mIoU_new', 'mIoU_all'} <= set(history[1]['metrics'])
    assert 'mIoU_new' not in history[0]['metrics']


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_its_algorithm(path):
    cfg = Config.fromfile(path)
    if 'r101' in path:  # no download: same algorithm on the tiny model
        tiny = Config.fromfile(osp.join(ROOT, 'configs/_base_/models/deeplabv3_tiny_seg.py'))
        num_classes = cfg.model.model.decode_head.num_classes
        cfg.model.model = tiny.model.model
        cfg.model.model.decode_head.num_classes = num_classes
    alg = MODELS.build(cfg.model)
    assert alg.num_classes == cfg.model.model.decode_head.num_classes
