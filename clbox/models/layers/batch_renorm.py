"""Batch Renormalization (Ioffe, "Batch Renormalization: Towards Reducing Minibatch
Dependence in Batch-Normalized Models", NeurIPS 2017, arXiv:1702.03275).

Registered in mmengine's root ``MODELS`` as ``'BRN'`` (and ``'BatchRenorm2d'``), so
``norm_cfg=dict(type='BRN')`` works in every mmcv ``ConvModule`` and every mmpretrain /
mmseg backbone, whatever the default scope.
"""
from typing import Optional

import torch
from mmengine.registry import MODELS as MMENGINE_MODELS
from torch import nn


class BatchRenorm2d(nn.BatchNorm2d):
    """Batch Renormalization over (N, C, H, W) inputs.

    Training normalises with the batch moments and corrects towards the running ones
    (Ioffe 2017, Algorithm 1)::

        r = stop_grad(clip(sigma_B / sigma, 1 / r_max, r_max))
        d = stop_grad(clip((mu_B - mu) / sigma, -d_max, d_max))
        y = gamma * ((x - mu_B) / sigma_B * r + d) + beta

    With ``r_max=1`` and ``d_max=0`` this is batch normalization. ``r_max`` and ``d_max``
    grow by ``r_d_max_inc_step`` per training sample up to ``max_r_max`` / ``max_d_max``
    (the paper relaxes them gradually; the per-sample linear step is the one of the AR1*
    reference, Pellegrini et al. 2019, arXiv:1912.01100). Evaluation uses the running
    statistics, as batch normalization does.

    The module is an ``nn.BatchNorm2d``: same parameters and buffers (BN checkpoints load
    unchanged, ``norm_eval`` and norm-specific optimizer settings apply). The running
    variance is kept as torch's BN keeps it (unbiased batch variance, exponential average),
    where the paper keeps a running standard deviation; ``sigma = sqrt(running_var + eps)``.
    ``r_max`` and ``d_max`` are buffers, so checkpoints carry the schedule's position.

    Args:
        num_features (int): Channels.
        eps (float): Added to variances. Defaults to 1e-5.
        momentum (float): Update rate of the running statistics. Defaults to 0.01.
        affine (bool): Learn gamma and beta. Defaults to True.
        r_max (float): Initial bound of r. Defaults to 1.0.
        d_max (float): Initial bound of d. Defaults to 0.0.
        max_r_max (float): Final bound of r (3 in Ioffe 2017). Defaults to 3.0.
        max_d_max (float): Final bound of d (5 in Ioffe 2017). Defaults to 5.0.
        r_d_max_inc_step (float): Growth of both bounds per training sample.
            Defaults to 1e-4.
    """

    _abbr_ = 'bn'  # layer names (and state-dict keys) as for batch norm

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.01,
                 affine: bool = True, r_max: float = 1.0, d_max: float = 0.0,
                 max_r_max: float = 3.0, max_d_max: float = 5.0,
                 r_d_max_inc_step: float = 1e-4, **kwargs):
        if momentum is None:
            raise ValueError('BatchRenorm2d needs a float momentum (cumulative averages, '
                             'momentum=None, are not supported); e.g. momentum=0.01.')
        if kwargs.pop('track_running_stats', True) is not True:
            raise ValueError('BatchRenorm2d corrects towards running statistics, so '
                             'track_running_stats must stay True.')
        super().__init__(num_features, eps=eps, momentum=momentum, affine=affine, **kwargs)
        if r_max < 1 or d_max < 0:
            raise ValueError(f'BatchRenorm2d needs r_max >= 1 and d_max >= 0, got '
                             f'r_max={r_max}, d_max={d_max}.')
        self.register_buffer('r_max', torch.tensor(float(r_max)))
        self.register_buffer('d_max', torch.tensor(float(d_max)))
        self.max_r_max = float(max_r_max)
        self.max_d_max = float(max_d_max)
        self.r_d_max_inc_step = float(r_d_max_inc_step)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if not self.training:
            return super().forward(x)
        dims = (0, 2, 3)
        mean = x.mean(dims)
        var = x.var(dims, unbiased=False)
        std = torch.sqrt(var + self.eps)
        with torch.no_grad():
            running_std = torch.sqrt(self.running_var + self.eps)
            r = (std / running_std).clamp(1.0 / self.r_max, self.r_max)
            d = ((mean - self.running_mean) / running_std).clamp(-self.d_max, self.d_max)
        shape = (1, -1, 1, 1)
        y = (x - mean.view(shape)) / std.view(shape) * r.view(shape) + d.view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        self._update(mean.detach(), var.detach(), x.numel() // x.size(1), x.size(0))
        return y

    @torch.no_grad()
    def _update(self, mean: torch.Tensor, var: torch.Tensor, n: int, batch: int) -> None:
        unbiased = var * (n / max(n - 1, 1))
        self.running_mean.lerp_(mean, self.momentum)
        self.running_var.lerp_(unbiased, self.momentum)
        self.num_batches_tracked += 1
        step = self.r_d_max_inc_step * batch
        self.r_max.copy_((self.r_max + step).clamp(max=max(self.max_r_max, 1.0)))
        self.d_max.copy_((self.d_max + step).clamp(max=max(self.max_d_max, 0.0)))

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, r_max={float(self.r_max):g}, '
                f'd_max={float(self.d_max):g}, max_r_max={self.max_r_max:g}, '
                f'max_d_max={self.max_d_max:g}, r_d_max_inc_step={self.r_d_max_inc_step:g}')


def set_brn_params(module: nn.Module, momentum: Optional[float] = None,
                   r_max: Optional[float] = None, d_max: Optional[float] = None,
                   r_d_max_inc_step: Optional[float] = None,
                   max_r_max: Optional[float] = None,
                   max_d_max: Optional[float] = None) -> int:
    """Change the settings of every :class:`BatchRenorm2d` inside ``module``.

    AR1* switches to slower, more tolerant renormalization after the first experience
    (Pellegrini et al. 2019). Arguments left None are not changed.

    Returns:
        int: How many layers were changed.
    """
    count = 0
    for m in module.modules():
        if not isinstance(m, BatchRenorm2d):
            continue
        if momentum is not None:
            m.momentum = float(momentum)
        if r_max is not None:
            m.r_max.fill_(float(r_max))
        if d_max is not None:
            m.d_max.fill_(float(d_max))
        if r_d_max_inc_step is not None:
            m.r_d_max_inc_step = float(r_d_max_inc_step)
        if max_r_max is not None:
            m.max_r_max = float(max_r_max)
        if max_d_max is not None:
            m.max_d_max = float(max_d_max)
        count += 1
    return count


for _name in ('BRN', 'BatchRenorm2d'):
    if _name not in MMENGINE_MODELS.module_dict:
        MMENGINE_MODELS.register_module(_name, module=BatchRenorm2d)
