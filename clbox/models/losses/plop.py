"""PLOP's losses (Douillard et al., "PLOP: Learning without Forgetting for Continual Semantic
Segmentation", CVPR 2021, arXiv:2011.11390, Sec. 3): Local POD and entropy-based
pseudo-labelling."""
import math
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from clbox.registry import MODELS


def local_pod(x: torch.Tensor, scales: Sequence[int] = (1, 2, 4)) -> torch.Tensor:
    """Local POD embedding (PLOP Eq. 2-3): for every scale ``s`` the map is cut into
    ``s x s`` regions, and each region contributes its width-pooled and height-pooled
    means, all concatenated into a (B, D) embedding.

    Args:
        x (Tensor): (B, C, H, W) feature map.
        scales (Sequence[int]): Region grid sizes. Defaults to (1, 2, 4) (the paper's).
    """
    b, _, h, w = x.shape
    parts = []
    for s in scales:
        kh, kw = max(h // s, 1), max(w // s, 1)
        for i in range(s):
            for j in range(s):
                region = x[..., i * kh:(i + 1) * kh, j * kw:(j + 1) * kw]
                parts.append(region.mean(dim=3).reshape(b, -1))
                parts.append(region.mean(dim=2).reshape(b, -1))
    return torch.cat(parts, dim=1)


@MODELS.register_module()
class PODLoss(nn.Module):
    """Multi-scale pooled output distillation over a list of feature maps.

    Per layer: square the activations, take the :func:`local_pod` embeddings of student and
    teacher, their L2 distance per image, the batch mean, times the layer weight and
    ``sqrt(|classes seen| / |new classes|)`` (PLOP's adaptive factor); the layer losses are
    averaged. A student map with more channels than the teacher's (the logits) has its extra
    (new-class) channels summed into channel 0, the background (PLOP's ``extra_channels=
    'sum'``). Defaults follow PLOP's VOC script: weight 0.01 for the feature layers and 0.0005
    for the last (the logits).

    Args:
        scales (Sequence[int]): Defaults to (1, 2, 4).
        layer_weight (float): Weight of every layer but the last. Defaults to 0.01.
        last_weight (float, optional): Weight of the last layer. Defaults to 0.0005.
        loss_weight (float): Overall multiplier. Defaults to 1.0.
    """

    def __init__(self, scales: Sequence[int] = (1, 2, 4), layer_weight: float = 0.01,
                 last_weight: Optional[float] = 0.0005, loss_weight: float = 1.0):
        super().__init__()
        self.scales = tuple(scales)
        self.layer_weight = layer_weight
        self.last_weight = layer_weight if last_weight is None else last_weight
        self.loss_weight = loss_weight

    def forward(self, student: List[torch.Tensor], teacher: List[torch.Tensor],
                num_seen: int = 1, num_new: int = 1) -> torch.Tensor:
        """
        Args:
            student (list[Tensor]): (B, C, H, W) maps of the model being trained.
            teacher (list[Tensor]): The teacher's maps, same shapes (the last may have fewer
                channels).
            num_seen (int): Classes after this step (incl. background). Defaults to 1.
            num_new (int): Classes added this step. Defaults to 1.
        """
        if len(student) != len(teacher) or not student:
            raise ValueError(f'PODLoss needs equally long, non-empty lists; got '
                             f'{len(student)} and {len(teacher)} maps.')
        factor = math.sqrt(num_seen / max(num_new, 1))
        total = student[0].new_zeros(())
        for i, (a, b) in enumerate(zip(student, teacher)):
            b = b.detach()
            if a.shape[1] > b.shape[1]:
                a = torch.cat([a[:, :1] + a[:, b.shape[1]:].sum(1, keepdim=True),
                               a[:, 1:b.shape[1]]], dim=1)
            dist = (local_pod(a.pow(2), self.scales) -
                    local_pod(b.pow(2), self.scales)).norm(dim=1).mean()
            weight = self.last_weight if i == len(student) - 1 else self.layer_weight
            total = total + weight * factor * dist
        return self.loss_weight * total / len(student)


def normalized_entropy(probs: torch.Tensor) -> torch.Tensor:
    """Per-pixel Shannon entropy divided by ``log C`` (in [0, 1]); (B, C, H, W) -> (B, H, W)."""
    c = probs.shape[1]
    ent = -(probs * torch.log(probs.clamp_min(1e-8))).sum(1)
    return ent / math.log(c) if c > 1 else ent * 0


def median_thresholds(entropies: torch.Tensor, classes: torch.Tensor, num_classes: int,
                      min_threshold: float = 0.001) -> torch.Tensor:
    """Per-class median of the normalised entropy of background pixels, each at least
    ``min_threshold`` (PLOP Sec. 3.2; PLOP's code floors the median with 0.001). Classes never
    predicted get ``min_threshold``.

    Args:
        entropies (Tensor): (N,) normalised entropies of background pixels.
        classes (Tensor): (N,) the teacher's argmax class of those pixels.
        num_classes (int): Teacher classes.
        min_threshold (float): Floor. Defaults to 0.001.
    """
    out = torch.full((num_classes,), float(min_threshold))
    for c in range(num_classes):
        values = entropies[classes == c]
        if values.numel():
            out[c] = max(float(values.median()), min_threshold)
    return out


def entropy_pseudo_labels(labels: torch.Tensor, teacher_logits: torch.Tensor,
                          thresholds: torch.Tensor, ignore_index: int = 255):
    """PLOP's pseudo-labels: background pixels get the teacher's class when its normalised
    entropy is below that class's threshold, otherwise they are ignored.

    Args:
        labels (Tensor): (B, H, W) current labels (0 = background, new classes, 255).
        teacher_logits (Tensor): (B, C_old, H, W).
        thresholds (Tensor): (C_old,) per-class entropy thresholds.
        ignore_index (int): Defaults to 255.

    Returns:
        tuple: ``(labels, factor)``; ``factor`` (B,) is the share of confident background
        pixels per image (PLOP's ``classif_adaptive_factor``; 1 where there is no background).
    """
    probs = torch.softmax(teacher_logits.detach(), dim=1)
    pseudo = probs.argmax(1)
    confident = normalized_entropy(probs) < thresholds.to(probs.device)[pseudo]
    background = labels == 0
    out = labels.clone()
    out[background & ~confident] = ignore_index
    out[background & confident] = pseudo[background & confident]
    num = (background & confident).flatten(1).sum(1).float()
    den = background.flatten(1).sum(1).float()
    factor = torch.where(den > 0, num / den.clamp_min(1), torch.ones_like(den))
    return out, factor
