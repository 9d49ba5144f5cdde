"""Backbones, heads and losses that mmpretrain and mmseg lack."""
from . import losses  # noqa: F401
from . import augments, backbones, heads, layers  # noqa: F401,E402
from . import wrappers  # noqa: F401,E402
