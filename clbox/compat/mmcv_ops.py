"""A pure-torch stand-in for ``mmcv.ops``, used only when the compiled ops are missing.

mmcv-lite ships the Python files of ``mmcv.ops`` but not the compiled ``mmcv._ext`` they
load, so ``import mmcv.ops`` fails and with it four mmseg modules that import
``point_sample`` or ``sigmoid_focal_loss`` unconditionally. The stand-in provides those two
functions and raises ``ModuleNotFoundError`` for every other op, which is what mmseg's own
guarded imports (``try: from mmcv.ops import X except ModuleNotFoundError``) expect.
"""
import sys
import types
from typing import Optional

import torch
import torch.nn.functional as F

#: Ops the fallback implements.
PROVIDED_OPS = ('point_sample', 'sigmoid_focal_loss')


def point_sample(input: torch.Tensor, points: torch.Tensor,
                 align_corners: bool = False, **kwargs) -> torch.Tensor:
    """Sample ``input`` at ``points`` given in [0, 1] coordinates (bilinear).

    Args:
        input (Tensor): Feature map of shape (N, C, H, W).
        points (Tensor): Points of shape (N, P, 2) or (N, Hp, Wp, 2), xy in [0, 1].
        align_corners (bool): As in :func:`torch.nn.functional.grid_sample`.
            Defaults to False.

    Returns:
        Tensor: (N, C, P) or (N, C, Hp, Wp) sampled features.
    """
    add_dim = points.dim() == 3
    if add_dim:
        points = points.unsqueeze(2)
    output = F.grid_sample(input, 2.0 * points - 1.0, align_corners=align_corners, **kwargs)
    return output.squeeze(3) if add_dim else output


def sigmoid_focal_loss(input: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
                       alpha: float = 0.25, weight: Optional[torch.Tensor] = None,
                       reduction: str = 'mean') -> torch.Tensor:
    """Sigmoid focal loss (Lin et al., 2017) with mmcv's signature and conventions.

    Args:
        input (Tensor): Logits of shape (N, C).
        target (Tensor): Class indices of shape (N,); the value C means "no class".
        gamma (float): Focusing parameter. Defaults to 2.0.
        alpha (float): Weight of the positive term. Defaults to 0.25.
        weight (Tensor, optional): Per-class weights of shape (C,), applied by target
            class as mmcv's kernel does. Defaults to None.
        reduction (str): 'none', 'mean' (sum / N, as mmcv) or 'sum'. Defaults to 'mean'.

    Returns:
        Tensor: The loss, reduced as asked.
    """
    num_classes = input.size(1)
    one_hot = F.one_hot(target.long().clamp(max=num_classes), num_classes + 1)
    one_hot = one_hot[:, :num_classes].to(input.dtype)
    prob = input.sigmoid()
    p_t = prob * one_hot + (1 - prob) * (1 - one_hot)
    alpha_t = alpha * one_hot + (1 - alpha) * (1 - one_hot)
    bce = F.binary_cross_entropy_with_logits(input, one_hot, reduction='none')
    loss = alpha_t * (1 - p_t).pow(gamma) * bce
    if weight is not None:
        per_sample = weight.new_zeros(input.size(0))
        valid = target < num_classes
        per_sample[valid] = weight[target[valid].long()]
        loss = loss * per_sample[:, None]
    if reduction == 'mean':
        return loss.sum() / input.size(0)
    if reduction == 'sum':
        return loss.sum()
    return loss


class _FallbackOps(types.ModuleType):
    """Module object that answers ``from mmcv.ops import X`` for the provided ops only."""

    def __getattr__(self, name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        raise ModuleNotFoundError(
            f"mmcv.ops.{name} needs mmcv's compiled ops, which mmcv-lite lacks; clbox's "
            f"fallback provides only {', '.join(PROVIDED_OPS)}. Install the full mmcv "
            'built for your torch to use it.', name='mmcv._ext')


def _compiled_ops_available() -> bool:
    try:
        import mmcv.ops  # noqa: F401
        return True
    except ImportError:
        for key in [k for k in sys.modules if k == 'mmcv.ops' or k.startswith('mmcv.ops.')]:
            del sys.modules[key]
        return False


def install_mmcv_ops_fallback() -> bool:
    """Put the stand-in at ``mmcv.ops`` if the compiled ops cannot be imported.

    Returns:
        bool: True if the fallback is (now) installed, False if real ops are available.
    """
    current = sys.modules.get('mmcv.ops')
    if isinstance(current, _FallbackOps):
        return True
    if _compiled_ops_available():
        return False
    import mmcv
    module = _FallbackOps('mmcv.ops', __doc__)
    module.point_sample = point_sample
    module.sigmoid_focal_loss = sigmoid_focal_loss
    module.__all__ = list(PROVIDED_OPS)
    sys.modules['mmcv.ops'] = module
    mmcv.ops = module
    return True
