"""Path Integral (Synaptic Intelligence) for segmentation."""
import torch

from clbox.registry import MODELS
from .seg_regularized import ImportanceRegularized


@MODELS.register_module()
class PI(ImportanceRegularized):
    """Synaptic Intelligence / path integral (Zenke et al., ICML 2017, arXiv:1703.04200):
    during a step ``w += -g * dtheta`` after every update; at its end
    ``Omega = w / (Delta^2 + xi)`` with ``Delta`` the total change of the parameter over
    the step; importances add up over steps (Eq. 5).

    Args:
        model (dict): The segmentor.
        xi (float): Damping (the paper's split-MNIST value 1e-3). Defaults to 1e-3.
        **kwargs: See :class:`ImportanceRegularized`.
    """

    def __init__(self, model, xi: float = 1e-3, **kwargs):
        super().__init__(model, **kwargs)
        self.xi = xi
        self.path, self.start = {}, {}

    def observe_step(self, grads, deltas):
        params = self.params()
        for n, g in grads.items():
            if n not in self.start:
                self.start[n] = params[n].detach() - deltas[n]
            self.path[n] = self.path.get(n, 0) - g * deltas[n]

    def consolidate(self):
        params = self.params()
        omega = {n: torch.clamp(w, min=0) / ((params[n].detach() - self.start[n]).pow(2) + self.xi)
                 for n, w in self.path.items()}
        self.path, self.start = {}, {}
        return omega

    def merge(self, old, new):
        return {n: old.get(n, 0) + t for n, t in new.items()}
