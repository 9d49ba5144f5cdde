"""Layers that mmcv and mmengine lack."""
from .batch_renorm import BatchRenorm2d, set_brn_params

__all__ = ['BatchRenorm2d', 'set_brn_params']
