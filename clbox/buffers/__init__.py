"""Replay memories."""
from .base import BaseBuffer
from .reservoir import (ClassBalancedBuffer, ExperienceBalancedBuffer, GroupBalancedBuffer,
                        ReservoirBuffer)

__all__ = ['BaseBuffer', 'ReservoirBuffer', 'GroupBalancedBuffer', 'ClassBalancedBuffer',
           'ExperienceBalancedBuffer']
