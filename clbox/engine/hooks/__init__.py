"""Hooks for continual training: checkpoints, results, progress."""
from .checkpoint import ExperienceCheckpointHook
from .progress import ProgressBarHook
from .results import ContinualResultsHook

__all__ = ['ExperienceCheckpointHook', 'ContinualResultsHook', 'ProgressBarHook']
from .clear_metrics import CLEARMetricsHook  # noqa: E402
from .resources import ResourceMonitorHook  # noqa: E402
from .train_accuracy import TrainAccuracyHook  # noqa: E402

__all__ += ['CLEARMetricsHook', 'ResourceMonitorHook', 'TrainAccuracyHook']
