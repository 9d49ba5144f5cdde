"""SmallConvNet: the CPU-sized encoder of the continuous-SSL small-scale study."""
import pytest
import torch

from clbox.models.backbones.small_convnet import SmallConvNet


@pytest.mark.parametrize('strides,side', [(None, 4), ((2, 2, 2, 2), 2)])
def test_small_convnet_shapes_and_size(strides, side):
    net = SmallConvNet(strides=strides)
    out = net(torch.randn(3, 1, 28, 28))
    assert isinstance(out, tuple) and out[0].shape == (3, 64, side, side)
    # the size of the prototype (a 97k-parameter 4-layer CNN), whatever the strides
    assert 90_000 < sum(p.numel() for p in net.parameters()) < 100_000


def test_small_convnet_rejects_bad_widths_and_strides():
    with pytest.raises(ValueError, match='positive channel widths'):
        SmallConvNet(channels=())
    with pytest.raises(ValueError, match='one stride per block'):
        SmallConvNet(channels=(8, 8), strides=(2,))
