"""Logit distillation losses."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from clbox.registry import MODELS


@MODELS.register_module()
class KDLoss(nn.Module):
    """Knowledge distillation (Hinton et al., 2015) between student and teacher logits:
    ``KL(softmax(t / T) || softmax(s / T))`` averaged over the batch.

    LwF (Li & Hoiem, 2016, Sec. 3) uses T = 2 and weight 1 without the T^2 factor; Hinton et
    al. multiply by T^2 to keep gradient scales (``t_squared=True``).

    Args:
        temperature (float): T. Defaults to 2.0.
        loss_weight (float): Multiplier. Defaults to 1.0.
        t_squared (bool): Multiply by T^2. Defaults to False.
    """

    def __init__(self, temperature: float = 2.0, loss_weight: float = 1.0,
                 t_squared: bool = False):
        super().__init__()
        self.temperature = temperature
        self.loss_weight = loss_weight
        self.t_squared = t_squared

    def forward(self, student: torch.Tensor, teacher: torch.Tensor,
                classes: Optional[torch.Tensor] = None) -> torch.Tensor:
        """
        Args:
            student (Tensor): (B, C, ...) logits of the model being trained.
            teacher (Tensor): Logits of the same shape from the frozen teacher.
            classes (Tensor, optional): Class indices to distill (e.g. the old classes).
                Defaults to all.
        """
        if classes is not None:
            student, teacher = student[:, classes], teacher[:, classes]
        t = self.temperature
        log_p = F.log_softmax(student / t, dim=1)
        q = F.softmax(teacher.detach() / t, dim=1)
        loss = (q * (torch.log(q.clamp_min(1e-12)) - log_p)).sum(1).mean()
        return self.loss_weight * loss * (t * t if self.t_squared else 1.0)
