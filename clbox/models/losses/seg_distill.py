"""Output and feature distillation for segmentation (LwF, ILT, LwF-MC baselines as
implemented in MiB's code, github.com/fcdl94/MiB ``utils/loss.py``)."""
import torch
import torch.nn.functional as F
from torch import nn

from clbox.registry import MODELS


@MODELS.register_module()
class SegKDLoss(nn.Module):
    """Per-pixel distillation of the old-class distribution: the student's old channels
    ``x[:, :C_old]`` are softmax-normalised among themselves and matched to the teacher,
    ``-1/C_old * sum_k p_k log q_k`` per pixel, averaged over pixels (MiB's
    ``KnowledgeDistillationLoss``; used by LwF and ILT in MiB's benchmark).

    Args:
        alpha (float): Scale of the teacher logits. Defaults to 1.0.
        loss_weight (float): Multiplier. Defaults to 1.0.
    """

    def __init__(self, alpha: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        self.alpha = alpha
        self.loss_weight = loss_weight

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        num_old = teacher.shape[1]
        log_q = F.log_softmax(student[:, :num_old], dim=1)
        p = torch.softmax(teacher.detach() * self.alpha, dim=1)
        return -self.loss_weight * (p * log_q).mean(1).mean()


@MODELS.register_module()
class SegBCEDistillLoss(nn.Module):
    """iCaRL-style sigmoid distillation for LwF-MC (Rebuffi et al., CVPR 2017): binary
    cross-entropy between the student's old logits and the teacher's sigmoid outputs, summed
    over old classes and averaged over pixels (MiB's ``icarl_combined``:
    ``C_old * BCEWithLogits(mean)``).

    Args:
        loss_weight (float): Multiplier (MiB uses 10). Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        num_old = teacher.shape[1]
        loss = F.binary_cross_entropy_with_logits(student[:, :num_old],
                                                  torch.sigmoid(teacher.detach()))
        return self.loss_weight * num_old * loss


@MODELS.register_module()
class FeatureL2Loss(nn.Module):
    """Mean squared distance between student and teacher feature maps (ILT's encoder
    distillation, Michieli & Zanuttigh, ICCVW 2019, arXiv:1907.13372).

    Args:
        loss_weight (float): Multiplier (MiB's benchmark uses 100). Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * F.mse_loss(student, teacher.detach())
