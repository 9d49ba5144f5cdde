"""Riemannian Walk for segmentation, as in MiB's benchmark."""
import torch

from clbox.dist import all_reduce_mean_
from clbox.registry import MODELS
from .seg_ewc import SegEWC
from .seg_regularized import MIB_EPS, check_choice

#: ``score_estimate`` values: MiB's one gradient per window, or the per-update path sum.
SCORE_ESTIMATES = ('endpoint', 'path')


@MODELS.register_module()
class RWalk(SegEWC):
    """RWalk (Chaudhry et al., ECCV 2018, arXiv:1801.10112) as benchmarked by MiB
    (Cermelli et al., CVPR 2020; ``utils/regularizer.py:209-313`` of github.com/fcdl94/MiB):
    EWC's online Fisher (:class:`SegEWC`, same update and carry-over,
    ``regularizer.py:276-279``) plus a path score. Every ``score_interval`` iterations
    (``reg_iterations`` = 10, ``argparser.py:164``), before this iteration's Fisher update,

    ``s += g_k (theta_{k-T} - theta_k) / (0.5 F (theta_k - theta_{k-T})^2 + 1e-8)``

    with ``g_k`` the current task-loss gradient and ``theta_{k-T}`` the weights at the
    previous window end (``regularizer.py:261-274``). At the step's end the score is
    clipped at zero and averaged with the previous steps' score (``regularizer.py:281-287``);
    the next step's penalty weight is ``minmax(F) + minmax(s)`` per tensor
    (``regularizer.py:231-243``), ``reg_importance`` = 100 (``argparser.py:28-30``).

    MiB's numerator is one gradient (the window's last) times the whole window's move; with
    ``score_estimate='path'`` it is the first-order loss change summed over the window's
    updates, ``-sum_k g_k (theta_{k+1} - theta_k)`` (the earlier clbox estimate).

    Args:
        model (dict): The segmentor.
        reg_weight (float): Penalty weight. Defaults to 100 (MiB's ``--method RW``).
        score_interval (int): Iterations per score update. Defaults to 10.
        eps (float): Damping of the denominator. Defaults to 1e-8 (MiB's ``EPS``).
        score_estimate (str): ``'endpoint'`` (MiB) or ``'path'``. Defaults to 'endpoint'.
        **kwargs: See :class:`SegEWC` (``alpha``; ``fisher_merge`` must stay 'latest').
    """

    running_attrs = SegEWC.running_attrs + ('score', 'window_start', 'count',
                                            'loss_change', 'last', 'last_grad')

    def __init__(self, model, reg_weight: float = 100.0, score_interval: int = 10,
                 eps: float = MIB_EPS, score_estimate: str = 'endpoint', **kwargs):
        if kwargs.get('fisher_merge', 'latest') != 'latest':
            raise ValueError("RWalk combines its Fisher and score as MiB does "
                             "(utils/regularizer.py:231-243); fisher_merge must be 'latest', "
                             f"got {kwargs['fisher_merge']!r}.")
        super().__init__(model, reg_weight=reg_weight, **kwargs)
        if int(score_interval) != score_interval or score_interval < 1:
            raise ValueError(f'score_interval must be a positive integer (MiB: '
                             f'reg_iterations=10), got {score_interval!r}.')
        if not eps > 0:
            raise ValueError(f'eps must be > 0 (MiB: 1e-8), got {eps!r}.')
        check_choice('score_estimate', score_estimate, SCORE_ESTIMATES,
                     "('endpoint' is MiB's estimate)")
        self.score_interval = int(score_interval)
        self.eps = eps
        self.score_estimate = score_estimate
        self._reset_score()

    def _reset_score(self) -> None:
        self.score, self.window_start, self.count = {}, {}, 0
        self.loss_change, self.last, self.last_grad = {}, {}, {}

    def begin_step(self) -> None:
        """The Fisher carries on (:meth:`SegEWC.begin_step`); the score restarts at zero
        (``regularizer.py:252-253``)."""
        super().begin_step()
        self._reset_score()

    def _accumulate_path(self, params) -> None:
        """``'path'``: add the previous update's ``-g (theta_{k+1} - theta_k)``."""
        for n, g in self.last_grad.items():
            change = g * (self.last[n] - params[n])
            self.loss_change[n] = self.loss_change.get(n, 0) + change

    def observe_gradients(self, grads, params):
        path = self.score_estimate == 'path'
        if path:
            self._accumulate_path(params)
        if self.count % self.score_interval == 0:
            if self.window_start:
                for n, g in grads.items():
                    theta, start = params[n], self.window_start[n]
                    change = self.loss_change.get(n, torch.zeros_like(g)) if path \
                        else g * (start - theta)
                    fisher = self.fisher.get(n, torch.ones_like(g))
                    den = 0.5 * fisher * (theta - start).pow(2) + self.eps
                    self.score[n] = self.score.get(n, 0) + change / den
                self.loss_change = {}
            self.window_start = {n: params[n].clone() for n in grads}
        self.count += 1
        if path:
            self.last = {n: params[n].clone() for n in grads}
            self.last_grad = {n: g.clone() for n, g in grads.items()}
        self.update_fisher(grads)

    def end_step(self):
        raw = super().end_step()
        score = {n: torch.where(s >= 0, s, torch.zeros_like(s)) for n, s in self.score.items()}
        all_reduce_mean_(score)  # identical on every rank
        old = self.raw_importance.get('score')
        raw['score'] = self.merge_old(score, old, lambda new, past: 0.5 * (new + past))
        return raw

    def penalty_weights(self, raw):
        fisher = self.normalized(raw['fisher'])
        score = self.normalized(raw.get('score', {}))
        return {n: f + score[n] if n in score else f for n, f in fisher.items()}
