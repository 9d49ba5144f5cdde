"""The shared part of weight-importance penalties for segmentation (EWC, RWalk, PI)."""
from typing import Dict

import torch

from clbox.dist import all_reduce_mean_
from .seg_base import SegContinualAlgorithm


def minmax(tensors: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Scale a dict of tensors jointly to [0, 1] (MiB's ``normalize`` of importances)."""
    if not tensors:
        return {}
    lo = min(float(t.min()) for t in tensors.values())
    hi = max(float(t.max()) for t in tensors.values())
    span = hi - lo if hi > lo else 1.0
    return {n: (t - lo) / span for n, t in tensors.items()}


class ImportanceRegularized(SegContinualAlgorithm):
    """Cross-entropy plus ``reg_weight * sum_i Omega_i (theta_i - theta*_i)^2``.

    Subclasses update running statistics after every optimizer step (:meth:`observe_step`,
    which receives the gradients and the parameter change) and turn them into the
    importance ``Omega`` at the end of a step (:meth:`consolidate`).

    Args:
        model (dict): The segmentor.
        reg_weight (float): Penalty weight (100 in MiB/PLOP's scripts, ``reg_importance``).
            Defaults to 100.
        normalize (bool): Min-max normalise importances (MiB's default). Defaults to True.
        **kwargs: See :class:`SegContinualAlgorithm`.
    """

    def __init__(self, model, reg_weight: float = 100.0, normalize: bool = True, **kwargs):
        super().__init__(model, **kwargs)
        self.reg_weight = reg_weight
        self.normalize = normalize
        self.importance: Dict[str, torch.Tensor] = {}
        self.anchor: Dict[str, torch.Tensor] = {}

    def params(self) -> Dict[str, torch.Tensor]:
        return {n: p for n, p in self.model.named_parameters() if p.requires_grad}

    def extra_losses(self, inputs, out, labels, old):
        if not self.importance:
            return {}
        params = self.params()
        penalty = sum((self.importance[n] * (params[n] - self.anchor[n]).pow(2)).sum()
                      for n in self.importance if n in params)
        return dict(loss_reg=self.reg_weight * penalty)

    def train_step(self, data, optim_wrapper):
        """mmengine's train step, keeping the gradients and parameter change for
        :meth:`observe_step`."""
        params = self.params()
        before = {n: p.detach().clone() for n, p in params.items()}
        with optim_wrapper.optim_context(self.__dict__.get('_forward_module') or self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        loss, log_vars = self.parse_losses(losses)
        optim_wrapper.backward(loss)
        grads = {n: p.grad.detach().clone() for n, p in params.items() if p.grad is not None}
        if optim_wrapper.should_update():
            optim_wrapper.step()
            optim_wrapper.zero_grad()
        with torch.no_grad():
            self.observe_step(grads, {n: params[n].detach() - before[n] for n in grads})
        return log_vars

    def observe_step(self, grads: Dict[str, torch.Tensor],
                     deltas: Dict[str, torch.Tensor]) -> None:
        """Update running statistics after one optimizer step."""

    def consolidate(self) -> Dict[str, torch.Tensor]:
        """This step's importance (before normalisation and merging)."""
        raise NotImplementedError

    def merge(self, old: Dict[str, torch.Tensor], new: Dict[str, torch.Tensor]
              ) -> Dict[str, torch.Tensor]:
        """Combine past and new importances. Defaults to their mean (MiB's EWC/RW)."""
        return {n: 0.5 * (old[n] + t) if n in old else t for n, t in new.items()}

    def after_experience(self, experience, dataloader):
        super().after_experience(experience, dataloader)
        new = all_reduce_mean_(self.consolidate())  # identical on every rank
        if self.normalize:
            new = minmax(new)
        self.importance = self.merge(self.importance, new) if self.importance else new
        self.anchor = {n: p.detach().clone() for n, p in self.params().items()}

    def algorithm_state(self):
        state = super().algorithm_state()
        state.update(importance=self.importance, anchor=self.anchor)
        return state

    def load_algorithm_state(self, state):
        super().load_algorithm_state(state)
        self.importance = dict(state.get('importance', {}))
        self.anchor = dict(state.get('anchor', {}))
