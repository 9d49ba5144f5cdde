"""PLOP's losses (Douillard et al., "PLOP: Learning without Forgetting for Continual Semantic
Segmentation", CVPR 2021, arXiv:2011.11390, Sec. 3): Local POD and entropy-based
pseudo-labelling.

Reference code: github.com/arthurdouillard/CVPR2021_PLOP (``train.py``; the line numbers
below are of its ``main`` branch, commit 4b4a060). Each default reproduces it; the corrected
or earlier clbox behaviour is one argument away.
"""
import math
from typing import List, Optional, Sequence

import torch
from torch import nn

from clbox.registry import MODELS

#: ``local_pod`` region sizes: ``'width'`` = the reference's ``W // s`` on both axes.
REGION_SIZES = ('width', 'per_axis')
#: Entropy scales of the pseudo-labels: the reference's, or ``H / log C``.
ENTROPY_SCALES = ('reference', 'normalized')
#: The reference adds this to the background pixel count of ``classif_adaptive_factor``
#: (``train.py`` line 292).
ADAPTIVE_FACTOR_EPS = 1e-6


# ------------------------------------------------------------------------------ Local POD
def local_pod(x: torch.Tensor, scales: Sequence[int] = (1, 2, 4),
              region_size: str = 'width') -> torch.Tensor:
    """Local POD embedding (PLOP Eq. 2-3; ``_local_pod``, ``train.py`` lines 979-1014): for
    every scale ``s`` the map is cut into ``s x s`` regions, each contributing its
    width-pooled then its height-pooled means, all concatenated into a (B, D) embedding.

    Args:
        x (Tensor): (B, C, H, W) feature map.
        scales (Sequence[int]): Region grid sizes. Defaults to (1, 2, 4) (the paper's).
        region_size (str): ``'width'`` (reference, line 985): regions of ``k = W // s`` rows
            and columns on both axes, the last ``W mod s`` rows/columns dropped (the
            reference's crops are square); ``'per_axis'`` (earlier clbox): ``H // s`` rows and
            ``W // s`` columns, at least 1. Defaults to 'width'.

    Raises:
        ValueError: ``region_size='width'`` on a map too small or too flat for its regions.
    """
    if region_size not in REGION_SIZES:
        raise ValueError(f'local_pod: region_size must be one of {list(REGION_SIZES)}, '
                         f'got {region_size!r}.')
    b, _, h, w = x.shape
    parts = []
    for s in scales:
        if region_size == 'width':
            kh = kw = w // s
            if kw < 1 or (s - 1) * kh >= h:
                raise ValueError(
                    f'local_pod: a {h}x{w} map has empty {kw}x{kw} regions at scale {s} with '
                    "region_size='width' (the reference's W // s on both axes, for square "
                    "maps); use PODLoss(region_size='per_axis') for such maps.")
        else:
            kh, kw = max(h // s, 1), max(w // s, 1)
        for i in range(s):
            for j in range(s):
                region = x[..., i * kh:(i + 1) * kh, j * kw:(j + 1) * kw]
                parts.append(region.mean(dim=3).reshape(b, -1))
                parts.append(region.mean(dim=2).reshape(b, -1))
    return torch.cat(parts, dim=1)


def sum_new_into_background(student: torch.Tensor, num_old: int) -> torch.Tensor:
    """The student's logits with its new-class channels summed into channel 0 (PLOP's
    ``extra_channels='sum'``, ``train.py`` lines 825-829); (B, C, H, W) -> (B, num_old, H, W)."""
    return torch.cat([student[:, :1] + student[:, num_old:].sum(1, keepdim=True),
                      student[:, 1:num_old]], dim=1)


@MODELS.register_module()
class PODLoss(nn.Module):
    """Multi-scale pooled output distillation over a list of feature maps
    (``features_distillation`` with ``collapse_channels='local'``, ``train.py`` lines
    716-972).

    Per layer: square the activations (``prepro='pow'``, lines 839-841), take the
    :func:`local_pod` embeddings of student and teacher without any normalisation (line
    754 forces ``normalize=False``), their L2 distance per image (line 934), the batch mean
    (line 963), times the layer weight and ``sqrt(|classes seen| / |new classes|)``
    (``use_pod_schedule``, lines 967-969); the layer losses are summed and divided by the
    number of layers (line 972). A student map with more channels than the teacher's (the
    logits) has its extra (new-class) channels summed into channel 0, the background
    (lines 825-829). Defaults follow PLOP's ``--method PLOP`` (``argparser.py`` lines
    49-53): weight 0.01 for the feature layers and 0.0005 for the last (the logits). The
    squares are taken in float32 (the reference's apex O1 runs ``pow`` in float32).

    Args:
        scales (Sequence[int]): Defaults to (1, 2, 4) (``spp_scales``, line 730).
        layer_weight (float): Weight of every layer but the last (``--pod_factor``).
            Defaults to 0.01.
        last_weight (float, optional): Weight of the last layer (``pod_options`` ``after``
            ``factor``). Defaults to 0.0005.
        loss_weight (float): Overall multiplier. Defaults to 1.0.
        region_size (str): See :func:`local_pod`. Defaults to 'width' (reference).
    """

    def __init__(self, scales: Sequence[int] = (1, 2, 4), layer_weight: float = 0.01,
                 last_weight: Optional[float] = 0.0005, loss_weight: float = 1.0,
                 region_size: str = 'width'):
        super().__init__()
        if not scales or any(not isinstance(s, int) or s < 1 for s in scales):
            raise ValueError(f'PODLoss: scales must be positive ints, got {scales!r} '
                             '(the paper uses (1, 2, 4)).')
        if region_size not in REGION_SIZES:
            raise ValueError(f'PODLoss: region_size must be one of {list(REGION_SIZES)}, got '
                             f"{region_size!r} ('width' is the reference's).")
        self.scales = tuple(scales)
        self.layer_weight = layer_weight
        self.last_weight = layer_weight if last_weight is None else last_weight
        self.loss_weight = loss_weight
        self.region_size = region_size

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
        total = student[0].new_zeros((), dtype=torch.float32)
        for i, (a, b) in enumerate(zip(student, teacher)):
            b = b.detach()
            if a.shape[1] > b.shape[1]:
                a = sum_new_into_background(a, b.shape[1])
            if a.shape != b.shape:
                raise ValueError(f'PODLoss: map {i} of the student is {tuple(a.shape)} but '
                                 f"the teacher's is {tuple(b.shape)}.")
            dist = (local_pod(a.float().pow(2), self.scales, self.region_size) -
                    local_pod(b.float().pow(2), self.scales, self.region_size)
                    ).norm(dim=1).mean()
            weight = self.last_weight if i == len(student) - 1 else self.layer_weight
            total = total + weight * factor * dist
        return self.loss_weight * total / len(student)


# ------------------------------------------------------------------ entropy pseudo-labels
def normalized_entropy(probs: torch.Tensor) -> torch.Tensor:
    """Per-pixel Shannon entropy divided by ``log C`` (in [0, 1]); (B, C, H, W) -> (B, H, W)."""
    c = probs.shape[1]
    ent = -(probs * torch.log(probs.clamp_min(1e-8))).sum(1)
    return ent / math.log(c) if c > 1 else ent * 0


def reference_entropy(probs: torch.Tensor, num_current: int) -> torch.Tensor:
    """The entropy scale of PLOP's code: ``entropy()`` (``train.py`` lines 701-713) averages
    ``-p log(p + 1e-8)`` over the teacher's ``C`` channels and divides by ``log C``; the
    pseudo-labelling then divides by ``log(num_current)`` (``max_value``, lines 514 and
    535; 256-257): ``H / (C * log C * log num_current)``, at most ``1 / (C log num_current)``
    (0.022 on VOC 15-1, 0.002 on ADE 100-50), i.e. within the first 1-3 of the 100 bins.

    Args:
        probs (Tensor): (B, C, H, W) teacher probabilities.
        num_current (int): Classes of the current step, incl. background
            (``nb_current_classes``).
    """
    if num_current < 2:
        raise ValueError(f'reference_entropy: num_current must be >= 2 (classes of the step, '
                         f'incl. background), got {num_current!r}.')
    c = probs.shape[1]
    ent = -torch.mean(probs * torch.log(probs + 1e-8), dim=1) / math.log(c + 1e-8)
    return ent / math.log(num_current)


def pseudo_label_entropy(probs: torch.Tensor, scale: str = 'reference',
                         num_current: Optional[int] = None) -> torch.Tensor:
    """The teacher's per-pixel entropy on the scale of the thresholds.

    Args:
        probs (Tensor): (B, C, H, W) teacher probabilities.
        scale (str): ``'reference'`` (:func:`reference_entropy`) or ``'normalized'``
            (:func:`normalized_entropy`). Defaults to 'reference'.
        num_current (int, optional): Needed by ``'reference'``.
    """
    if scale not in ENTROPY_SCALES:
        raise ValueError(f'entropy_scale must be one of {list(ENTROPY_SCALES)}, got '
                         f"{scale!r} ('reference' is PLOP's code).")
    if scale == 'normalized':
        return normalized_entropy(probs)
    if num_current is None:
        raise ValueError("entropy_scale='reference' needs num_current (the step's classes, "
                         'incl. background).')
    return reference_entropy(probs, num_current)


def entropy_histogram(values: torch.Tensor, classes: torch.Tensor, num_classes: int,
                      bins: int = 100) -> torch.Tensor:
    """Counts of ``values`` per (class, bin) over ``bins`` bins of width ``1 / bins`` on
    [0, 1], values past 1 in the last bin (``train.py`` lines 539-546).

    Args:
        values (Tensor): (N,) entropies of background pixels.
        classes (Tensor): (N,) the teacher's argmax class of those pixels.
        num_classes (int): Rows.
        bins (int): Defaults to 100 (line 515).

    Returns:
        Tensor: (num_classes, bins) long counts.
    """
    index = torch.clamp((values * bins).long(), min=0, max=bins - 1)
    flat = classes.long() * bins + index
    return torch.bincount(flat, minlength=num_classes * bins).view(num_classes, bins)


def _ratio(num: float, den: float) -> float:
    """``num / den`` with float-tensor semantics: +-inf, or nan for 0 / 0."""
    if den:
        return num / den
    return math.nan if num == 0 else math.copysign(math.inf, num)


def histogram_median(histogram: torch.Tensor) -> torch.Tensor:
    """PLOP's median read from a histogram (``find_median``, ``train.py`` lines 556-573),
    its quirks included, per row.

    For a row with ``total`` counts and ``half = total / 2`` it walks the bins ``b`` with a
    running sum ``r`` (from 0), stops at the first bin with ``r <= half <= r + h[b]`` and
    returns ``b / bins + (half - r) / h[b] / bins``. The quirks: ``r`` grows by the bin
    *index* (``lower_border * nb_bins``, line 568), not by the bin's count, so the bins below
    the stop are not counted; the index is ``int((b / bins) * bins)`` (29, 57 and 58 become
    28, 56 and 57 with 100 bins); without a stop the walk ends on the last bin (then, with an
    empty last bin, the median is +inf (every pixel kept), -inf or nan). A row without counts
    gives 0 (line 559; the floor then applies).

    Args:
        histogram (Tensor): (C, bins) counts (:func:`entropy_histogram`).

    Returns:
        Tensor: (C,) float32 medians.
    """
    rows, bins = histogram.shape
    out = torch.zeros(rows, dtype=torch.float64)
    for c, counts in enumerate(histogram.tolist()):
        total = sum(counts)
        if total <= 0:
            continue
        half = total / 2
        running = 0.0
        for b in range(bins):
            lower = b / bins
            index = int(lower * bins)
            if running <= half <= running + counts[index]:
                break
            running += lower * bins
        out[c] = lower + _ratio(half - running, counts[index]) * (1 / bins)
    return out.float()


def floor_thresholds(thresholds: torch.Tensor, min_threshold: float) -> torch.Tensor:
    """``max(threshold, min_threshold)`` per class as Python's ``max`` does it (``train.py``
    lines 582-584): a nan threshold stays nan (no pixel passes it)."""
    floor = torch.full_like(thresholds, float(min_threshold))
    return torch.where(floor > thresholds, floor, thresholds)


def histogram_thresholds(histogram: torch.Tensor, min_threshold: float = 0.001
                         ) -> torch.Tensor:
    """PLOP's thresholds: :func:`histogram_median` of each class, floored at
    ``min_threshold`` (``--threshold 0.001``, ``argparser.py`` line 55)."""
    return floor_thresholds(histogram_median(histogram), min_threshold)


def median_thresholds(entropies: torch.Tensor, classes: torch.Tensor, num_classes: int,
                      min_threshold: float = 0.001) -> torch.Tensor:
    """The corrected variant: the exact per-class median (the lower middle value) of the
    background pixels' entropies, each at least ``min_threshold`` (PLOP Sec. 3.2). Classes
    never predicted get ``min_threshold``.

    Args:
        entropies (Tensor): (N,) entropies of background pixels.
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
                          thresholds: torch.Tensor, ignore_index: int = 255,
                          entropy_scale: str = 'reference', num_current: Optional[int] = None,
                          no_background_weight: float = 0.0):
    """PLOP's pseudo-labels (``train.py`` lines 228-293): on the old-class pixels of the
    labels (``labels < C_old``, the background in the overlap setting, line 230), the
    teacher's class where its entropy is below that class's threshold, otherwise
    ``ignore_index``.

    Args:
        labels (Tensor): (B, H, W) current labels (0 = background, new classes, 255).
        teacher_logits (Tensor): (B, C_old, H, W).
        thresholds (Tensor): (C_old,) per-class entropy thresholds.
        ignore_index (int): Defaults to 255.
        entropy_scale (str): See :func:`pseudo_label_entropy`. Defaults to 'reference'.
        num_current (int, optional): The step's classes incl. background; needed by
            ``entropy_scale='reference'``.
        no_background_weight (float): Factor of an image without background pixels.
            Defaults to 0.0 (the reference's ``num / (den + 1e-6)``, whose epsilon commit
            b70fb8f added: before it, and in REMINDER's fork, such an image gave NaN); the
            earlier clbox value was 1.0.

    Returns:
        tuple: ``(labels, factor)``; ``factor`` (B,) is each image's ``classif_adaptive_
        factor``: confident background pixels / (background pixels + 1e-6) (lines 284-293).
    """
    probs = torch.softmax(teacher_logits.detach().float(), dim=1)
    pseudo = probs.argmax(1)
    ent = pseudo_label_entropy(probs, entropy_scale, num_current)
    confident = ent < thresholds.to(probs.device)[pseudo]
    background = labels < teacher_logits.shape[1]
    out = labels.clone()
    out[background & ~confident] = ignore_index
    out[background & confident] = pseudo[background & confident]
    num = (background & confident).flatten(1).sum(1).float()
    den = background.flatten(1).sum(1).float()
    factor = torch.where(den > 0, num / (den + ADAPTIVE_FACTOR_EPS),
                         torch.full_like(den, float(no_background_weight)))
    return out, factor
