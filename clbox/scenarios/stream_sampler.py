"""Stream order for continuous learning: whole chunks dealt to ranks.

mmengine's ``DefaultSampler`` deals indices to ranks one sample at a time, which breaks a
temporally correlated stream apart (every rank would see every video). The continuous-SSL
reference (``datasets/mysampler.py``: ``MyDistributedSampler``,
``ResumableDistributedSampler``) deals whole per-process batches instead, so global step t
consumes one contiguous block of the stream.
"""
import math
from typing import List, Optional

import torch

from clbox.dist import world
from clbox.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class ChunkSampler:
    """Deal a stream of ``length`` indices to ranks in chunks of ``batch_size``.

    1. A permutation (seeded by ``seed + epoch``) when ``shuffle``, else file order.
    2. Truncated to a multiple of ``batch_size x world_size``.
    3. Cut into chunks of ``batch_size``; chunk ``k`` goes to rank ``k % world_size``.

    With ``block`` (the reference's ``n_seq_samples``: e.g. the 64 frames of a video,
    indices ``[64 v, 64 v + 64)``), each rank's block starts are gathered (in rank order),
    truncated to a multiple of the world size and dealt round-robin again, and each start
    expands to its ``block`` consecutive indices: blocks in random order, each one whole
    and contiguous. The reference truncates that list to ``world_size x (ceil(S / W) - 1)``
    starts, dropping a whole round when S is a multiple of W;
    ``reference_truncation=False`` keeps ``W x floor(S / W)``.

    Args:
        length (int): Stream length.
        batch_size (int): Samples per chunk (the per-process incoming batch).
        shuffle (bool): Shuffle the stream. Defaults to True (the reference's default).
        seed (int): Seed of the permutation. Defaults to 0.
        block (int, optional): Length of contiguous blocks to keep whole. Defaults to None.
        reference_truncation (bool): See above. Defaults to True.
    """

    def __init__(self, length: int, batch_size: int, shuffle: bool = True, seed: int = 0,
                 block: Optional[int] = None, reference_truncation: bool = True):
        if batch_size < 1 or length < 1:
            raise ValueError(f'ChunkSampler: length and batch_size must be >= 1, got '
                             f'{length} and {batch_size}.')
        self.rank, self.world_size = world()
        if length < batch_size * self.world_size:
            raise ValueError(
                f'ChunkSampler: a stream of {length} samples has no whole chunk of '
                f'{batch_size} for each of {self.world_size} processes.')
        self.length, self.batch_size = int(length), int(batch_size)
        self.shuffle, self.seed = bool(shuffle), int(seed)
        self.block = int(block) if block else None
        self.reference_truncation = reference_truncation
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _order(self) -> List[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.length, generator=g).tolist()
        else:
            order = list(range(self.length))
        per_round = self.batch_size * self.world_size
        return order[:self.length // per_round * per_round]

    def _shard(self, order: List[int], rank: int) -> List[int]:
        b, w = self.batch_size, self.world_size
        chunks = [order[i:i + b] for i in range(0, len(order), b)]
        return [i for c in chunks[rank::w] for i in c]

    def indices(self) -> List[int]:
        """This rank's stream, in order."""
        order = self._order()
        if not self.block:
            return self._shard(order, self.rank)
        starts = [i for r in range(self.world_size) for i in self._shard(order, r)
                  if i % self.block == 0]
        w = self.world_size
        keep = w * (math.ceil((len(starts) - w) / w) if self.reference_truncation
                    else len(starts) // w)
        mine = starts[:max(keep, 0)][self.rank::w]
        return [s + k for s in mine for k in range(self.block)]

    def chunks(self) -> List[List[int]]:
        """This rank's stream cut into incoming batches of ``batch_size``."""
        idx = self.indices()
        return [idx[i:i + self.batch_size] for i in range(0, len(idx), self.batch_size)]

    def __iter__(self):
        return iter(self.indices())

    def __len__(self) -> int:
        return len(self.indices())
