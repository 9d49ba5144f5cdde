"""REMINDER's class-similarity weighted distillation (Phan et al., "Class Similarity Weighted
Knowledge Distillation for Continual Semantic Segmentation", CVPR 2022, Sec. 3.2-3.3)."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

from clbox.registry import MODELS


def class_prototypes(features: torch.Tensor, labels: torch.Tensor, num_classes: int,
                     ignore_index: int = 255) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-class sums of feature vectors and pixel counts.

    Args:
        features (Tensor): (B, D, h, w) features.
        labels (Tensor): (B, H, W) labels, resized to (h, w) by nearest neighbour.
        num_classes (int): Classes to collect.
        ignore_index (int): Skipped label. Defaults to 255.

    Returns:
        tuple: ``(sums (K, D), counts (K,))``; prototypes are ``sums / counts``.
    """
    d = features.shape[1]
    lab = F.interpolate(labels[:, None].float(), size=features.shape[-2:],
                        mode='nearest')[:, 0].long().flatten()
    feat = features.permute(0, 2, 3, 1).reshape(-1, d)
    keep = (lab != ignore_index) & (lab < num_classes)
    sums = feat.new_zeros(num_classes, d).index_add_(0, lab[keep], feat[keep])
    counts = torch.bincount(lab[keep], minlength=num_classes).to(feat.dtype)
    return sums, counts


def similarity_weights(current: torch.Tensor, old: torch.Tensor,
                       threshold_scale: float = 2.0) -> torch.Tensor:
    """REMINDER's class-similarity weights ``w[c, k]``: softmax over old classes ``k`` of the
    cosine similarity between prototype ``c`` and old prototype ``k``; weights below
    ``threshold_scale / K_old`` are set to 0 (REMINDER's code uses 2).

    Args:
        current (Tensor): (K, D) prototypes of the current labels.
        old (Tensor): (K_old, D) prototypes of the old classes.
        threshold_scale (float): Defaults to 2.0.
    """
    sim = F.normalize(current, dim=1) @ F.normalize(old, dim=1).t()
    w = torch.softmax(sim, dim=1)
    return torch.where(w < threshold_scale / old.shape[0], torch.zeros_like(w), w)


@MODELS.register_module()
class CSWKDLoss(nn.Module):
    """Class-similarity weighted KD: per pixel with (current) label ``c``,
    ``-1/K_old * sum_k w[c, k] * p_k * log q_k`` where ``p`` is the teacher's softmax, ``q``
    the student's softmax over the old channels, and ``w`` the similarity weights of
    :func:`similarity_weights`; averaged over pixels that are not ignored.

    Args:
        loss_weight (float): Multiplier. Defaults to 1.0.
        ignore_index (int): Defaults to 255.
    """

    def __init__(self, loss_weight: float = 1.0, ignore_index: int = 255):
        super().__init__()
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor,
                weights: torch.Tensor) -> torch.Tensor:
        """
        Args:
            student (Tensor): (B, C, H, W) logits.
            teacher (Tensor): (B, K_old, H, W) logits.
            labels (Tensor): (B, H, W) current labels.
            weights (Tensor): (C, K_old) similarity weights, row = current label.
        """
        k = teacher.shape[1]
        log_q = F.log_softmax(student[:, :k], dim=1)
        p = torch.softmax(teacher.detach(), dim=1)
        valid = labels != self.ignore_index
        w = weights.detach()[labels.clamp(max=weights.shape[0] - 1)]  # B, H, W, K
        per_pixel = -(w.permute(0, 3, 1, 2) * p * log_q).mean(1)
        if not valid.any():
            return student.sum() * 0
        return self.loss_weight * per_pixel[valid].mean()
