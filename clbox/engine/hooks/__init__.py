"""Hooks for continual training: checkpoints, results, progress."""
from .checkpoint import ExperienceCheckpointHook
from .progress import ProgressBarHook
from .results import ContinualResultsHook

__all__ = ['ExperienceCheckpointHook', 'ContinualResultsHook', 'ProgressBarHook']
