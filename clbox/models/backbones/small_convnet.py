"""A small convolutional encoder for 28x28 / 32x32 images (CPU-sized experiments)."""
from typing import Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn

from clbox.registry import MODELS


@MODELS.register_module()
class SmallConvNet(BaseModule):
    """``len(channels)`` blocks of 3x3 convolution -> BatchNorm -> ReLU, each but the first
    with stride 2 (28x28 -> 14 -> 7 -> 4 with four blocks). With the default widths it has
    ~93k parameters: the size of the plain-PyTorch prototype of the continuous-SSL
    small-scale study (issue 13: a 97k-parameter 4-layer CNN).

    Returns a one-element tuple holding the (B, channels[-1], h, w) feature map, the form
    mmpretrain necks take.

    Args:
        in_channels (int): Image channels. Defaults to 1.
        channels (Sequence[int]): Block widths. Defaults to (32, 64, 64, 64).
        strides (Sequence[int], optional): Stride of each block. Defaults to 1 for the
            first block and 2 for the others; ``(2, 2, 2, 2)`` (28 -> 14 -> 7 -> 4 -> 2)
            costs about a quarter of the compute.
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (32, 64, 64, 64),
                 strides: Optional[Sequence[int]] = None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if not channels or min(channels) < 1:
            raise ValueError(f'SmallConvNet needs positive channel widths, got {channels}.')
        strides = [1] + [2] * (len(channels) - 1) if strides is None else list(strides)
        if len(strides) != len(channels):
            raise ValueError(f'SmallConvNet: {len(strides)} strides for {len(channels)} '
                             'blocks; give one stride per block.')
        layers, width = [], int(in_channels)
        for out, stride in zip(channels, strides):
            layers += [nn.Conv2d(width, out, 3, stride=int(stride), padding=1,
                                 bias=False),
                       nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            width = out
        self.layers = nn.Sequential(*layers)
        self.out_channels = width

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        return (self.layers(x), )
