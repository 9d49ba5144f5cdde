"""The continual engine: runner, loops and hooks."""
from .amp import CPUBF16OptimWrapper
from .hooks import ContinualResultsHook, ExperienceCheckpointHook, ProgressBarHook
from .loops import ExperienceBasedTrainLoop, OnlineTrainLoop, StreamTestLoop, StreamValLoop
from .runner import ContinualRunner, IncompatibleCheckpointError

__all__ = ['ContinualRunner', 'IncompatibleCheckpointError', 'ExperienceBasedTrainLoop',
           'OnlineTrainLoop', 'StreamValLoop', 'StreamTestLoop', 'ExperienceCheckpointHook',
           'ContinualResultsHook', 'ProgressBarHook', 'CPUBF16OptimWrapper']
from .log_processor import ContinualLogProcessor  # noqa: E402,F401
