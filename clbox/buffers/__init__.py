"""Replay memories."""
from .base import BaseBuffer
from .reservoir import (ClassBalancedBuffer, ExperienceBalancedBuffer, GroupBalancedBuffer,
                        ReservoirBuffer)

__all__ = ['BaseBuffer', 'ReservoirBuffer', 'GroupBalancedBuffer', 'ClassBalancedBuffer',
           'ExperienceBalancedBuffer']
from .latent import LatentReplayBuffer  # noqa: E402,F401
from .stream import BufferedUpdates, FIFOBuffer, MinRedBuffer, StreamBuffer  # noqa: E402,F401
from .uncertainty import ClassAwareCycle, ClassBalancedReplay, UncertaintyMemory  # noqa: E402,F401
