"""Riemannian Walk for segmentation."""
import torch

from clbox.registry import MODELS
from .seg_ewc import SegEWC
from .seg_regularized import minmax


@MODELS.register_module()
class RWalk(SegEWC):
    """RWalk (Chaudhry et al., ECCV 2018, arXiv:1801.10112): EWC's online Fisher plus a
    path-integral score of each parameter's contribution to the loss decrease,
    ``s += -g * dtheta / (0.5 * F * dtheta^2 + eps)``, accumulated over windows of
    ``score_interval`` iterations (10 in MiB's ``reg_iterations``). The importance is the
    normalised Fisher plus the normalised positive score; past and new importances are
    averaged (the paper's Sec. 4.3 averages scores across tasks).

    Args:
        model (dict): The segmentor.
        score_interval (int): Iterations per score update. Defaults to 10.
        eps (float): Damping. Defaults to 1e-7.
        **kwargs: See :class:`SegEWC`.
    """

    def __init__(self, model, score_interval: int = 10, eps: float = 1e-7, **kwargs):
        super().__init__(model, **kwargs)
        self.score_interval = score_interval
        self.eps = eps
        self.score, self._grad_sum, self._delta_sum, self._steps = {}, {}, {}, 0

    def observe_step(self, grads, deltas):
        super().observe_step(grads, deltas)
        for n, g in grads.items():
            self._grad_sum[n] = self._grad_sum.get(n, 0) + g * deltas[n]
            self._delta_sum[n] = self._delta_sum.get(n, 0) + deltas[n]
        self._steps += 1
        if self._steps % self.score_interval == 0:
            for n, loss_change in self._grad_sum.items():
                d = self._delta_sum[n]
                s = -loss_change / (0.5 * self.fisher[n] * d.pow(2) + self.eps)
                self.score[n] = self.score.get(n, 0) + s
            self._grad_sum, self._delta_sum = {}, {}

    def consolidate(self):
        fisher = super().consolidate()
        score = {n: torch.clamp(s, min=0) for n, s in self.score.items()}
        self.score, self._grad_sum, self._delta_sum, self._steps = {}, {}, {}, 0
        if self.normalize:
            fisher, score = minmax(fisher), minmax(score)
        return {n: f + score.get(n, torch.zeros_like(f)) for n, f in fisher.items()}
