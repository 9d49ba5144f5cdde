"""Re-weighted classification losses of the SSLAD 2021 Track 3A 3rd-place solution.

Facts from ``mrifkikurniawan/sslad`` @v4.3 (``loss.py``; ``../shared/specs/sslad-3a.md``
sec. 3.4 and rows 7-9 of sec. 4):

* :class:`SoftmaxFocalLoss` is ``loss.FocalLoss``: per sample
  ``-alpha * w_y * (1 - p_y)^gamma * ln(p_y)`` with ``p = softmax + 1e-6`` (the epsilon is
  added to every probability, inside the power too), then averaged over the batch (not a
  weighted mean). With the solution's ``gamma = 0`` it is ``alpha`` x (weighted) CE.
* :class:`ClassBalancedLoss` is ``loss.ClassBalancedLoss``: the class weights
  ``(1 - beta) / (1 - beta^n_c)`` (Cui et al.'s effective number, CVPR 2019) with ``n_c`` the
  count of class ``c`` **in the current batch** plus 1e-6, not normalised, given to the
  wrapped loss.
* :class:`CostSensitiveLoss` is ``loss.CostSenstiveLoss`` around ``F.cross_entropy``: the
  weights ``min_{c >= 1}(n_c) / n_c`` from the batch (index 0 is never a label), and
  PyTorch's weighted mean ``sum(w_y ce) / sum(w_y)``, i.e. per-batch inverse-frequency CE.

All three take mmpretrain's loss call ``(cls_score, label, weight=None, avg_factor=None,
reduction_override=None)`` so they drop into a head's ``loss`` config.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from clbox.registry import MODELS


def _labels(label: torch.Tensor) -> torch.Tensor:
    return label.argmax(1) if label.dim() == 2 else label.reshape(-1).long()


def batch_class_counts(label: torch.Tensor, num_classes: int,
                       eps: float = 1e-6) -> torch.Tensor:
    """(num_classes,) float counts of each class in the batch, plus ``eps`` (the
    reference's ``get_batch_distribution(...) + 1e-6``)."""
    counts = torch.bincount(_labels(label), minlength=num_classes)[:num_classes]
    return counts.float() + eps


@MODELS.register_module()
class SoftmaxFocalLoss(nn.Module):
    """Focal loss on softmax probabilities (Lin et al., ICCV 2017), in the reference's form.

    Args:
        alpha (float): Multiplier of every term. Defaults to 0.5 (the solution's).
        gamma (float): Focusing exponent. Defaults to 0.0 (the solution's: no focusing,
            spec sec. 5 item 2).
        eps (float): Added to every softmax probability. Defaults to 1e-6.
        reduction (str): 'mean', 'sum' or 'none'. Defaults to 'mean'.
        loss_weight (float): Multiplier of the result. Defaults to 1.0.
    """

    def __init__(self, alpha: float = 0.5, gamma: float = 0.0, eps: float = 1e-6,
                 reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__()
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f"SoftmaxFocalLoss: reduction must be 'mean', 'sum' or 'none', "
                             f'got {reduction!r}.')
        self.alpha, self.gamma, self.eps = float(alpha), float(gamma), float(eps)
        self.reduction, self.loss_weight = reduction, float(loss_weight)

    def per_sample(self, cls_score: torch.Tensor, label: torch.Tensor,
                   class_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B,) losses, each class weighted by ``class_weight`` (C,) when given."""
        label = _labels(label)
        p = F.softmax(cls_score, dim=1) + self.eps
        focal = -self.alpha * torch.pow(1. - p, self.gamma) * torch.log(p)
        term = focal.gather(1, label[:, None]).squeeze(1)
        if class_weight is not None:
            term = term * class_weight.to(term)[label]
        return term

    def forward(self, cls_score, label, weight=None, avg_factor=None,
                reduction_override=None, class_weight=None):
        loss = self.per_sample(cls_score, label, class_weight)
        if weight is not None:
            loss = loss * weight.reshape(-1).to(loss)
        reduction = reduction_override or self.reduction
        if reduction == 'mean':
            loss = loss.sum() / avg_factor if avg_factor is not None else loss.mean()
        elif reduction == 'sum':
            loss = loss.sum()
        return self.loss_weight * loss


@MODELS.register_module()
class ClassBalancedLoss(nn.Module):
    """Class-balanced loss with effective-number weights counted per batch.

    Args:
        loss (dict): The wrapped loss; it receives ``class_weight``. Defaults to
            ``SoftmaxFocalLoss(alpha=0.5, gamma=0)`` (row 9 of the solution).
        beta (float): Defaults to 0.81 (the solution's ``configs/cl_strategy.yaml``).
        num_classes (int): Defaults to 7 (the challenge's logits).
        eps (float): Added to each count. Defaults to 1e-6.
        loss_weight (float): Defaults to 1.0.
    """

    def __init__(self, loss: Optional[dict] = None, beta: float = 0.81, num_classes: int = 7,
                 eps: float = 1e-6, loss_weight: float = 1.0):
        super().__init__()
        if not 0. <= beta < 1.:
            raise ValueError(f'ClassBalancedLoss: beta must be in [0, 1), got {beta}.')
        self.loss = MODELS.build(loss if loss is not None else
                                 dict(type='SoftmaxFocalLoss', alpha=0.5, gamma=0.0))
        self.beta, self.num_classes = float(beta), int(num_classes)
        self.eps, self.loss_weight = float(eps), float(loss_weight)

    def class_weights(self, label: torch.Tensor) -> torch.Tensor:
        """(C,) weights ``(1 - beta) / (1 - beta^(n_c + eps))`` of this batch."""
        counts = batch_class_counts(label, self.num_classes, self.eps)
        beta = torch.tensor(self.beta)
        return (1. - beta) / (1. - beta ** counts)

    def forward(self, cls_score, label, weight=None, avg_factor=None,
                reduction_override=None):
        class_weight = self.class_weights(label).to(cls_score)
        return self.loss_weight * self.loss(cls_score, label, weight=weight,
                                            avg_factor=avg_factor,
                                            reduction_override=reduction_override,
                                            class_weight=class_weight)


@MODELS.register_module()
class CostSensitiveLoss(nn.Module):
    """Cross-entropy weighted by the inverse class frequency of the batch (row 8).

    Args:
        num_classes (int): Defaults to 7.
        eps (float): Added to each count. Defaults to 1e-6.
        loss_weight (float): Defaults to 1.0.
    """

    def __init__(self, num_classes: int = 7, eps: float = 1e-6, loss_weight: float = 1.0):
        super().__init__()
        self.num_classes, self.eps, self.loss_weight = int(num_classes), float(eps), \
            float(loss_weight)

    def class_weights(self, label: torch.Tensor) -> torch.Tensor:
        """(C,) weights ``min_{c >= 1} n_c / n_c`` of this batch."""
        counts = batch_class_counts(label, self.num_classes, self.eps)
        return counts[1:].min() / counts

    def forward(self, cls_score, label, weight=None, avg_factor=None,
                reduction_override=None):
        if weight is not None:
            raise ValueError('CostSensitiveLoss: per-sample weights are not supported (its '
                             'class weights already come from the batch).')
        class_weight = self.class_weights(label).to(cls_score)
        reduction = reduction_override or 'mean'
        return self.loss_weight * F.cross_entropy(cls_score, _labels(label),
                                                  weight=class_weight, reduction=reduction)
