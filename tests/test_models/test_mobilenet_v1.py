"""MobileNetV1, the lower/upper split and the weight converter."""
import importlib.util
import os.path as osp

import pytest
import torch
from torch import nn

from clbox.models.backbones import MobileNetV1, SplitBackbone
from clbox.models.layers import BatchRenorm2d
from clbox.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _converter():
    path = osp.join(ROOT, 'tools', 'model_converters', 'torchvision_mobilenet_to_clbox.py')
    spec = importlib.util.spec_from_file_location('mobilenet_converter', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shapes_names_and_brn():
    net = MODELS.build(dict(type='MobileNetV1', widen_factor=0.25, out_indices=(9, 13),
                            norm_cfg=dict(type='BRN')))
    outs = net(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(2, 128, 4, 4), (2, 256, 2, 2)]
    assert isinstance(net.conv5_4.dw.bn, BatchRenorm2d)
    full = MobileNetV1()
    assert full.out_channels == 1024
    assert sum(p.numel() for p in full.parameters()) == pytest.approx(3.2e6, rel=0.02)
    with pytest.raises(ValueError, match='out_indices'):
        MobileNetV1(out_indices=(14,))


@pytest.mark.parametrize('layer', ['input', 'conv1', 'conv3_1.dw', 'conv5_4.dw', 'conv5_4',
                                   'conv6.dw'])
def test_split_reproduces_forward(layer):
    torch.manual_seed(0)
    net = MobileNetV1(widen_factor=0.25).eval()
    split = SplitBackbone(net, layer)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(split.upper(split.lower(x))[0], net(x)[0])


def test_split_resnet_by_stage_and_block():
    torch.manual_seed(0)
    net = MODELS.build(dict(type='ResNet', depth=18, out_indices=(3,)))
    net.eval()  # mmpretrain's ResNet.train() returns None
    x = torch.randn(1, 3, 32, 32)
    for layer in ('layer1', 'layer3', 'layer3.0', 'maxpool'):
        split = SplitBackbone(net, layer)
        torch.testing.assert_close(split.upper(split.lower(x))[-1], net(x)[-1])
    assert SplitBackbone(net, 'layer3').names('upper') == ['layer4.0', 'layer4.1']
    with pytest.raises(KeyError, match='Valid names: input, stem'):
        SplitBackbone(net, 'layer9')
    with pytest.raises(ValueError, match='below latent_layer'):
        SplitBackbone(MODELS.build(dict(type='ResNet', depth=18, out_indices=(1, 3))),
                      'layer3')
    cifar = MODELS.build(dict(type='ResNet_CIFAR', depth=18))
    cifar.eval()
    split = SplitBackbone(cifar, 'layer2')
    torch.testing.assert_close(split.upper(split.lower(x))[-1], cifar(x)[-1])


def test_split_unknown_backbone_is_a_clear_error():
    class Odd(nn.Module):
        def forward(self, x):
            return x
    with pytest.raises(TypeError, match='layer_sequence'):
        SplitBackbone(Odd(), 'x')


def _torchvision_style(width=0.25):
    """A MobileNetV1 laid out like torchvision's models: features.{i}.{j}."""
    ch = lambda c: max(8, int(c * width + 4) // 8 * 8)  # noqa: E731
    layers = [nn.Sequential(nn.Conv2d(3, ch(32), 3, 2, 1, bias=False),
                            nn.BatchNorm2d(ch(32)), nn.ReLU(inplace=True))]
    cin = ch(32)
    for _, out, stride in MobileNetV1.arch:
        layers.append(nn.Sequential(
            nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
            nn.ReLU(inplace=True), nn.Conv2d(cin, ch(out), 1, bias=False),
            nn.BatchNorm2d(ch(out)), nn.ReLU(inplace=True)))
        cin = ch(out)
    model = nn.Module()
    model.features = nn.Sequential(*layers)
    model.classifier = nn.Linear(cin, 5)
    torch.manual_seed(1)
    for m in model.modules():  # non-trivial statistics, so a wrong mapping shows
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def test_converter_and_pretrained_init_cfg(tmp_path):
    conv = _converter()
    source = _torchvision_style()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = source.features(x)
    src_path, dst_path = tmp_path / 'tv.pth', tmp_path / 'clbox.pth'
    torch.save(source.state_dict(), src_path)
    import sys
    argv = sys.argv
    sys.argv = ['conv', str(src_path), str(dst_path), '--with-head']
    try:
        conv.main()
    finally:
        sys.argv = argv
    cfg = dict(type='ImageClassifier',
               backbone=dict(type='MobileNetV1', widen_factor=0.25,
                             init_cfg=dict(type='Pretrained', checkpoint=str(dst_path),
                                           prefix='backbone.')),
               neck=dict(type='GlobalAveragePooling'),
               head=dict(type='CWRStarHead', num_classes=5, in_channels=256))
    model = MODELS.build(cfg)
    model.init_weights()
    model.eval()
    torch.testing.assert_close(model.backbone(x)[0], feats, rtol=1e-4, atol=1e-5)
    head = torch.load(dst_path, weights_only=True)['state_dict']['head.fc.weight']
    torch.testing.assert_close(head, source.classifier.weight)
    with pytest.raises(ValueError, match='MobileNetV1'):
        conv.convert({'a.weight': torch.zeros(3, 3, 1, 1)})
