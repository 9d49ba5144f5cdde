"""Elastic Weight Consolidation, separate and online."""
from typing import Dict, List

import torch

from clbox.dist import all_reduce_mean_
from clbox.registry import MODELS
from .base import ContinualAlgorithm


@MODELS.register_module()
class EWC(ContinualAlgorithm):
    """Elastic Weight Consolidation (Kirkpatrick et al., PNAS 2017, arXiv:1612.00796).

    After each experience the diagonal empirical Fisher information of the task loss is
    estimated on that experience's data (squared mini-batch gradients averaged over
    batches, the approximation Avalanche uses) and stored with the current weights. The
    loss adds ``lambda / 2 * sum_k F_k (theta - theta_k*)^2``.

    ``mode='online'`` is online EWC (Schwarz et al., "Progress & Compress", ICML 2018,
    arXiv:1805.06370): one Fisher ``F <- gamma F + F_new`` and one anchor (the latest
    weights), so memory does not grow with the stream.

    Args:
        model (dict): The task model.
        ewc_lambda (float): Penalty strength (tuned per benchmark; the paper searches it).
            Defaults to 100.
        mode (str): 'separate' (one penalty per past experience) or 'online'.
            Defaults to 'separate'.
        decay_factor (float): gamma of online EWC. Defaults to 1.0.
        lambda_convention (str): 'paper' (default): the penalty is ``lambda / 2 * sum F
            (theta - theta*)^2``, the paper's eq. 3; 'avalanche': ``lambda * sum F (theta -
            theta*)^2``, Avalanche's ``EWCPlugin`` (so its ``ewc_lambda`` values carry
            over unchanged; with 'paper' use twice Avalanche's value).
    """

    def __init__(self, model, ewc_lambda: float = 100.0, mode: str = 'separate',
                 decay_factor: float = 1.0, lambda_convention: str = 'paper', **kwargs):
        super().__init__(model, **kwargs)
        if mode not in ('separate', 'online'):
            raise ValueError(f"EWC mode must be 'separate' or 'online', got {mode!r}.")
        if lambda_convention not in ('paper', 'avalanche'):
            raise ValueError(f"EWC lambda_convention must be 'paper' (lambda / 2, the "
                             f"paper's) or 'avalanche' (lambda, Avalanche's EWCPlugin), got "
                             f'{lambda_convention!r}.')
        self.penalty_scale = 0.5 if lambda_convention == 'paper' else 1.0
        self.ewc_lambda = ewc_lambda
        self.mode = mode
        self.decay_factor = decay_factor
        self.penalties: List[Dict[str, Dict[str, torch.Tensor]]] = []

    def _params(self):
        return {n: p for n, p in self.model.named_parameters() if p.requires_grad}

    def loss(self, inputs, data_samples):
        labels = self.labels(data_samples).to(inputs.device)
        losses = dict(loss_cls=self.classification_loss(self.logits(inputs), labels))
        if self.penalties:
            params = self._params()
            penalty = sum((fisher[n] * (params[n] - anchor[n]).pow(2)).sum()
                          for item in self.penalties
                          for fisher, anchor in [(item['fisher'], item['anchor'])]
                          for n in fisher if n in params)
            losses['loss_ewc'] = self.penalty_scale * self.ewc_lambda * penalty
        return losses

    def after_experience(self, experience, dataloader):
        super().after_experience(experience, dataloader)
        fisher = self.estimate_fisher(dataloader)
        anchor = {n: p.detach().clone() for n, p in self._params().items()}
        if self.mode == 'online' and self.penalties:
            old = self.penalties[0]['fisher']
            fisher = {n: self.decay_factor * old[n] + f for n, f in fisher.items()}
            self.penalties = []
        self.penalties.append(dict(fisher=fisher, anchor=anchor))

    def estimate_fisher(self, dataloader) -> Dict[str, torch.Tensor]:
        """Diagonal empirical Fisher: mean over batches of squared loss gradients.

        With several processes each rank's batch gradient is averaged over ranks before
        squaring, so the Fisher is that of the global batch and identical on every rank
        (what one process with the global batch size computes). Every rank must see the
        same number of batches (mmengine's ``DefaultSampler`` pads to equal shares).
        """
        params = self._params()
        fisher = {n: torch.zeros_like(p) for n, p in params.items()}
        was_training = self.training
        self.eval()
        batches = 0
        for data in dataloader:
            data = self.preprocess(data, True)
            self.zero_grad()
            labels = self.labels(data['data_samples']).to(data['inputs'].device)
            self.classification_loss(self.logits(data['inputs']), labels).backward()
            grads = {n: p.grad.detach().clone() for n, p in params.items()
                     if p.grad is not None}
            all_reduce_mean_(grads)  # the global batch's gradient, as in one process
            for n, g in grads.items():
                fisher[n] += g.pow(2)
            batches += 1
        self.zero_grad()
        self.train(was_training)
        return {n: f / max(batches, 1) for n, f in fisher.items()}

    def algorithm_state(self):
        state = super().algorithm_state()
        state['penalties'] = self.penalties
        return state

    def load_algorithm_state(self, state):
        super().load_algorithm_state(state)
        self.penalties = state.get('penalties', [])
