"""Classification heads mmpretrain lacks."""
from .cwr_star import CWRStarHead

__all__ = ['CWRStarHead']
