"""The CWR* classification head (Lomonaco, Maltoni & Pellegrini, "Rehearsal-Free Continual
Learning over Small Non-I.I.D. Batches", CVPR-W 2020, arXiv:1907.03799; Maltoni &
Lomonaco, "Continuous Learning in Single-Incremental-Task Scenarios", Neural Networks
2019, arXiv:1806.08568, Algorithm 2)."""
from typing import Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from torch import nn

from clbox.registry import MODELS


@MODELS.register_module()
class CWRStarHead(ClsHead):
    """A linear head with consolidated weights (CWR*).

    Two weight sets: the training weights ``tw`` (``fc.weight``, what SGD updates) and the
    consolidated weights ``cw`` (a buffer). Per experience (a CORe50 "batch"), driven by
    the continual method:

    1. :meth:`reset_training_weights`: ``tw[j] = cw[j]`` for the classes ``j`` of the
       experience, 0 for every other class.
    2. Training updates ``tw``.
    3. :meth:`consolidate` with ``cur_j``, the number of samples of class ``j`` in the
       experience: ``w_j = sqrt(past_j / cur_j)``,
       ``cw[j] = (cw[j] * w_j + tw[j] - mean(tw[classes])) / (w_j + 1)``,
       ``past_j += cur_j``, where the mean is the scalar mean of the training weights of
       the experience's classes.

    In eval mode the logits use ``cw`` for every class consolidated at least once, and
    ``tw`` for the others (classes being learnt for the first time). There is no bias, as
    in the reference, where the bias of the CWR layer is not trained.

    Args:
        num_classes (int): Number of classes (50 CORe50 objects, or 10 categories).
        in_channels (int): Feature size.
        loss (dict): Loss config. Defaults to cross-entropy.
        topk (int | tuple): Accuracy top-k, as ``ClsHead``. Defaults to (1,).
        init_cfg (dict, optional): Defaults to zero training weights, as in the paper.
    """

    def __init__(self, num_classes: int, in_channels: int,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 topk: Union[int, Tuple[int]] = (1,), init_cfg=None, **kwargs):
        super().__init__(loss=loss, topk=topk, init_cfg=init_cfg, **kwargs)
        if num_classes <= 0:
            raise ValueError(f'CWRStarHead: num_classes must be positive, got {num_classes}.')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.fc = nn.Linear(in_channels, num_classes, bias=False)
        nn.init.zeros_(self.fc.weight)
        self.register_buffer('consolidated_weight', torch.zeros(num_classes, in_channels))
        self.register_buffer('past_counts', torch.zeros(num_classes))

    def init_weights(self):
        if self.init_cfg is None:
            nn.init.zeros_(self.fc.weight)
        else:
            super().init_weights()

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """The last stage's features."""
        return feats[-1] if isinstance(feats, (tuple, list)) else feats

    def forward(self, feats) -> torch.Tensor:
        x = self.pre_logits(feats)
        if x.dim() > 2:
            raise ValueError(f'CWRStarHead expects pooled (N, C) features, got shape '
                             f"{tuple(x.shape)}; add neck=dict(type='GlobalAveragePooling').")
        return F.linear(x, self.inference_weight() if not self.training else self.fc.weight)

    def inference_weight(self) -> torch.Tensor:
        """``cw`` for consolidated classes, ``tw`` for the others."""
        seen = (self.past_counts > 0).unsqueeze(1)
        return torch.where(seen, self.consolidated_weight, self.fc.weight)

    def _index(self, classes) -> torch.Tensor:
        idx = torch.as_tensor(classes, dtype=torch.long, device=self.fc.weight.device)
        bad = idx[(idx < 0) | (idx >= self.num_classes)]
        if len(bad):
            raise ValueError(f'CWRStarHead: class id {int(bad[0])} outside '
                             f'[0, {self.num_classes}); raise num_classes.')
        return idx.reshape(-1)

    @torch.no_grad()
    def reset_training_weights(self, classes: Sequence[int]) -> None:
        """Training weights of ``classes`` start from their consolidated value, the rest
        from zero (step 1 of the class docstring)."""
        idx = self._index(classes)
        self.fc.weight.zero_()
        self.fc.weight[idx] = self.consolidated_weight[idx]

    @torch.no_grad()
    def consolidate(self, classes: Sequence[int], counts: Sequence[float]) -> None:
        """Merge the training weights of ``classes`` into the consolidated ones.

        Args:
            classes (Sequence[int]): Classes present in the experience.
            counts (Sequence[float]): Their sample counts ``cur_j`` (same order).
        """
        idx = self._index(classes)
        cur = torch.as_tensor(counts, dtype=self.past_counts.dtype,
                              device=idx.device).reshape(-1)
        if len(cur) != len(idx) or (cur <= 0).any():
            raise ValueError('CWRStarHead.consolidate needs one positive count per class, '
                             f'got {len(idx)} classes and counts {cur.tolist()}.')
        if len(idx) == 0:
            return
        tw = self.fc.weight[idx]
        centred = tw - tw.mean()
        w_past = torch.sqrt(self.past_counts[idx] / cur).unsqueeze(1)
        self.consolidated_weight[idx] = (
            self.consolidated_weight[idx] * w_past + centred) / (w_past + 1)
        self.past_counts[idx] += cur
