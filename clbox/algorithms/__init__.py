"""Continual methods, one per file."""
from .base import ContinualAlgorithm, NonFiniteLossError, frozen_copy
from .er import ER
from .ewc import EWC
from .joint import Joint
from .lwf import LwF
from .naive import Naive

__all__ = ['ContinualAlgorithm', 'NonFiniteLossError', 'frozen_copy', 'Naive', 'Joint', 'ER',
           'LwF', 'EWC']
