"""Path Integral (Synaptic Intelligence) for segmentation, as in MiB's benchmark."""
import torch

from clbox.dist import all_reduce_mean_
from clbox.registry import MODELS
from .seg_regularized import ImportanceRegularized, check_choice

#: ``path_gradient`` values: MiB's (the gradient after each move) or the one that made it.
PATH_GRADIENTS = ('next', 'current')


@MODELS.register_module()
class PI(ImportanceRegularized):
    """Synaptic Intelligence / path integral (Zenke et al., ICML 2017, arXiv:1703.04200) as
    benchmarked by MiB (Cermelli et al., CVPR 2020; ``utils/regularizer.py:126-206`` of
    github.com/fcdl94/MiB):

    * at every iteration, after the task loss's backward and before the optimizer step
      (``train.py:124-137``), ``w += g_k * (theta_{k-1} - theta_k)``: the current
      gradient times the move of the *previous* update (``regularizer.py:164-174``);
    * at the step's end ``Omega = max(w / ((theta - theta_start)^2 + xi), 0)`` with
      ``xi = 1e-20`` (``regularizer.py:185-190``), added to the previous steps' raw
      ``Omega`` (``regularizer.py:191-192``);
    * the next step's penalty weight is that sum min-max scaled per tensor
      (``regularizer.py:155``), ``reg_importance`` = 500 (``argparser.py:31-33``).

    MiB's pairing is off by one from the paper's ``-sum_k g_k (theta_{k+1} - theta_k)``
    (the gradient that made each move): each move is weighted by the gradient at its end,
    and the last update of a step is not counted. ``path_gradient='current'`` uses the
    gradient that made each move and counts the last one.

    Args:
        model (dict): The segmentor.
        reg_weight (float): Penalty weight. Defaults to 500 (MiB's ``--method PI``).
        xi (float): Damping of the denominator. Defaults to 1e-20 (MiB's; the paper's
            split-MNIST value, used by the earlier clbox version, is 1e-3).
        path_gradient (str): ``'next'`` (MiB) or ``'current'``. Defaults to 'next'.
        **kwargs: See :class:`ImportanceRegularized`.
    """

    running_attrs = ('path', 'start', 'last', 'last_grad')

    def __init__(self, model, reg_weight: float = 500.0, xi: float = 1e-20,
                 path_gradient: str = 'next', **kwargs):
        super().__init__(model, reg_weight=reg_weight, **kwargs)
        if not xi > 0:
            raise ValueError(f'xi must be > 0 (MiB: 1e-20), got {xi!r}.')
        check_choice('path_gradient', path_gradient, PATH_GRADIENTS,
                     "('next' is MiB's pairing, 'current' the paper's)")
        self.xi = xi
        self.path_gradient = path_gradient
        self.begin_step()

    def begin_step(self) -> None:
        """A fresh path integral per step (MiB builds a new ``PI`` per step)."""
        self.path, self.start, self.last, self.last_grad = {}, {}, {}, {}

    def observe_gradients(self, grads, params):
        for n, g in grads.items():
            theta = params[n]
            if n not in self.start:  # MiB's model_old_dict: the step's starting weights
                self.start[n] = theta.clone()
            if n in self.last:
                used = g if self.path_gradient == 'next' else self.last_grad[n]
                self.path[n] = self.path.get(n, 0) + used * (self.last[n] - theta)
            self.last[n] = theta.clone()
            if self.path_gradient == 'current':
                self.last_grad[n] = g.clone()

    def step_omega(self):
        """This step's ``max(w / (Delta^2 + xi), 0)`` (``regularizer.py:189-190``)."""
        params = self.params()
        omega = {}
        for n, start in self.start.items():
            theta = params[n].detach()
            w = self.path.get(n, torch.zeros_like(theta))
            if self.path_gradient == 'current':  # the last update's move
                w = w + self.last_grad[n] * (self.last[n] - theta)
            score = w / ((theta - start).pow(2) + self.xi)
            omega[n] = torch.where(score > 0, score, torch.zeros_like(score))
        return omega

    def end_step(self):
        omega = all_reduce_mean_(self.step_omega())  # identical on every rank
        old = self.raw_importance.get('score')
        return dict(score=self.merge_old(omega, old, lambda new, past: past + new))

    def penalty_weights(self, raw):
        return self.normalized(raw['score'])
