"""Shims for the known incompatibilities of the verified stack (see DESIGN.md), and one
mmengine bug (:mod:`clbox.compat.mmengine_dataset`, applied by :mod:`clbox.scenarios`).

Importing :mod:`clbox` applies them, once:

* :func:`install_mmcv_ops_fallback`: mmcv-lite has no compiled ``mmcv.ops``; mmseg imports
  ``point_sample`` and ``sigmoid_focal_loss`` from it unconditionally.
* :func:`register_checkpoint_safe_globals`: torch >= 2.6 loads checkpoints with
  ``weights_only=True``, and mmengine checkpoints hold ``HistoryBuffer`` and numpy objects.

and :func:`install_adjust_hue_fix` (mmcv's ``adjust_hue`` raises under NumPy 2 for a
negative hue shift: mmpretrain's ``ColorJitter`` with ``hue``) is applied by
:mod:`clbox.scenarios`, whose datasets build the pipelines (importing mmcv here would
slow ``import clbox``).
"""
from .mmcv_hue import install_adjust_hue_fix
from .mmcv_ops import install_mmcv_ops_fallback
from .noise import filter_import_warnings
from .torch_load import register_checkpoint_safe_globals

install_mmcv_ops_fallback()
register_checkpoint_safe_globals()
filter_import_warnings()  # mmcv-lite's missing-op warning (clbox.compat.noise)

__all__ = ['install_mmcv_ops_fallback', 'register_checkpoint_safe_globals',
           'install_adjust_hue_fix']
