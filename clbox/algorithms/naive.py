"""Naive fine-tuning: train on each experience in turn, nothing against forgetting."""
from clbox.registry import MODELS
from .base import ContinualAlgorithm


@MODELS.register_module()
class Naive(ContinualAlgorithm):
    """Fine-tuning, the lower bound of every continual benchmark.

    Args: as :class:`~clbox.algorithms.base.ContinualAlgorithm`.
    """
