"""``tools/test.py --show-dir``: segmentation overlays beside unchanged metrics (issue 14)."""
import glob
import importlib.util
import json
import os.path as osp
import sys
import uuid

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from clbox.evaluation.seg_overlays import SegOverlayWriter, default_palette, overlay
from helpers import ROOT, build_runner

SYNTHETIC = osp.join(ROOT, 'configs/continual_seg/mib_deeplabv3-tiny_1xb16-4e_synthetic-2-2.py')


def _test_tool():
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    spec = importlib.util.spec_from_file_location('clbox_test_tool',
                                                  osp.join(ROOT, 'tools', 'test.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def seg_run(tmp_path_factory):
    import os
    tmp = tmp_path_factory.mktemp('seg')
    os.environ['CLBOX_CACHE'] = str(tmp / 'cache')
    cfg = Config.fromfile(SYNTHETIC)
    cfg.work_dir = str(tmp / 'work')
    cfg.experiment_name = f'test-{uuid.uuid4().hex[:12]}'
    cfg.scenario.update(num_train=16, num_test=6)
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.logger.interval = 1000
    cfg.log_level = 'WARNING'
    runner = build_runner(cfg)
    runner.train()
    sizes = [len(e.dataset) for e in runner.scenario.test_stream]
    yield cfg.work_dir, tmp, sizes
    os.environ.pop('CLBOX_CACHE', None)


def _run_test(work, out_dir, *extra):
    config = osp.join(work, osp.basename(SYNTHETIC))
    _test_tool().main([config, osp.join(work, 'experience_1.pth'), '--work-dir', out_dir,
                       *extra, '--cfg-options', f'experiment_name=t-{uuid.uuid4().hex[:12]}',
                       'log_level=WARNING'])
    with open(osp.join(out_dir, 'test_results.json')) as f:
        return json.load(f)


def test_show_dir_writes_overlays_and_keeps_the_metrics(seg_run):
    work, tmp, sizes = seg_run
    plain = _run_test(work, str(tmp / 'plain'))
    show = str(tmp / 'show')
    shown = _run_test(work, str(tmp / 'shown'), '--show-dir', show)
    assert shown['row'] == plain['row'] and shown['metrics'] == plain['metrics']
    for t in (0, 1):
        files = sorted(glob.glob(osp.join(show, f'experience_{t}', '*.png')))
        assert len(files) == sizes[t] > 0, files
    # the ground-truth panel is the image blended with the VOC palette of the label map
    png = sorted(glob.glob(osp.join(show, 'experience_1', '*.png')))[0]
    panel = cv2.imread(png, cv2.IMREAD_COLOR)[..., ::-1]
    h, w3 = panel.shape[:2]
    w = w3 // 3
    image = panel[:, :w]
    gt_panel = panel[:, w:2 * w].astype(int)
    palette = default_palette()
    # every GT-panel pixel is (image + palette[c]) / 2 for some class c or the image itself
    candidates = [np.clip(0.5 * image + 0.5 * palette[c] + 0.5, 0, 255).astype(int)
                  for c in range(5)] + [image.astype(int)]
    best = np.min([np.abs(gt_panel - c).max(-1) for c in candidates], axis=0)
    assert best.max() <= 1
    assert (np.abs(gt_panel - image.astype(int)).max(-1) > 0).any()  # something drawn


def test_overlay_blends_and_keeps_ignored_pixels():
    image = np.full((2, 2, 3), 100, np.uint8)
    mask = np.array([[0, 1], [255, 1]])
    palette = default_palette()
    out = overlay(image, mask, palette, alpha=0.5, ignore_index=255)
    assert out[1, 0].tolist() == [100, 100, 100]
    assert out[0, 1].tolist() == [int(0.5 * 100 + 0.5 * v + 0.5) for v in palette[1]]
    assert palette[0].tolist() == [0, 0, 0] and palette[1].tolist() == [128, 0, 0]
    assert palette[2].tolist() == [0, 128, 0] and palette[3].tolist() == [128, 128, 0]


def test_show_dir_refuses_classification_configs(tmp_path):
    from clbox.evaluation import ClsStreamEvaluator
    with pytest.raises(ValueError, match='segmentation overlays.*--out'):
        SegOverlayWriter(ClsStreamEvaluator(), str(tmp_path))
    tool = _test_tool()
    with pytest.raises(SystemExit, match='do not go together'):
        tool.main([SYNTHETIC, 'x.pth', '--out', str(tmp_path / 'a.json'), '--show-dir',
                   str(tmp_path)])
