"""clbox: an OpenMMLab-style continual-learning toolbox."""
from . import compat  # noqa: F401  (applies the shims of clbox/compat once)

__version__ = '0.1.0'


def init_scope() -> None:
    """Make ``'clbox'`` the default registry scope (what ``default_scope='clbox'`` does in a
    config), for scripts and notebooks that build modules without a Runner."""
    from mmengine.registry import init_default_scope
    init_default_scope('clbox')
