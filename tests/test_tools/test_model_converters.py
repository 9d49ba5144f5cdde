"""Backbone weight converters, on randomly initialised models."""
import subprocess
import sys

import pytest
import torch


def test_timm_resnet50d_converted_gives_the_same_features(tmp_path):
    timm = pytest.importorskip('timm')
    from mmpretrain.models import GlobalAveragePooling, ResNetV1d

    from clbox.models.converters import timm_resnet_d_to_mmpretrain
    torch.manual_seed(0)
    src = timm.create_model('resnet50d', pretrained=False).eval()
    for m in src.modules():   # non-trivial BN statistics, so a mismatch would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    dst = ResNetV1d(depth=50)
    dst.eval()
    dst.load_state_dict(timm_resnet_d_to_mmpretrain(src.state_dict(), prefix=''), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = src.forward_head(src.forward_features(x), pre_logits=True)
        got = GlobalAveragePooling()(dst(x))[-1]
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    # the tool writes the prefixed keys atomically
    path = tmp_path / 'timm.pth'
    torch.save(src.state_dict(), path)
    subprocess.run([sys.executable, 'tools/model_converters/timm_resnet_d.py', str(path),
                    str(tmp_path / 'out.pth')], check=True, capture_output=True)
    out = torch.load(tmp_path / 'out.pth', weights_only=True)['state_dict']
    assert all(k.startswith('backbone.') for k in out) and not (tmp_path / 'out.pth.tmp').exists()


def test_torchvision_resnet50_loads_into_mmpretrain_resnet_by_name():
    """The row-1 backbone: torchvision's ImageNet ResNet-50 keys are mmpretrain's
    ``ResNet(depth=50)`` keys (``init_cfg=dict(type='Pretrained', checkpoint=...)`` on the
    backbone loads it; ``fc`` is ignored)."""
    import torchvision
    from mmpretrain.models import ResNet
    torch.manual_seed(0)
    src = torchvision.models.resnet50().eval()
    dst = ResNet(depth=50)
    dst.eval()
    state = {k: v for k, v in src.state_dict().items() if not k.startswith('fc.')}
    dst.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = torch.flatten(src.avgpool(src.layer4(src.layer3(src.layer2(src.layer1(
            src.maxpool(src.relu(src.bn1(src.conv1(x))))))))), 1)
        got = dst(x)[-1].mean((2, 3))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_converter_rejects_other_checkpoints():
    from clbox.models.converters import timm_resnet_d_to_mmpretrain
    with pytest.raises(KeyError, match='timm ResNet-D'):
        timm_resnet_d_to_mmpretrain({'blocks.0.weight': torch.zeros(1)})
