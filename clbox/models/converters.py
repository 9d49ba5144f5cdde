"""State-dict converters from other libraries' backbones to mmpretrain's.

The weights users bring (ImageNet checkpoints of timm or torchvision) are converted once
with ``tools/model_converters/``; these functions are the key mappings, tested on randomly
initialised models (same outputs after conversion).
"""
import re
from typing import Dict

import torch

#: timm ``resnet*d`` deep-stem layers -> mmpretrain ``ResNetV1d`` stem (conv, bn pairs).
_TIMM_STEM = {'conv1.0': 'stem.0.conv', 'conv1.1': 'stem.0.bn', 'conv1.3': 'stem.1.conv',
              'conv1.4': 'stem.1.bn', 'conv1.6': 'stem.2.conv', 'bn1': 'stem.2.bn'}


def timm_resnet_d_to_mmpretrain(state_dict: Dict[str, torch.Tensor],
                                prefix: str = 'backbone.') -> Dict[str, torch.Tensor]:
    """timm's ``resnet{18,26,34,50,101,152}d`` state dict as mmpretrain's ``ResNetV1d``.

    * the deep stem ``conv1.{0,3,6}`` / ``conv1.{1,4}`` / ``bn1`` becomes
      ``stem.{0,1,2}.{conv,bn}``;
    * the residual layers keep their names, except the shortcut of the first block of
      ``layer1`` (stride 1): timm keeps an ``Identity`` pool at ``downsample.0``, so its
      conv / bn are ``downsample.{1,2}``; mmpretrain has no pool there:
      ``downsample.{0,1}`` (the other layers average-pool first in both);
    * the classifier ``fc`` is dropped (a new head is trained).

    Args:
        state_dict (dict): timm's ``model.state_dict()``.
        prefix (str): Put before every key (the backbone's name in an mmpretrain
            classifier). Defaults to 'backbone.'.

    Raises:
        KeyError: A key that is not part of a timm ResNet-D.
    """
    out = {}
    for key, value in state_dict.items():
        if key.startswith('fc.'):
            continue
        module, _, leaf = key.rpartition('.')
        if module in _TIMM_STEM:
            new = f'{_TIMM_STEM[module]}.{leaf}'
        elif re.match(r'layer\d+\.\d+\.', key):
            new = re.sub(r'^layer1\.0\.downsample\.([12])\.',
                         lambda m: f'layer1.0.downsample.{int(m.group(1)) - 1}.', key)
        else:
            raise KeyError(f'{key!r} is not a key of a timm ResNet-D state dict (expected '
                           'conv1.*, bn1.*, layer*.*, fc.*): is this a timm resnet*d '
                           'checkpoint?')
        out[prefix + new] = value
    return out
