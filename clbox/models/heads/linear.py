"""A linear classification head whose layer may have no bias."""
from mmpretrain.models.heads import LinearClsHead
from torch import nn

from clbox.registry import MODELS


@MODELS.register_module()
class LinearHead(LinearClsHead):
    """mmpretrain's ``LinearClsHead`` with a ``bias`` switch.

    The SSLAD 2021 Track 3A 3rd-place solution replaces the backbone's ``fc`` with
    ``nn.Linear(2048, 7, bias=False)`` (``mrifkikurniawan/sslad`` @v4.3
    ``methods.CLStrategy``), initialised as PyTorch initialises ``nn.Linear`` (pass
    ``init_cfg=None`` for that; mmpretrain's default is N(0, 0.01)).

    Args:
        bias (bool): Whether the layer has a bias. Defaults to True.
        **kwargs: ``LinearClsHead``'s (``num_classes``, ``in_channels``, ``loss``,
            ``topk``, ``init_cfg``, ...).
    """

    def __init__(self, num_classes: int, in_channels: int, bias: bool = True, **kwargs):
        super().__init__(num_classes=num_classes, in_channels=in_channels, **kwargs)
        if not bias:
            self.fc = nn.Linear(self.in_channels, self.num_classes, bias=False)
