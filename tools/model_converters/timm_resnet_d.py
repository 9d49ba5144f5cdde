"""Convert a timm ``resnet*d`` checkpoint (e.g. ImageNet ``resnet50d``) to mmpretrain's
``ResNetV1d`` keys, for ``model.backbone.init_cfg`` or ``load_from``.

    python tools/model_converters/timm_resnet_d.py resnet50d.pth resnet50d_mmpretrain.pth

The output holds ``state_dict`` with ``backbone.`` keys (the classifier is dropped); it is
written to a temporary file and renamed, so an interrupted run leaves no partial file.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))

from clbox.models.converters import timm_resnet_d_to_mmpretrain  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='timm checkpoint (a state dict, or a dict with '
                        "'state_dict' / 'model')")
    parser.add_argument('dst', help='output .pth')
    parser.add_argument('--prefix', default='backbone.',
                        help="key prefix (default 'backbone.'; '' for a bare backbone)")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.src):
        parser.error(f'{args.src} does not exist')
    ckpt = torch.load(args.src, map_location='cpu', weights_only=True)
    for key in ('state_dict', 'model'):
        if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
            ckpt = ckpt[key]
    converted = timm_resnet_d_to_mmpretrain(ckpt, args.prefix)
    tmp = args.dst + '.tmp'
    torch.save(dict(state_dict=converted, meta=dict(source=os.path.abspath(args.src),
                                                    converter='timm_resnet_d')), tmp)
    os.replace(tmp, args.dst)
    print(f'{len(converted)} tensors -> {args.dst}')


if __name__ == '__main__':
    main()
