"""REMINDER's class-similarity weighted distillation (Phan et al., "Class Similarity Weighted
Knowledge Distillation for Continual Semantic Segmentation", CVPR 2022, Sec. 3.2-3.3).

Reference code: github.com/HieuPhan33/REMINDER (``train.py``, ``utils/loss.py``); the line
numbers below are of its ``master`` branch.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from clbox.registry import MODELS


def interpolation_matrix(out_size: int, in_size: int, align_corners: bool = True,
                         device=None, dtype=torch.float32) -> torch.Tensor:
    """The (out_size, in_size) matrix of 1-D linear interpolation: row ``p`` holds the
    weights of the input positions that make output position ``p``.

    Bilinear resizing is separable, ``up(f) = W_h f W_w^T``, so sums of upsampled features
    over a mask are ``<W_h^T M W_w, f>`` without ever materialising ``up(f)``.
    """
    eye = torch.eye(in_size, device=device, dtype=dtype)[None]  # (1, in, in): one-hot rows
    return F.interpolate(eye, size=out_size, mode='linear',
                         align_corners=align_corners)[0].t()


def class_prototypes(features: torch.Tensor, labels: torch.Tensor, num_classes: int,
                     ignore_index: int = 255, classes: Optional[Sequence[int]] = None,
                     align_corners: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-class sums of feature vectors and pixel counts, at label resolution.

    As REMINDER's ``compute_prototype`` (``train.py`` lines 20-31): the features are
    upsampled bilinearly (``align_corners=True``) to the label map and averaged over the
    pixels of each class. The upsampled map is never built (at 512x512 with 512 channels it
    would take gigabytes): the class masks are mapped back through the transposed
    interpolation instead, which gives the same sums.

    Args:
        features (Tensor): (B, D, h, w) features.
        labels (Tensor): (B, H, W) labels.
        num_classes (int): Rows of the result.
        ignore_index (int): Skipped label. Defaults to 255.
        classes (Sequence[int], optional): The classes to collect (REMINDER collects only
            the step's new classes, ``train.py`` lines 433 and 640); the other rows stay 0.
            Defaults to None (all ``num_classes``).
        align_corners (bool): Of the upsampling. Defaults to True (``train.py`` line 24).

    Returns:
        tuple: ``(sums (K, D), counts (K,))``; prototypes are ``sums / counts``.
    """
    if features.dim() != 4 or labels.dim() != 3 or features.shape[0] != labels.shape[0]:
        raise ValueError(f'class_prototypes needs (B, D, h, w) features and (B, H, W) labels, '
                         f'got {tuple(features.shape)} and {tuple(labels.shape)}.')
    feats = features.float()
    d, (h, w), (hh, ww) = feats.shape[1], feats.shape[-2:], labels.shape[-2:]
    sums = feats.new_zeros(num_classes, d)
    counts = feats.new_zeros(num_classes)
    wanted = set(range(num_classes)) if classes is None else set(int(c) for c in classes)
    present = [c for c in labels.unique().tolist()
               if c != ignore_index and c in wanted and 0 <= c < num_classes]
    if not present:
        return sums, counts
    with full_precision(feats.device):  # sums over ~10^6 pixels overflow half precision
        wy = interpolation_matrix(hh, h, align_corners, feats.device)   # (H, h)
        wx = interpolation_matrix(ww, w, align_corners, feats.device)   # (W, w)
        for c in present:
            mask = (labels == c).to(feats.dtype)                          # (B, H, W)
            pulled = torch.einsum('bHW,Hh,Ww->bhw', mask, wy, wx)          # at feature size
            sums[c] = torch.einsum('bhw,bdhw->d', pulled, feats)
            counts[c] = mask.sum()
    return sums, counts


def full_precision(device: torch.device):
    """A context without autocast (AMP) on ``device``."""
    return torch.autocast(device_type=device.type, enabled=False)


def similarity_weights(current: torch.Tensor, old: torch.Tensor,
                       delta: float = 0.0) -> torch.Tensor:
    """REMINDER's class-similarity weights ``w[c, k]`` (Eq. 5-6; ``utils/loss.py`` lines
    354-357): softmax over the old classes ``k`` of the cosine similarity between prototype
    ``c`` and old prototype ``k``; weights below ``delta / K_old`` are set to 0. A zero
    prototype has similarity 0 with everything (``pairwise_cosine_sim`` maps NaN to 0,
    ``utils/loss.py`` line 277).

    The cosines are not scaled, so the weights stay close to uniform: with cosines in
    [0, 1] (post-ReLU prototypes) the largest is ``e / (e + K_old - 1)``. Hence REMINDER
    uses ``delta = 0`` (no dropping) on VOC and ``delta = 1`` (drop below the uniform
    weight) on ADE20K.

    Args:
        current (Tensor): (K, D) prototypes of the labels.
        old (Tensor): (K_old, D) prototypes of the old classes.
        delta (float): Threshold factor (REMINDER's ``--delta_csw``). Defaults to 0.
    """
    if delta < 0:
        raise ValueError(f'similarity_weights: delta must be >= 0, got {delta!r}.')
    with full_precision(current.device):
        sim = F.normalize(current.float(), dim=1) @ F.normalize(old.float(), dim=1).t()
        w = torch.softmax(sim, dim=1)
    return torch.where(w < delta / old.shape[0], torch.zeros_like(w), w)


@MODELS.register_module()
class CSWKDLoss(nn.Module):
    """Class-similarity weighted KD (REMINDER Eq. 7; ``ClassSimilarityWeightedKD``,
    ``utils/loss.py`` lines 326-364): over the selected pixels ``n`` (REMINDER: those of the
    step's new classes), with ``c_n`` the pixel's label,

    ``T^2 / N * sum_n sum_k -(w[c_n, k] * p_k(n) + eps) * log q_k(n)``

    where ``p = softmax(teacher / T)``, ``q = softmax(student[:K_old] / T)``, ``w`` the
    :func:`similarity_weights` and ``N`` the number of selected pixels: a sum over the old
    classes and a mean over pixels, scaled by ``T^2``.

    ``eps`` reproduces the ``+ 10 ** (-7)`` the reference adds to every weighted teacher
    probability (line 361, a quirk: it adds ``eps * sum_k -log q_k``, a small pull of the
    student towards uniform old-class outputs); ``teacher_eps=0`` removes it. With no
    selected pixel the reference divides 0 by 0 (NaN); this returns 0.

    Args:
        loss_weight (float): Multiplier. Defaults to 0.5 (``--csw_kd``: ``argparser.py``
            line 67 for ``--method REMINDER``; ``scripts/ade/reminder_100-50.sh`` line 19).
        temperature (float): ``T``. Defaults to 3 (``utils/loss.py`` line 327; ``train.py``
            line 123 passes none).
        teacher_eps (float): Added to the weighted teacher probabilities. Defaults to 1e-7
            (the reference's).
        ignore_index (int): Defaults to 255.
    """

    def __init__(self, loss_weight: float = 0.5, temperature: float = 3.0,
                 teacher_eps: float = 1e-7, ignore_index: int = 255):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f'CSWKDLoss: temperature must be > 0, got {temperature!r} '
                             '(REMINDER uses 3).')
        if teacher_eps < 0:
            raise ValueError(f'CSWKDLoss: teacher_eps must be >= 0, got {teacher_eps!r} '
                             '(1e-7 as the reference, 0 without its offset).')
        self.loss_weight = loss_weight
        self.temperature = float(temperature)
        self.teacher_eps = float(teacher_eps)
        self.ignore_index = ignore_index

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor,
                weights: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """
        Args:
            student (Tensor): (B, C, H, W) logits (C >= K_old).
            teacher (Tensor): (B, K_old, H, W) logits.
            labels (Tensor): (B, H, W) labels; they pick the rows of ``weights``.
            weights (Tensor): (K, K_old) similarity weights, row = label.
            mask (Tensor, optional): (B, H, W) bool, the pixels distilled. Defaults to the
                pixels that are not ignored.
        """
        k = teacher.shape[1]
        if weights.dim() != 2 or weights.shape[1] != k:
            raise ValueError(f'CSWKDLoss: weights must be (K, {k}) for a teacher with {k} '
                             f'channels, got {tuple(weights.shape)}.')
        if mask is None:
            mask = labels != self.ignore_index
        mask = mask & (labels != self.ignore_index)
        if not mask.any():
            return student.sum() * 0
        lab = labels[mask]
        if int(lab.max()) >= weights.shape[0]:
            raise ValueError(f'CSWKDLoss: label {int(lab.max())} has no row in the '
                             f'{weights.shape[0]}-row similarity weights.')
        t = self.temperature
        with full_precision(student.device):
            s = student[:, :k].permute(0, 2, 3, 1)[mask].float()      # (N, K_old)
            p = torch.softmax(teacher.detach().permute(0, 2, 3, 1)[mask].float() / t, dim=1)
            target = p * weights.detach().to(p)[lab] + self.teacher_eps
            log_q = F.log_softmax(s / t, dim=1)
            loss = t * t * (-(target * log_q)).sum() / lab.numel()
        return self.loss_weight * loss
