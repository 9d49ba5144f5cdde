"""Joint training, the upper bound."""
from torch.utils.data import ConcatDataset

from clbox.registry import MODELS
from .base import ContinualAlgorithm


@MODELS.register_module()
class Joint(ContinualAlgorithm):
    """Joint (cumulative) training: at experience ``i`` train on the union of experiences
    ``0..i``. The last row of its accuracy matrix is the joint-training upper bound on the
    whole stream; earlier rows are the upper bound at each point of the stream (Avalanche's
    ``Cumulative``; with one experience it is Avalanche's ``JointTraining``).

    Args: as :class:`~clbox.algorithms.base.ContinualAlgorithm`.
    """

    def train_dataset(self, experience, stream):
        seen = [e.dataset for e in stream[:experience.index + 1]]
        return seen[0] if len(seen) == 1 else ConcatDataset(seen)
