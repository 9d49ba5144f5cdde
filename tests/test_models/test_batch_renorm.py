"""Batch Renormalization."""
import pytest
import torch
from mmcv.cnn import ConvModule, build_norm_layer
from torch import nn

from clbox.models.layers import BatchRenorm2d, set_brn_params


def _pair(momentum=0.1):
    torch.manual_seed(0)
    brn = BatchRenorm2d(4, momentum=momentum, r_max=1.0, d_max=0.0, r_d_max_inc_step=0.0)
    bn = nn.BatchNorm2d(4, momentum=momentum)
    with torch.no_grad():
        for m in (brn, bn):
            m.weight.copy_(torch.tensor([1.0, 2.0, 0.5, -1.0]))
            m.bias.copy_(torch.tensor([0.0, 1.0, -1.0, 0.5]))
    return brn, bn


def test_matches_batch_norm_when_r_max_1_d_max_0():
    brn, bn = _pair()
    for step in range(3):
        x = torch.randn(5, 4, 3, 3) * (step + 1) + step
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = brn(xa), bn(xb)
        torch.testing.assert_close(ya, yb, rtol=1e-5, atol=1e-5)
        grad = torch.randn_like(ya)
        ya.backward(grad)
        yb.backward(grad)
        torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(brn.weight.grad, bn.weight.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(brn.running_mean, bn.running_mean)
    torch.testing.assert_close(brn.running_var, bn.running_var)
    brn.eval(), bn.eval()
    x = torch.randn(2, 4, 3, 3)
    torch.testing.assert_close(brn(x), bn(x))


def test_renormalizes_towards_running_statistics():
    brn = BatchRenorm2d(2, r_max=3.0, d_max=5.0, r_d_max_inc_step=0.0)
    brn.running_mean.fill_(1.0)
    brn.running_var.fill_(4.0)
    x = torch.randn(64, 2, 2, 2)
    y = brn(x)
    # with loose bounds r, d undo the batch moments: y ~ (x - mu) / sigma, running ones
    expected = (x - 1.0) / torch.sqrt(torch.tensor(4.0 + brn.eps))
    torch.testing.assert_close(y, expected, rtol=1e-4, atol=1e-4)


def test_bounds_grow_per_sample_and_are_buffers():
    brn = BatchRenorm2d(2, r_max=1.0, d_max=0.0, max_r_max=1.5, max_d_max=0.2,
                        r_d_max_inc_step=0.01)
    brn(torch.randn(10, 2, 2, 2))
    assert float(brn.r_max) == pytest.approx(1.1)
    assert float(brn.d_max) == pytest.approx(0.1)
    for _ in range(10):
        brn(torch.randn(10, 2, 2, 2))
    assert float(brn.r_max) == pytest.approx(1.5) and float(brn.d_max) == pytest.approx(0.2)
    assert {'r_max', 'd_max', 'running_var'} <= set(brn.state_dict())
    brn.eval()
    brn(torch.randn(10, 2, 2, 2))  # eval: nothing moves
    assert float(brn.r_max) == pytest.approx(1.5)


def test_registered_as_norm_layer_and_settable():
    name, layer = build_norm_layer(dict(type='BRN', momentum=0.05), 8)
    assert isinstance(layer, BatchRenorm2d) and name == 'bn' and layer.momentum == 0.05
    conv = ConvModule(3, 8, 3, norm_cfg=dict(type='BRN'))
    assert isinstance(conv.norm, BatchRenorm2d)
    assert set_brn_params(conv, momentum=1e-4, r_max=1.25, d_max=0.5) == 1
    assert conv.norm.momentum == 1e-4 and float(conv.norm.r_max) == 1.25
    with pytest.raises(ValueError, match='momentum'):
        BatchRenorm2d(4, momentum=None)
