"""Losses mmpretrain and mmseg lack, registered so configs can combine them."""
from .distillation import KDLoss

__all__ = ['KDLoss']
