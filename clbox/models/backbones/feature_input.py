"""A backbone for pre-extracted features: passes them on unchanged."""
from typing import Tuple

import torch
from mmengine.model import BaseModule

from clbox.registry import MODELS


@MODELS.register_module()
class FeatureInput(BaseModule):
    """The "backbone" of a head trained on frozen, pre-extracted features (CLEAR's
    linear-probe protocol, Lin et al., NeurIPS 2021, Sec. 5): returns its (B, D) input as a
    one-element tuple, the form mmpretrain necks and heads take.

    Args:
        dim (int, optional): Expected feature length; checked on every batch so that
            features of another backbone fail clearly. Defaults to None (unchecked).
    """

    def __init__(self, dim: int = None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        x = x.flatten(1)
        if self.dim is not None and x.size(1) != self.dim:
            raise ValueError(f'FeatureInput expects {self.dim}-d features, got {x.size(1)}-d; '
                             'the features come from another backbone than the config '
                             'assumes (set backbone.dim and head.in_channels to match).')
        return (x, )
