"""A pure-torch stand-in for ``mmcv.ops``, used only when the compiled ops are missing.

mmcv-lite ships the Python files of ``mmcv.ops`` but not the compiled ``mmcv._ext`` they
load, so ``import mmcv.ops`` fails and with it four mmseg modules that import
``point_sample`` or ``sigmoid_focal_loss`` unconditionally. The stand-in provides those two
functions and raises ``ModuleNotFoundError`` for every other op, which is what mmseg's own
guarded imports (``try: from mmcv.ops import X except ModuleNotFoundError``) expect.
"""
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Optional

#: Ops the fallback implements.
PROVIDED_OPS = ('point_sample', 'sigmoid_focal_loss')


def point_sample(input, points, align_corners: bool = False, **kwargs):
    """Sample ``input`` at ``points`` given in [0, 1] coordinates (bilinear).

    Args:
        input (Tensor): Feature map of shape (N, C, H, W).
        points (Tensor): Points of shape (N, P, 2) or (N, Hp, Wp, 2), xy in [0, 1].
        align_corners (bool): As in :func:`torch.nn.functional.grid_sample`.
            Defaults to False.

    Returns:
        Tensor: (N, C, P) or (N, C, Hp, Wp) sampled features.
    """
    import torch.nn.functional as F
    add_dim = points.dim() == 3
    if add_dim:
        points = points.unsqueeze(2)
    output = F.grid_sample(input, 2.0 * points - 1.0, align_corners=align_corners, **kwargs)
    return output.squeeze(3) if add_dim else output


def sigmoid_focal_loss(input, target, gamma: float = 2.0, alpha: float = 0.25,
                       weight=None, reduction: str = 'mean'):
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
    import torch.nn.functional as F
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
    """Whether mmcv's compiled extension exists (looked up, not imported)."""
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except (ImportError, ValueError):
        return False


def _fallback_module() -> _FallbackOps:
    module = _FallbackOps('mmcv.ops', __doc__)
    module.point_sample = point_sample
    module.sigmoid_focal_loss = sigmoid_focal_loss
    module.__all__ = list(PROVIDED_OPS)
    return module


class _FallbackLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return _fallback_module()

    def exec_module(self, module):
        import mmcv
        mmcv.ops = module


class _MmcvOpsFinder(importlib.abc.MetaPathFinder):
    """Answers ``import mmcv.ops`` with the stand-in when the compiled ops are missing;
    consulted only when something imports ``mmcv.ops`` (so ``import clbox`` stays light:
    no torch, no mmcv)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'mmcv.ops' or _compiled_ops_available():
            return None
        return importlib.machinery.ModuleSpec('mmcv.ops', _FallbackLoader())


def install_mmcv_ops_fallback() -> None:
    """Make ``import mmcv.ops`` give the stand-in whenever the compiled ops are missing
    (a meta-path finder, installed once; nothing is imported now)."""
    current = sys.modules.get('mmcv.ops')
    if current is not None and not isinstance(current, _FallbackOps) \
            and not _compiled_ops_available():
        # a failed import may have left a half-initialised real mmcv.ops behind
        for key in [k for k in sys.modules if k == 'mmcv.ops' or k.startswith('mmcv.ops.')]:
            del sys.modules[key]
    if not any(isinstance(f, _MmcvOpsFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MmcvOpsFinder())
