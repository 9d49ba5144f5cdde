"""Classification heads mmpretrain lacks."""
from .cwr_star import CWRStarHead
from .linear import LinearHead

__all__ = ['CWRStarHead', 'LinearHead']
