"""Convert a torchvision-style MobileNetV1 state dict to clbox's ``MobileNetV1``.

torchvision ships no MobileNetV1; ports of it (torchvision-style ``features.{i}.{j}``
Conv2d/BatchNorm2d sequences, pytorchcv's ``features.stage{k}.unit{u}.{dw,pw}_conv``,
``model.{i}.{j}`` ports of the Caffe model) differ in names but not in order. The
converter therefore maps by order and checks every shape: the 27 convolutions (stem, then
depthwise/pointwise pairs) and the 27 batch-norm layers, in the order their keys appear,
go to ``conv1``, ``conv2_1.dw``, ``conv2_1.sep``, ... ``conv6.sep``. A last 2-D weight
(the classifier) is kept as ``head.fc.weight`` with ``--with-head``.

Usage::

    python tools/model_converters/torchvision_mobilenet_to_clbox.py SRC.pth DST.pth
    # then: backbone=dict(type='MobileNetV1', init_cfg=dict(type='Pretrained',
    #           checkpoint='DST.pth', prefix='backbone.'))
    # or, for load_from with an AR1 model: --prefix model.backbone.
"""
import argparse
from collections import OrderedDict
from typing import Dict, List

import torch

BLOCKS = ['conv2_1', 'conv2_2', 'conv3_1', 'conv3_2', 'conv4_1', 'conv4_2', 'conv5_1',
          'conv5_2', 'conv5_3', 'conv5_4', 'conv5_5', 'conv5_6', 'conv6']
BN_KEYS = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')


def target_layers() -> List[str]:
    """clbox layer prefixes, in network order."""
    return ['conv1'] + [f'{b}.{part}' for b in BLOCKS for part in ('dw', 'sep')]


def _unwrap(checkpoint: dict) -> Dict[str, torch.Tensor]:
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
    return OrderedDict((k[7:] if k.startswith('module.') else k, v)
                       for k, v in checkpoint.items())


def convert(state_dict: dict, with_head: bool = False) -> 'OrderedDict[str, torch.Tensor]':
    """Map a MobileNetV1 state dict onto clbox ``MobileNetV1`` keys (no prefix).

    Raises:
        ValueError: If the numbers of convolutions / norm layers are not 27 each, or a
            shape does not fit the architecture.
    """
    state_dict = _unwrap(state_dict)
    convs = [k for k, v in state_dict.items() if k.endswith('weight') and v.dim() == 4]
    norms = [k[:-len('running_mean')] for k in state_dict if k.endswith('running_mean')]
    layers = target_layers()
    if len(convs) != len(layers) or len(norms) != len(layers):
        raise ValueError(
            f'expected {len(layers)} convolutions and {len(layers)} batch-norm layers '
            f'(a MobileNetV1), found {len(convs)} and {len(norms)}. Is this a MobileNetV1 '
            'state dict?')
    out = OrderedDict()
    in_channels = 3
    for layer, conv, norm in zip(layers, convs, norms):
        weight = state_dict[conv]
        depthwise = layer.endswith('.dw')
        expected_in = 1 if depthwise else in_channels
        if weight.shape[1] != expected_in or (depthwise and weight.shape[0] != in_channels):
            raise ValueError(f'{conv} has shape {tuple(weight.shape)}, which does not fit '
                             f'{layer} (input channels {in_channels}).')
        out[f'{layer}.conv.weight'] = weight.clone()
        for key in BN_KEYS:
            if norm + key in state_dict:
                out[f'{layer}.bn.{key}'] = state_dict[norm + key].clone()
        in_channels = weight.shape[0]
    if with_head:
        fcs = [k for k, v in state_dict.items() if k.endswith('weight') and v.dim() == 2]
        if not fcs:
            raise ValueError('--with-head: the state dict has no 2-D classifier weight.')
        out['head.fc.weight'] = state_dict[fcs[-1]].clone()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='source checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument('--prefix', default='backbone.',
                        help="prefix of backbone keys (default 'backbone.')")
    parser.add_argument('--with-head', action='store_true',
                        help='keep the classifier as head.fc.weight')
    args = parser.parse_args()
    source = torch.load(args.src, map_location='cpu', weights_only=True)
    converted = convert(source, args.with_head)
    head_prefix = args.prefix[:-len('backbone.')] if args.prefix.endswith('backbone.') else ''
    state = OrderedDict(
        (head_prefix + k if k.startswith('head.') else args.prefix + k, v)
        for k, v in converted.items())
    torch.save(dict(state_dict=state), args.dst)
    print(f'wrote {len(state)} tensors to {args.dst}')


if __name__ == '__main__':
    main()
