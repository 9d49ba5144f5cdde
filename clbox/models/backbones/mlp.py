"""A multi-layer perceptron backbone for small flattened inputs (MNIST-like streams)."""
from typing import Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn

from clbox.registry import MODELS


@MODELS.register_module()
class MLP(BaseModule):
    """Fully connected layers with ReLU on the flattened input, the network of the
    continual-learning MNIST benchmarks (e.g. 784-400-400 before a 10-way head).

    Every hidden layer is ``Linear -> ReLU`` (``-> Dropout`` when ``dropout > 0``). The
    output is a one-element tuple holding the last hidden layer's (B, hidden[-1])
    activations, the form mmpretrain necks and heads take, so an ``ImageClassifier``
    with this backbone, no neck and a ``LinearClsHead(in_channels=hidden[-1])`` is the
    whole MLP. Layers keep PyTorch's default initialisation unless ``init_cfg`` says
    otherwise.

    Args:
        in_channels (int): Length of the flattened input (C * H * W, 784 for 28x28x1).
        hidden_channels (Sequence[int]): Width of every hidden layer. Defaults to
            (400, 400).
        dropout (float): Dropout probability after every ReLU; 0 adds no dropout layer.
            Defaults to 0.
        init_cfg (dict, optional): mmengine init config. Defaults to None.

    Raises:
        ValueError: If there is no hidden layer, a width or ``in_channels`` is not
            positive, or ``dropout`` is outside [0, 1).
    """

    def __init__(self, in_channels: int, hidden_channels: Sequence[int] = (400, 400),
                 dropout: float = 0.0, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        hidden_channels = [int(c) for c in hidden_channels]
        if int(in_channels) < 1 or not hidden_channels or min(hidden_channels) < 1:
            raise ValueError(f'MLP needs a positive in_channels and at least one positive '
                             f'hidden width, got in_channels={in_channels}, '
                             f'hidden_channels={hidden_channels}.')
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'MLP dropout must be in [0, 1), got {dropout}.')
        self.in_channels = int(in_channels)
        self.hidden_channels = hidden_channels
        layers = []
        width = self.in_channels
        for out in hidden_channels:
            layers += [nn.Linear(width, out), nn.ReLU(inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = out
        self.layers = nn.Sequential(*layers)

    @property
    def out_channels(self) -> int:
        """Width of the output features (the last hidden layer)."""
        return self.hidden_channels[-1]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """
        Args:
            x (Tensor): (B, ...) inputs with ``in_channels`` elements per sample.

        Returns:
            tuple[Tensor]: The (B, hidden_channels[-1]) features.

        Raises:
            ValueError: If a sample does not have ``in_channels`` elements.
        """
        x = x.flatten(1)
        if x.size(1) != self.in_channels:
            raise ValueError(f'MLP expects {self.in_channels} input values per sample, got '
                             f'{x.size(1)} (set backbone.in_channels to C * H * W of the '
                             'input).')
        return (self.layers(x), )
