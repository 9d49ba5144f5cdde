"""Continual methods, one per file."""
from .base import ContinualAlgorithm, NonFiniteLossError, frozen_copy
from .er import ER
from .ewc import EWC
from .joint import Joint
from .lwf import LwF
from .naive import Naive

__all__ = ['ContinualAlgorithm', 'NonFiniteLossError', 'frozen_copy', 'Naive', 'Joint', 'ER',
           'LwF', 'EWC']
from .ar1 import AR1  # noqa: E402,F401
from .seg_base import SegContinualAlgorithm  # noqa: E402,F401
from .ft import FT  # noqa: E402,F401
from .seg_lwf import SegLwF  # noqa: E402,F401
from .lwf_mc import LwFMC  # noqa: E402,F401
from .ilt import ILT  # noqa: E402,F401
from .seg_ewc import SegEWC  # noqa: E402,F401
from .rwalk import RWalk  # noqa: E402,F401
from .pi import PI  # noqa: E402,F401
from .mib import MiB  # noqa: E402,F401
from .plop import PLOP  # noqa: E402,F401
from .reminder import REMINDER  # noqa: E402,F401
from .simsiam import ContinualSimSiam  # noqa: E402,F401
from .uncertainty_replay import UncertaintyReplay  # noqa: E402,F401
