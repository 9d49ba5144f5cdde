"""Joint training, the upper bound."""
from typing import List

from torch.utils.data import ConcatDataset

from clbox.registry import MODELS
from .base import ContinualAlgorithm


@MODELS.register_module()
class Joint(ContinualAlgorithm):
    """Joint training on the union of experiences.

    * ``mode='cumulative'`` (default): at experience ``i`` train on the union of
      experiences ``0..i`` (Avalanche's ``Cumulative``). The last row of the accuracy
      matrix is the joint-training upper bound on the whole stream; earlier rows are the
      upper bound at each point of the stream.
    * ``mode='all'``: train once, on the union of every experience of the stream, and
      evaluate once (Avalanche's ``JointTraining``): the loop trains only the last
      experience of ``train_cfg.experiences`` and the matrix has one row.

    Args:
        mode (str): 'cumulative' or 'all'. Defaults to 'cumulative'.
        **kwargs: As :class:`~clbox.algorithms.base.ContinualAlgorithm`.
    """

    def __init__(self, *args, mode: str = 'cumulative', **kwargs):
        if mode not in ('cumulative', 'all'):
            raise ValueError(f"Joint: mode must be 'cumulative' (Avalanche's Cumulative) or "
                             f"'all' (Avalanche's JointTraining), got {mode!r}.")
        super().__init__(*args, **kwargs)
        self.mode = mode

    def select_experiences(self, indices: List[int]) -> List[int]:
        """With ``mode='all'`` only the last experience is trained (on everything)."""
        return indices[-1:] if self.mode == 'all' else indices

    def train_dataset(self, experience, stream):
        end = len(stream) if self.mode == 'all' else experience.index + 1
        seen = [e.dataset for e in stream[:end]]
        return seen[0] if len(seen) == 1 else ConcatDataset(seen)
