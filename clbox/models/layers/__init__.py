"""Layers that mmcv and mmengine lack."""
from .batch_renorm import BatchRenorm2d, set_brn_params
from .sync_bn import DistBatchNorm, convert_sync_bn

__all__ = ['BatchRenorm2d', 'set_brn_params', 'DistBatchNorm', 'convert_sync_bn']
