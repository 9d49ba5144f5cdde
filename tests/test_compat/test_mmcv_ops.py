"""The mmcv.ops fallback: mmseg imports, the two ops compute what mmcv's kernels do."""
import pytest
import torch
import torch.nn.functional as F

import clbox.compat  # noqa: F401


def test_mmseg_models_import_with_mmcv_lite():
    import mmseg.models  # noqa: F401
    from mmseg.models.losses import FocalLoss  # imports sigmoid_focal_loss from mmcv.ops
    assert FocalLoss is not None


def test_other_ops_raise_module_not_found():
    with pytest.raises(ModuleNotFoundError, match='mmcv-lite'):
        from mmcv.ops import DeformConv2d  # noqa: F401


def test_point_sample_matches_grid_sample_at_pixel_centres():
    from mmcv.ops import point_sample
    feat = torch.arange(16.).reshape(1, 1, 4, 4)
    # centre of pixel (row 1, col 2) in [0, 1] coordinates (x, y)
    points = torch.tensor([[[2.5 / 4, 1.5 / 4]]])
    assert point_sample(feat, points).item() == pytest.approx(6.0)


def test_sigmoid_focal_loss_by_hand():
    from mmcv.ops import sigmoid_focal_loss
    logits = torch.tensor([[0.3, -1.2], [2.0, 0.5]])
    target = torch.tensor([1, 2])  # 2 == num_classes: no positive class
    gamma, alpha = 2.0, 0.25
    p = torch.sigmoid(logits)
    t = torch.tensor([[0., 1.], [0., 0.]])
    pt = p * t + (1 - p) * (1 - t)
    at = alpha * t + (1 - alpha) * (1 - t)
    expected = (at * (1 - pt) ** gamma *
                F.binary_cross_entropy_with_logits(logits, t, reduction='none')).sum() / 2
    assert sigmoid_focal_loss(logits, target, gamma, alpha).item() == pytest.approx(
        expected.item())


def test_import_clbox_is_light():
    """``import clbox`` installs the shims without importing torch, mmcv or sklearn; the
    fallback and the safe globals arrive with the first import of mmcv.ops / torch."""
    import subprocess
    import sys
    code = ('import sys, clbox; heavy = [m for m in ("torch", "mmcv", "sklearn", "mmseg") '
            'if m in sys.modules]; assert not heavy, heavy; '
            'import torch; from mmengine.logging import HistoryBuffer; '
            'assert HistoryBuffer in torch.serialization.get_safe_globals(); '
            'from mmcv.ops import point_sample, sigmoid_focal_loss')
    subprocess.run([sys.executable, '-c', code], check=True)
