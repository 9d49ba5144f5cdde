"""mmcv's adjust_hue under NumPy 2: mmpretrain's ColorJitter with a hue range works, and the
shift is NumPy 1's wrapped uint8 cast."""
import numpy as np
import pytest

import clbox.scenarios  # noqa: F401  (installs the fix)


def _hue_shift_reference(img, factor):
    """The hue channel (HSV_FULL) shifted by NumPy 1's np.uint8(factor * 255): the
    integer part, wrapped modulo 256."""
    import cv2
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL)
    shift = int(factor * 255)   # truncation toward zero, as the C cast
    hsv[..., 0] = ((hsv[..., 0].astype(np.int64) + shift) % 256).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL)


@pytest.mark.parametrize('factor', [-0.5, -0.3, -0.05, 0.0, 0.05, 0.5])
@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_adjust_hue_wraps_negative_shifts(factor, backend):
    import mmcv
    rng = np.random.RandomState(0)
    img = rng.randint(0, 256, (9, 7, 3)).astype(np.uint8)
    out = mmcv.adjust_hue(img, factor, backend=backend)
    assert out.shape == img.shape and out.dtype == np.uint8
    if backend == 'cv2':
        np.testing.assert_array_equal(out, _hue_shift_reference(img, factor))
    else:   # PIL's HSV: the same shift of its hue channel
        from PIL import Image
        hsv = np.array(Image.fromarray(img[..., ::-1].copy(), 'RGB').convert('HSV'))
        back = np.array(Image.fromarray(out[..., ::-1].copy(), 'RGB').convert('HSV'))
        shifted = (hsv[..., 0].astype(int) + int(factor * 255)) % 256
        assert np.abs(((back[..., 0].astype(int) - shifted + 128) % 256) - 128).max() <= 3


def test_mmpretrain_color_jitter_with_hue_runs():
    from clbox.registry import TRANSFORMS
    jitter = TRANSFORMS.build(dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                                   saturation=0.4, hue=0.1))
    img = np.random.RandomState(1).randint(0, 256, (16, 16, 3)).astype(np.uint8)
    for seed in range(40):          # about half the draws shift the hue down
        np.random.seed(seed)
        assert jitter(dict(img=img.copy()))['img'].shape == (16, 16, 3)
    with pytest.raises(ValueError, match='hue_factor'):
        import mmcv
        mmcv.adjust_hue(img, 0.7)


def test_third_party_deprecation_noise_is_filtered(tmp_path, capsys):
    """A run's log has no FileClient / HardDiskBackend deprecation lines (mmengine's own
    hooks cause them), while clbox's and other warnings still show."""
    import glob
    import logging
    import os.path as osp

    from mmengine.config import Config
    from mmengine.logging import MMLogger, print_log

    from helpers import ROOT, build_runner
    cfg = Config.fromfile(osp.join(ROOT, 'configs/er/er_resnet18_1xb32-5e_digits-5exp.py'))
    cfg.work_dir = str(tmp_path)
    runner = build_runner(cfg)
    print_log('"FileClient" will be deprecated in future. Please use io functions',
              logger='current', level=logging.WARNING)
    print_log('a warning clbox users should see', logger='current', level=logging.WARNING)
    assert MMLogger.get_current_instance() is runner.logger
    for handler in runner.logger.handlers:
        handler.flush()
    text = ''.join(open(p).read() for p in glob.glob(str(tmp_path / '*' / '*.log')))
    text += capsys.readouterr().out
    assert 'will be deprecated' not in text and 'is the alias of' not in text
    assert 'a warning clbox users should see' in text
