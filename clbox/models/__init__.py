"""Backbones, heads and losses that mmpretrain and mmseg lack."""
from . import losses  # noqa: F401
