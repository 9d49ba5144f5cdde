"""Replay memory storage shared by every buffer.

A buffer is a fixed number of slots holding tensors of fixed per-sample shape (one tensor
per field: ``inputs``, ``labels``, ``experience`` and any extras such as ``logits``). Slots
are allocated lazily from the first batch, in that batch's dtype, so uint8 images stay uint8.
Insertion and sampling are tensor operations; no per-sample Python loop.

With several processes the configured ``size`` is the total budget: each rank keeps its
own share (``size / world_size``, see :func:`clbox.dist.rank_share`) of the samples it
sees, as the continuous-SSL reference does with its per-GPU buffers. Sharing the work
this way needs no communication on insertion or sampling; a checkpoint gathers every
rank's share and a resume gives each rank its own.
"""
from typing import Dict, Optional

import torch

from clbox.dist import rank_share, world


class BaseBuffer:
    """Fixed-size tensor storage with seeded sampling and ``state_dict`` support.

    Subclasses decide *where* new samples go by implementing :meth:`_select_slots`.

    Args:
        size (int): Number of slots in total (over all ranks).
        seed (int): Seed of the buffer's own generator (insertion and sampling); rank
            ``r`` uses ``seed + r``. Defaults to 0.
        local (bool): ``size`` is this rank's alone (a buffer inside another one).
            Defaults to False.

    Attributes:
        total_size (int): The configured budget.
        size (int): This rank's slots.
    """

    def __init__(self, size: int, seed: int = 0, local: bool = False):
        if size <= 0:
            raise ValueError(f'{type(self).__name__}: size must be positive, got {size}.')
        rank, world_size = (0, 1) if local else world()
        if size < world_size:
            raise ValueError(f'{type(self).__name__}: size {size} is smaller than the '
                             f'{world_size} processes that share it; use size >= '
                             f'{world_size} (each rank keeps size / world_size samples).')
        self.total_size = int(size)
        self.size = rank_share(size, rank, world_size)
        self.generator = torch.Generator().manual_seed(seed + rank)
        self.storage: Dict[str, torch.Tensor] = {}
        self.filled = torch.zeros(self.size, dtype=torch.bool)
        self.num_seen = 0

    # ----------------------------------------------------------------- storage
    def __len__(self) -> int:
        return int(self.filled.sum())

    def _allocate(self, batch: Dict[str, torch.Tensor]) -> None:
        for key, value in batch.items():
            if key not in self.storage:
                self.storage[key] = value.new_zeros((self.size, *value.shape[1:]))

    def _write(self, slots: torch.Tensor, batch: Dict[str, torch.Tensor],
               rows: torch.Tensor) -> None:
        if slots.numel() == 0:
            return
        self._allocate(batch)
        for key, value in batch.items():
            self.storage[key][slots] = value[rows].to(self.storage[key].dtype)
        self.filled[slots] = True

    # ------------------------------------------------------------------ public
    def add(self, inputs: torch.Tensor, labels: torch.Tensor, experience: int = 0,
            **extras: torch.Tensor) -> None:
        """Offer a batch to the buffer; the policy decides what is kept.

        Args:
            inputs (Tensor): (B, ...) samples, stored in their own dtype.
            labels (Tensor): (B,) class ids.
            experience (int): Experience the batch comes from. Defaults to 0.
            **extras (Tensor): Other per-sample fields (e.g. ``logits``), (B, ...).
        """
        labels = labels.reshape(-1).long().cpu()
        batch = dict(inputs=inputs.detach().cpu(), labels=labels,
                     experience=torch.full_like(labels, int(experience)),
                     **{k: v.detach().cpu() for k, v in extras.items()})
        sizes = {k: len(v) for k, v in batch.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f'buffer fields disagree on the batch size: {sizes}.')
        slots, rows = self._select_slots(batch)
        self._write(slots, batch, rows)
        self.num_seen += len(labels)

    def _select_slots(self, batch: Dict[str, torch.Tensor]):
        """Return (slots, rows): batch row ``rows[k]`` is written to slot ``slots[k]``."""
        raise NotImplementedError

    def sample(self, n: int) -> Optional[Dict[str, torch.Tensor]]:
        """Draw up to ``n`` stored samples uniformly without replacement.

        Returns:
            dict[str, Tensor] | None: One tensor per field, or None if the buffer is empty.
        """
        full = self.filled.nonzero().squeeze(1)
        if len(full) == 0 or n <= 0:
            return None
        pick = full[torch.randperm(len(full), generator=self.generator)[:n]]
        return {key: value[pick] for key, value in self.storage.items()}

    def get_all(self) -> Dict[str, torch.Tensor]:
        """Every stored sample, in slot order."""
        full = self.filled.nonzero().squeeze(1)
        return {key: value[full] for key, value in self.storage.items()}

    def state_dict(self) -> dict:
        """Contents and RNG state, as tensors and ints only (safe for ``weights_only``)."""
        return dict(storage=dict(self.storage), filled=self.filled.clone(),
                    num_seen=self.num_seen, generator=self.generator.get_state(),
                    extra=self._extra_state())

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        if state['filled'].numel() != self.size:
            raise ValueError(f'{type(self).__name__}: checkpoint buffer has '
                             f'{state["filled"].numel()} slots but the config asks for '
                             f'{self.size} on this rank (size {self.total_size} in all); '
                             'use the same buffer size and number of processes to resume.')
        self.storage = {k: v.clone() for k, v in state['storage'].items()}
        self.filled = state['filled'].clone()
        self.num_seen = int(state['num_seen'])
        self.generator.set_state(state['generator'])
        self._load_extra_state(state.get('extra', {}))

    def _extra_state(self) -> dict:
        return {}

    def _load_extra_state(self, state: dict) -> None:
        pass

    def nbytes(self) -> int:
        """Bytes held by the stored tensors."""
        return sum(v.numel() * v.element_size() for v in self.storage.values())

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size}, stored={len(self)})'
