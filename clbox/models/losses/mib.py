"""MiB's unbiased losses (Cermelli et al., "Modeling the Background for Incremental Learning
in Semantic Segmentation", CVPR 2020, arXiv:2002.00718, Sec. 3.2-3.3).

Channels are ordered ``[background, old classes..., new classes...]``; ``num_old`` counts the
background and the old classes (the teacher's channels).
"""
import torch
import torch.nn.functional as F
from torch import nn

from clbox.registry import MODELS


@MODELS.register_module()
class UnbiasedCrossEntropy(nn.Module):
    """Unbiased cross-entropy (MiB Eq. 4): a pixel labelled background may be any old class,
    so its probability is the sum over background and old classes:
    ``p(bg) = sum_{k < num_old} softmax(x)_k``; new classes keep their softmax probability.
    The mean is over non-ignored pixels.

    Args:
        ignore_index (int): Ignored label. Defaults to 255.
        loss_weight (float): Multiplier. Defaults to 1.0.
    """

    def __init__(self, ignore_index: int = 255, loss_weight: float = 1.0):
        super().__init__()
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, num_old: int) -> torch.Tensor:
        """
        Args:
            logits (Tensor): (B, C, H, W) student logits over the active classes.
            labels (Tensor): (B, H, W) labels in ``[0, C)`` or ``ignore_index``.
            num_old (int): Background + old classes (>= 1).
        """
        den = torch.logsumexp(logits, dim=1, keepdim=True)
        log_bg = torch.logsumexp(logits[:, :num_old], dim=1, keepdim=True) - den
        log_new = logits[:, num_old:] - den
        log_p = torch.cat([log_bg, log_bg.expand(-1, num_old - 1, -1, -1), log_new], dim=1)
        labels = labels.clone()
        labels[labels < num_old] = 0
        return self.loss_weight * F.nll_loss(log_p, labels, ignore_index=self.ignore_index)


@MODELS.register_module()
class UnbiasedKDLoss(nn.Module):
    """Unbiased knowledge distillation (MiB Eq. 6): the teacher's background matches the
    student's background *plus* new classes,
    ``log q(bg) = logsumexp(x_bg, x_new) - logsumexp(x)``, old classes match their own
    log-probabilities. Per pixel the loss is ``-1/|teacher channels| * sum_k p_k log q_k``
    (the class average of MiB's code), averaged over all pixels.

    Args:
        alpha (float): Scale of the teacher logits before the softmax. Defaults to 1.0.
        loss_weight (float): Multiplier (MiB uses 10 on VOC). Defaults to 1.0.
    """

    def __init__(self, alpha: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        self.alpha = alpha
        self.loss_weight = loss_weight

    def forward(self, student: torch.Tensor, teacher: torch.Tensor,
                mask: torch.Tensor = None) -> torch.Tensor:
        """
        Args:
            student (Tensor): (B, C_new_total, H, W) logits.
            teacher (Tensor): (B, C_old, H, W) logits of the previous model.
            mask (Tensor, optional): (B, H, W) pixels to keep. Defaults to all.
        """
        num_old = teacher.shape[1]
        den = torch.logsumexp(student, dim=1)
        bg_and_new = torch.cat([student[:, :1], student[:, num_old:]], dim=1)
        log_bg = torch.logsumexp(bg_and_new, dim=1) - den
        log_old = student[:, 1:num_old] - den.unsqueeze(1)
        p = torch.softmax(teacher.detach() * self.alpha, dim=1)
        loss = (p[:, 0] * log_bg + (p[:, 1:] * log_old).sum(1)) / num_old
        if mask is not None:
            loss = loss * mask.float()
        return -self.loss_weight * loss.mean()


def mib_init_new_classes(conv: nn.Conv2d, num_old: int, num_active: int) -> None:
    """MiB's classifier initialisation (Sec. 3.4): new class rows copy the background row and
    new and background biases become ``b_bg - log(|new| + 1)``, so the background probability
    is split evenly between background and new classes at the start of the step.

    Args:
        conv (nn.Conv2d): The 1x1 classifier (``decode_head.conv_seg``).
        num_old (int): Background + old classes.
        num_active (int): All classes after the step.
    """
    num_new = num_active - num_old
    if num_new <= 0:
        return
    with torch.no_grad():
        bias = conv.bias[0] - torch.log(torch.tensor(float(num_new + 1)))
        conv.weight[num_old:num_active] = conv.weight[0:1]
        conv.bias[num_old:num_active] = bias
        conv.bias[0] = bias
