"""The replay memory of AR1* with latent replay (Pellegrini et al., "Latent Replay for
Real-Time Continual Learning", IROS 2020, arXiv:1912.01100)."""
from typing import Dict, Optional

import torch

from clbox.registry import BUFFERS
from .base import BaseBuffer
from .reservoir import ReservoirBuffer

_STORAGE = ('float32', 'float16', 'uint8', None)


@BUFFERS.register_module()
class LatentReplayBuffer(BaseBuffer):
    """Fixed-size memory refreshed once per experience, as in the latent-replay paper.

    At the end of the ``i``-th experience (``i`` from 1), ``h = size // i`` random samples
    of that experience replace ``h`` random samples of the memory (free slots are used
    first), so every experience keeps an expected equal share. Samples offered with
    :meth:`add` are kept in a per-experience reservoir of ``h`` slots (a uniform sample,
    without holding the whole experience), and enter the memory on :meth:`commit`, which
    also runs when samples of a new experience arrive.

    :meth:`sample` walks a random permutation of the memory, so each stored sample is
    replayed once before any is replayed twice (the reference goes through the memory
    once per epoch).

    Args:
        size (int): Number of slots (1,500 in the paper).
        storage (str, optional): Stored precision of ``inputs``: ``'float32'``,
            ``'float16'``, or ``'uint8'`` (per-sample affine quantisation, for latent
            activations; error at most half a step of ``(max - min) / 255``); None keeps
            the incoming dtype (uint8 images stay uint8). Defaults to None.
        seed (int): Seed. Defaults to 0.
    """

    def __init__(self, size: int, storage: Optional[str] = None, seed: int = 0):
        super().__init__(size, seed)
        if storage not in _STORAGE:
            raise ValueError(f'LatentReplayBuffer storage must be one of {_STORAGE}, '
                             f'got {storage!r}.')
        self.storage_dtype = storage
        self.num_experiences = 0          # experiences committed so far
        self.pending: Optional[ReservoirBuffer] = None
        self.pending_experience: Optional[int] = None
        self._order = torch.zeros(0, dtype=torch.long)
        self._cursor = 0

    # ------------------------------------------------------------- encoding
    def _encode(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        x = inputs.detach().cpu()
        if self.storage_dtype is None:
            return dict(inputs=x)
        if self.storage_dtype != 'uint8':
            return dict(inputs=x.to(getattr(torch, self.storage_dtype)))
        flat = x.float().reshape(len(x), -1)
        lo = flat.amin(1)
        scale = ((flat.amax(1) - lo) / 255).clamp_min(1e-12)
        q = ((flat - lo[:, None]) / scale[:, None]).round_().clamp_(0, 255)
        return dict(inputs=q.to(torch.uint8).reshape(x.shape), q_lo=lo, q_scale=scale)

    def _decode(self, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        batch = dict(batch)
        if 'q_scale' in batch:
            lo, scale = batch.pop('q_lo'), batch.pop('q_scale')
            shape = (-1,) + (1,) * (batch['inputs'].dim() - 1)
            batch['inputs'] = batch['inputs'].float() * scale.view(shape) + lo.view(shape)
        elif batch['inputs'].dtype == torch.float16:
            batch['inputs'] = batch['inputs'].float()
        return batch

    # ------------------------------------------------------------ insertion
    def add(self, inputs: torch.Tensor, labels: torch.Tensor, experience: int = 0,
            **extras: torch.Tensor) -> None:
        """Offer samples of ``experience``; they enter the memory on :meth:`commit`."""
        if self.pending is not None and experience != self.pending_experience:
            self.commit()
        if self.pending is None:
            quota = max(self.size // (self.num_experiences + 1), 1)
            seed = int(torch.randint(2**31 - 1, (1,), generator=self.generator))
            self.pending = ReservoirBuffer(quota, seed=seed, local=True)
            self.pending_experience = experience
        self.pending.add(labels=labels, experience=experience,
                         **self._encode(inputs), **extras)

    def commit(self) -> int:
        """Move the current experience's reservoir into the memory.

        Returns:
            int: Number of samples written.
        """
        if self.pending is None or len(self.pending) == 0:
            self.pending, self.pending_experience = None, None
            return 0
        batch = self.pending.get_all()
        h = len(batch['labels'])
        free = (~self.filled).nonzero().squeeze(1)
        full = self.filled.nonzero().squeeze(1)
        n_free = min(len(free), h)
        replaced = full[torch.randperm(len(full), generator=self.generator)[:h - n_free]]
        slots = torch.cat([free[:n_free], replaced])
        self._write(slots, batch, torch.arange(h))
        self.num_seen += self.pending.num_seen
        self.num_experiences += 1
        self.pending, self.pending_experience = None, None
        self._order = torch.zeros(0, dtype=torch.long)
        self._cursor = 0
        return h

    def _select_slots(self, batch):  # insertion goes through add/commit
        raise NotImplementedError

    # ------------------------------------------------------------- sampling
    def sample(self, n: int) -> Optional[Dict[str, torch.Tensor]]:
        """Next ``n`` samples of a random walk through the memory (float ``inputs``)."""
        full = self.filled.nonzero().squeeze(1)
        if len(full) == 0 or n <= 0:
            return None
        picks, need = [], min(n, len(full))
        while need > 0:
            if self._cursor >= len(self._order):
                self._order = full[torch.randperm(len(full), generator=self.generator)]
                self._cursor = 0
            take = self._order[self._cursor:self._cursor + need]
            self._cursor += len(take)
            picks.append(take)
            need -= len(take)
        pick = torch.cat(picks)
        return self._decode({k: v[pick] for k, v in self.storage.items()})

    def get_all(self) -> Dict[str, torch.Tensor]:
        return self._decode(super().get_all())

    def bytes_per_sample(self) -> float:
        """Stored bytes per sample (inputs and their quantisation scales)."""
        if not len(self):
            return 0.0
        keep = ('inputs', 'q_lo', 'q_scale')
        return sum(v[0].numel() * v.element_size() for k, v in self.storage.items()
                   if k in keep)

    # ----------------------------------------------------------------- state
    def _extra_state(self) -> dict:
        return dict(num_experiences=self.num_experiences, order=self._order.clone(),
                    cursor=self._cursor,
                    pending=None if self.pending is None else dict(
                        size=self.pending.size, experience=self.pending_experience,
                        state=self.pending.state_dict()))

    def _load_extra_state(self, state: dict) -> None:
        self.num_experiences = int(state.get('num_experiences', 0))
        self._order = state.get('order', torch.zeros(0, dtype=torch.long)).clone()
        self._cursor = int(state.get('cursor', 0))
        pending = state.get('pending')
        self.pending, self.pending_experience = None, None
        if pending is not None:
            self.pending = ReservoirBuffer(int(pending["size"]), local=True)
            self.pending.load_state_dict(pending['state'])
            self.pending_experience = pending['experience']

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, stored={len(self)}, '
                f'experiences={self.num_experiences}, storage={self.storage_dtype})')
