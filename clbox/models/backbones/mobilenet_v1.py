"""MobileNetV1 (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for
Mobile Vision Applications", 2017, arXiv:1704.04861), with layer names that latent
replay can pick."""
from typing import List, Sequence, Union

from mmcv.cnn import ConvModule
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from clbox.registry import MODELS
from .split import LayerStep


def _divisible(value: float, divisor: int = 8) -> int:
    return max(divisor, int(value + divisor / 2) // divisor * divisor)


class DepthwiseSeparable(nn.Module):
    """A 3x3 depthwise ConvModule (``dw``) followed by a 1x1 pointwise one (``sep``)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, conv_cfg,
                 norm_cfg, act_cfg):
        super().__init__()
        common = dict(bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.dw = ConvModule(in_channels, in_channels, 3, stride=stride, padding=1,
                             groups=in_channels, **common)
        self.sep = ConvModule(in_channels, out_channels, 1, **common)

    def forward(self, x):
        return self.sep(self.dw(x))


@MODELS.register_module()
class MobileNetV1(BaseBackbone):
    """MobileNetV1 with named layers, as in the Caffe model of the AR1* latent-replay
    reference (Pellegrini et al. 2019, arXiv:1912.01100).

    Layers: ``conv1`` (3x3 stride-2 stem), then 13 depthwise-separable blocks ``conv2_1``,
    ``conv2_2``, ``conv3_1``, ``conv3_2``, ``conv4_1``, ``conv4_2``, ``conv5_1`` ...
    ``conv5_6``, ``conv6``, each with a depthwise ``.dw`` and a pointwise ``.sep``
    ConvModule (conv + norm + activation). Channels and strides follow Table 1 of Howard
    et al. Latent replay can split after any of them (``'conv5_4.dw'`` is the paper's
    choice on CORe50); output index 0 is ``conv1``, index ``k`` the k-th block.

    Args:
        widen_factor (float): Width multiplier alpha. Defaults to 1.0.
        out_indices (Sequence[int]): Output layers (0-13). Defaults to (13,).
        frozen_stages (int): Layers 0..frozen_stages are frozen (-1: none).
            Defaults to -1.
        conv_cfg (dict, optional): Convolution config. Defaults to None.
        norm_cfg (dict): Norm config; ``dict(type='BRN')`` gives Batch Renormalization.
            Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation config. Defaults to ``dict(type='ReLU')``.
        norm_eval (bool): Keep norm layers in eval mode while training. Defaults to False.
        init_cfg (dict | list, optional): Initialisation; ``dict(type='Pretrained',
            checkpoint='local.pth')`` loads weights (see
            ``tools/model_converters/torchvision_mobilenet_to_clbox.py``).
    """

    #: (name, output channels at alpha=1, stride) of the 13 depthwise-separable blocks.
    arch = [('conv2_1', 64, 1), ('conv2_2', 128, 2), ('conv3_1', 128, 1),
            ('conv3_2', 256, 2), ('conv4_1', 256, 1), ('conv4_2', 512, 2),
            ('conv5_1', 512, 1), ('conv5_2', 512, 1), ('conv5_3', 512, 1),
            ('conv5_4', 512, 1), ('conv5_5', 512, 1), ('conv5_6', 1024, 2),
            ('conv6', 1024, 1)]

    def __init__(self, widen_factor: float = 1.0, out_indices: Sequence[int] = (13,),
                 frozen_stages: int = -1, conv_cfg=None, norm_cfg=dict(type='BN'),
                 act_cfg=dict(type='ReLU'), norm_eval: bool = False,
                 init_cfg: Union[dict, List[dict], None] = (
                     dict(type='Kaiming', layer='Conv2d'),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']))):
        super().__init__(init_cfg=list(init_cfg) if isinstance(init_cfg, tuple)
                         else init_cfg)
        out_indices = tuple(out_indices) if isinstance(out_indices, (list, tuple)) \
            else (int(out_indices),)
        bad = [i for i in out_indices if not 0 <= i <= len(self.arch)]
        if bad:
            raise ValueError(f'MobileNetV1 out_indices {bad} outside [0, {len(self.arch)}] '
                             '(0 is conv1, k the k-th depthwise-separable block).')
        self.widen_factor = widen_factor
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        channels = _divisible(32 * widen_factor)
        self.conv1 = ConvModule(3, channels, 3, stride=2, padding=1, bias=False,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.layers = ['conv1']
        for name, out, stride in self.arch:
            out = _divisible(out * widen_factor)
            self.add_module(name, DepthwiseSeparable(channels, out, stride, conv_cfg,
                                                     norm_cfg, act_cfg))
            self.layers.append(name)
            channels = out
        self.out_channels = channels
        self._freeze_stages()

    def layer_sequence(self) -> List[LayerStep]:
        """Steps ``conv1``, ``conv2_1.dw``, ``conv2_1.sep`` (alias ``conv2_1``), ..."""
        steps = [LayerStep('conv1', self.conv1, (self.conv1,), 0)]
        for i, (name, _, _) in enumerate(self.arch, start=1):
            block = getattr(self, name)
            steps.append(LayerStep(f'{name}.dw', block.dw, (block.dw,)))
            steps.append(LayerStep(f'{name}.sep', block.sep, (block.sep,), i, (name,)))
        return steps

    def forward(self, x):
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self):
        for name in self.layers[:self.frozen_stages + 1]:
            layer = getattr(self, name)
            layer.eval()
            for p in layer.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
