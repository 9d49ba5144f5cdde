"""EWC for segmentation, with the online Fisher estimate of MiB's benchmark."""
import torch

from clbox.registry import MODELS
from .seg_regularized import ImportanceRegularized


@MODELS.register_module()
class SegEWC(ImportanceRegularized):
    """Elastic Weight Consolidation (Kirkpatrick et al., PNAS 2017, arXiv:1612.00796) as
    benchmarked by MiB/PLOP: the diagonal Fisher is a moving average of squared gradients
    updated at every iteration, ``F <- alpha g^2 + (1 - alpha) F`` (``alpha=0.9``,
    ``reg_alpha`` of MiB), normalised and averaged with the previous steps' Fisher.

    Args:
        model (dict): The segmentor.
        alpha (float): Weight of the newest squared gradient. Defaults to 0.9.
        **kwargs: See :class:`ImportanceRegularized` (``reg_weight`` defaults to 100).
    """

    def __init__(self, model, alpha: float = 0.9, **kwargs):
        super().__init__(model, **kwargs)
        self.alpha = alpha
        self.fisher = {}

    def observe_step(self, grads, deltas):
        for n, g in grads.items():
            f = self.fisher.get(n, torch.zeros_like(g))
            self.fisher[n] = self.alpha * g.pow(2) + (1 - self.alpha) * f

    def consolidate(self):
        fisher, self.fisher = self.fisher, {}
        return fisher
