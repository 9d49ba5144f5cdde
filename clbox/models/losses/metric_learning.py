"""Deep-metric-learning losses on a batch of embeddings, and soft-label retrospection.

:class:`MetricLearningLoss` wraps a loss of ``pytorch-metric-learning`` (a dependency: its
reductions are part of the result, e.g. ``ContrastiveLoss`` averages the *non-zero*
positive hinges and the non-zero negative hinges separately and adds the two means;
``SupConLoss`` averages the non-zero per-anchor losses), as the SSLAD 2021 Track 3A
3rd-place solution does (``mrifkikurniawan/sslad`` @v4.3 ``modules.MetricLearner``:
``ContrastiveLoss(pos_margin=0, neg_margin=1)`` weight 0.3 and ``SupConLoss(temperature=0.1)``
weight 0.1 on the pooled embedding, positives = same label in the batch).

:class:`SoftLabelKLDiv` is that solution's ``loss.KLDivLoss``: ``KL(softmax(t / T) ||
softmax(z / T))`` with PyTorch's ``batchmean`` reduction, times ``T^2``.
"""
import torch
import torch.nn.functional as F
from torch import nn

from clbox.registry import MODELS


@MODELS.register_module()
class MetricLearningLoss(nn.Module):
    """A ``pytorch_metric_learning.losses`` loss on (B, D) embeddings and (B,) labels.

    Args:
        loss (str): The class name in ``pytorch_metric_learning.losses`` (e.g.
            'ContrastiveLoss', 'SupConLoss').
        loss_weight (float): Multiplier. Defaults to 1.0.
        **loss_args: That loss's arguments (e.g. ``pos_margin=0, neg_margin=1``).

    Raises:
        KeyError: ``loss`` is not a loss of that package.
    """

    def __init__(self, loss: str, loss_weight: float = 1.0, **loss_args):
        super().__init__()
        from pytorch_metric_learning import losses
        cls = getattr(losses, str(loss), None)
        if cls is None or not isinstance(cls, type):
            known = sorted(n for n in dir(losses) if n.endswith('Loss'))
            raise KeyError(f'MetricLearningLoss: {loss!r} is not a pytorch_metric_learning '
                           f'loss; known: {", ".join(known)}.')
        self.name = str(loss)
        self.loss = cls(**loss_args)
        self.loss_weight = float(loss_weight)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        embeddings = embeddings.flatten(1)
        return self.loss_weight * self.loss(embeddings, labels.reshape(-1))


@MODELS.register_module()
class SoftLabelKLDiv(nn.Module):
    """Soft-label retrospection: the stored logits of replayed samples as targets.

    Args:
        temperature (float): T. Defaults to 0.5 (the solution's).
        loss_weight (float): Multiplier. Defaults to 1.0.
    """

    def __init__(self, temperature: float = 0.5, loss_weight: float = 1.0):
        super().__init__()
        self.temperature, self.loss_weight = float(temperature), float(loss_weight)

    def forward(self, logits: torch.Tensor, stored_logits: torch.Tensor) -> torch.Tensor:
        t = self.temperature
        target = F.softmax(stored_logits.detach().to(logits) / t, dim=1)
        log_p = F.log_softmax(logits / t, dim=1)
        return self.loss_weight * F.kl_div(log_p, target, reduction='batchmean') * (t * t)
