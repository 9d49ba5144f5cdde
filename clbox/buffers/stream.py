"""Buffers of stream indices for continuous (self-)supervised learning: FIFO and MinRed.

Purushwalkam, Morgado and Gupta, "The Challenges of Continuous Self-Supervised Learning",
ECCV 2022 (reference code: ``senthilps8/continuous_ssl_problem``,
``datasets/mysampler.py``: ``BufferBatchSampler`` and ``MinRedBufferBatchSampler``).

These buffers hold **stream indices**, not images: a drawn sample is read and augmented
again at every draw. The stream arrives in chunks (one incoming batch each); each update
draws a batch uniformly without replacement from the buffer. With several processes the
configured ``size`` is the total: each rank keeps ``size / world_size`` of its own shard
(the reference's one buffer per GPU, ``buff_siz / world_size``).

MinRed (minimum redundancy) keeps, for every sample trained on, a feature: the L2-normalised
sum of its two views' projector outputs, averaged 0.5 / 0.5 with the stored one at every
later appearance. When the buffer overflows, it removes, one at a time, the trained-on
sample whose nearest neighbour (cosine, among trained-on samples) is the most similar; a
sample not trained on yet is never removed, unless fewer than twice as many samples as
must go were trained on: then the oldest go (largest lifespan).
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

from clbox.dist import rank_share, world
from clbox.registry import BUFFERS


class StreamBuffer:
    """Index storage shared by the stream buffers: insertion order, per-rank capacity,
    seeded uniform draws, ``state_dict`` of tensors only.

    Args:
        size (int): Capacity in total over all ranks (``buff_siz`` in the reference).
        seed (int): Seed of the draws; rank ``r`` uses ``seed + r``. Defaults to 0.

    Attributes:
        capacity (int): This rank's capacity.
        indices (Tensor): (len,) stored stream indices, oldest first.
    """

    def __init__(self, size: int, seed: int = 0):
        rank, world_size = world()
        if size < world_size:
            raise ValueError(f'{type(self).__name__}: size {size} is smaller than the '
                             f'{world_size} processes that share it; each rank keeps '
                             'size / world_size samples.')
        self.total_size = int(size)
        self.capacity = rank_share(size, rank, world_size)
        self.generator = torch.Generator().manual_seed(int(seed) + rank)
        self.indices = torch.zeros(0, dtype=torch.long)
        self.num_added = 0

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def full(self) -> bool:
        """Whether the buffer holds ``capacity`` samples (training may start)."""
        return len(self.indices) >= self.capacity

    def add(self, indices: Sequence[int]) -> None:
        """Append a chunk of the stream (then evict, as each policy does)."""
        raise NotImplementedError

    def sample(self, n: int) -> torch.Tensor:
        """``n`` stored indices drawn uniformly without replacement (with replacement only
        when the buffer holds fewer than ``n``, as the reference's ``random.choices``).

        Raises:
            RuntimeError: If the buffer is empty.
        """
        m = len(self.indices)
        if m == 0:
            raise RuntimeError(f'{type(self).__name__} is empty: add stream chunks first.')
        if n <= m:
            pick = torch.randperm(m, generator=self.generator)[:n]
        else:
            pick = torch.randint(m, (n,), generator=self.generator)
        return self.indices[pick]

    def update(self, indices: torch.Tensor, **stats: torch.Tensor) -> None:
        """What the model computed for trained samples (MinRed uses the features)."""

    def state_dict(self) -> dict:
        return dict(indices=self.indices.clone(), num_added=self.num_added,
                    generator=self.generator.get_state(), extra=self._extra_state())

    def load_state_dict(self, state: dict) -> None:
        self.indices = state['indices'].clone()
        self.num_added = int(state['num_added'])
        self.generator.set_state(state['generator'])
        self._load_extra_state(state.get('extra', {}))

    def _extra_state(self) -> dict:
        return {}

    def _load_extra_state(self, state: dict) -> None:
        pass

    def __repr__(self) -> str:
        return f'{type(self).__name__}(capacity={self.capacity}, stored={len(self)})'


@BUFFERS.register_module()
class FIFOBuffer(StreamBuffer):
    """First in, first out: each sample appended past capacity drops the oldest (the
    reference's ``deque(maxlen=capacity)``).

    Args: as :class:`StreamBuffer`.
    """

    def add(self, indices: Sequence[int]) -> None:
        new = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        self.indices = torch.cat([self.indices, new])[-self.capacity:]
        self.num_added += len(new)


@BUFFERS.register_module()
class MinRedBuffer(StreamBuffer):
    """Minimum-redundancy buffer (Purushwalkam et al., ECCV 2022, ``MinRedBufferBatchSampler``).

    Per stored sample: its feature, whether it was trained on (``seen``), how often
    (``num_seen``) and its ``lifespan`` (chunks since it arrived: every stored sample's
    lifespan grows by one after each chunk is added, the new ones' included). After a
    chunk is added to a full buffer, the excess is removed (see :func:`min_redundancy_removal`).

    Ties between equally old samples in the lifespan fallback go to the earlier one in
    insertion order (the reference's unstable ``argsort`` leaves it undefined).

    Args:
        size (int): Capacity over all ranks.
        seed (int): Seed of the draws. Defaults to 0.
        gamma (float): Weight of the stored feature when a sample is seen again
            (``polyak_avg``: ``(1 - gamma) * old + gamma * new``, then L2-normalised).
            Defaults to 0.5 (the reference's).
        block_size (int): Rows per block when computing nearest neighbours (memory
            ``block_size x M`` instead of ``M x M``). Defaults to 2048.

    The nearest neighbours are kept from one eviction to the next: between two chunks
    only the samples trained on change their features (``update``), so an eviction
    recomputes the rows that changed and the rows whose neighbour changed, and compares
    the other rows with the changed ones only (``M x changed`` instead of ``M x M``
    similarities; the greedy rule and its choices are unchanged).
    """

    def __init__(self, size: int, seed: int = 0, gamma: float = 0.5, block_size: int = 2048):
        super().__init__(size, seed)
        self.gamma = float(gamma)
        self.block_size = int(block_size)
        self.features: Optional[torch.Tensor] = None     # (len, D), zeros until seen
        self.seen = torch.zeros(0, dtype=torch.bool)
        self.num_seen = torch.zeros(0, dtype=torch.long)
        self.lifespan = torch.zeros(0, dtype=torch.long)
        # nearest trained-on neighbour of every trained-on sample, kept across evictions:
        # similarity (cos + 1) / 2, position (-1: none yet), and rows to recompute
        self.nn_value = torch.zeros(0)
        self.nn_index = torch.zeros(0, dtype=torch.long)
        self.changed = torch.zeros(0, dtype=torch.bool)

    def add(self, indices: Sequence[int]) -> None:
        new = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        n = len(new)
        self.indices = torch.cat([self.indices, new])
        self.seen = torch.cat([self.seen, torch.zeros(n, dtype=torch.bool)])
        self.num_seen = torch.cat([self.num_seen, torch.zeros(n, dtype=torch.long)])
        self.lifespan = torch.cat([self.lifespan, torch.zeros(n, dtype=torch.long)]) + 1
        self.nn_value = torch.cat([self.nn_value, self.nn_value.new_zeros(n)])
        self.nn_index = torch.cat([self.nn_index, torch.full((n,), -1, dtype=torch.long)])
        self.changed = torch.cat([self.changed, torch.zeros(n, dtype=torch.bool)])
        if self.features is not None:
            self.features = torch.cat([self.features, self.features.new_zeros(
                (n, self.features.size(1)))])
        self.num_added += n
        self.resize()

    def resize(self) -> None:
        """Remove samples until ``capacity`` remain (the reference's ``resize_buffer``)."""
        excess = len(self.indices) - self.capacity
        if excess <= 0:
            return
        candidates = self.seen.nonzero().squeeze(1)
        if len(candidates) < 2 * excess:
            order = torch.sort(self.lifespan, descending=True, stable=True).indices
            drop = order[:excess]
        else:
            values, index = self._refresh_neighbours(candidates)
            removed, values, index = min_redundancy_removal(
                self.features[candidates.to(self.features.device)], excess, self.block_size,
                neighbours=(values, index), return_neighbours=True)
            drop = candidates[removed]
            self.nn_value[candidates] = values.cpu().to(self.nn_value.dtype)
            self.nn_index[candidates] = candidates[index.cpu().clamp(min=0)]
        keep = torch.ones(len(self.indices), dtype=torch.bool)
        keep[drop] = False
        self._keep(keep)

    def _refresh_neighbours(self, candidates: torch.Tensor):
        """Nearest neighbours among ``candidates`` (positions of trained-on samples),
        in candidate order: (value, candidate-local index).

        Rows whose feature changed since the last eviction (or that were never computed)
        and rows whose neighbour changed are computed in full; every other row keeps its
        neighbour unless a changed row is now more similar."""
        feats = self.features[candidates.to(self.features.device)]
        c = len(candidates)
        local = torch.full((len(self.indices),), -1, dtype=torch.long)
        local[candidates] = torch.arange(c)
        nn_local = local[self.nn_index[candidates].clamp(min=0)]
        nn_local[self.nn_index[candidates] < 0] = -1
        changed = self.changed[candidates] | (nn_local < 0)
        full = changed | changed[nn_local.clamp(min=0)] & (nn_local >= 0)
        dev = feats.device
        values = self.nn_value[candidates].to(dev, feats.dtype)
        index = nn_local.to(dev)
        rows = full.nonzero().squeeze(1).to(dev)
        if len(rows):
            v, i = nearest_neighbours(feats, self.block_size, rows=rows)
            values[rows], index[rows] = v, i
        cols = changed.nonzero().squeeze(1).to(dev)
        rest = (~full).nonzero().squeeze(1).to(dev)
        if len(cols) and len(rest):
            for start in range(0, len(rest), self.block_size):
                part = rest[start:start + self.block_size]
                sim = (feats[part] @ feats[cols].T + 1) / 2
                best, arg = sim.max(1)
                better = best > values[part]
                values[part[better]] = best[better]
                index[part[better]] = cols[arg[better]]
        self.changed[candidates] = False
        return values, index

    def _keep(self, keep: torch.Tensor) -> None:
        self.indices, self.seen = self.indices[keep], self.seen[keep]
        self.num_seen, self.lifespan = self.num_seen[keep], self.lifespan[keep]
        # neighbours that leave: those rows are recomputed at the next eviction
        new_pos = torch.cumsum(keep.long(), 0) - 1
        lost = (self.nn_index >= 0) & ~keep[self.nn_index.clamp(min=0)]
        self.nn_index = torch.where(self.nn_index >= 0, new_pos[self.nn_index.clamp(min=0)],
                                    self.nn_index)
        self.nn_index[lost] = -1
        self.nn_index, self.nn_value = self.nn_index[keep], self.nn_value[keep]
        self.changed = self.changed[keep]
        if self.features is not None:
            self.features = self.features[keep.to(self.features.device)]

    def update(self, indices: torch.Tensor, z1: Optional[torch.Tensor] = None,
               z2: Optional[torch.Tensor] = None, **stats: torch.Tensor) -> None:
        """Record the two views' projector outputs of trained samples (the reference's
        ``update_sample_stats``): feature ``L2norm(z1 + z2)``, averaged with the stored
        one when the sample was seen before. Indices no longer stored are ignored.

        Args:
            indices (Tensor): (B,) stream indices of the trained batch.
            z1, z2 (Tensor): (B, D) projector outputs of the two views (detached here).
        """
        if z1 is None or z2 is None:
            raise ValueError('MinRedBuffer.update needs z1 and z2, the projector outputs '
                             'of both views of the trained samples.')
        new = F.normalize(z1.detach().float() + z2.detach().float(), dim=-1)
        if self.features is None:
            self.features = new.new_zeros((len(self.indices), new.size(1)))
        new = new.to(self.features.device)
        indices = torch.as_tensor(indices, dtype=torch.long).reshape(-1).cpu()
        order = torch.argsort(self.indices)
        pos = torch.searchsorted(self.indices[order], indices).clamp(max=max(len(order) - 1, 0))
        found = self.indices[order[pos]] == indices if len(order) else \
            torch.zeros(len(indices), dtype=torch.bool)
        slots, rows = order[pos[found]], found.nonzero().squeeze(1)
        dev = self.features.device
        was_seen = self.seen[slots].to(dev)
        old = self.features[slots.to(dev)]
        mixed = F.normalize((1 - self.gamma) * old + self.gamma * new[rows.to(dev)], dim=-1)
        self.features[slots.to(dev)] = torch.where(was_seen[:, None], mixed, new[rows.to(dev)])
        self.seen[slots] = True
        self.num_seen[slots] += 1
        self.changed[slots] = True

    def neighbour_similarity(self) -> Optional[torch.Tensor]:
        """Each trained-on sample's cosine to its nearest trained-on neighbour (the
        reference's "Buffer Neig Sim" diagnostic), or None before any training."""
        cand = self.seen.nonzero().squeeze(1)
        if len(cand) < 2:
            return None
        values, _ = nearest_neighbours(self.features[cand.to(self.features.device)],
                                       self.block_size, transform=False)
        return values

    def _extra_state(self) -> dict:
        return dict(features=None if self.features is None else self.features.cpu().clone(),
                    seen=self.seen.clone(), num_seen=self.num_seen.clone(),
                    lifespan=self.lifespan.clone(), nn_value=self.nn_value.clone(),
                    nn_index=self.nn_index.clone(), changed=self.changed.clone())

    def _load_extra_state(self, state: dict) -> None:
        features = state.get('features')
        self.features = None if features is None else features.clone()
        self.seen, self.num_seen = state['seen'].clone(), state['num_seen'].clone()
        self.lifespan = state['lifespan'].clone()
        n = len(self.indices)
        if 'nn_index' in state:      # the kept neighbours (the same later choices)
            self.nn_value, self.nn_index = state['nn_value'].clone(), state['nn_index'].clone()
            self.changed = state['changed'].clone()
        else:                        # recomputed at the next eviction
            self.nn_value, self.nn_index = torch.zeros(n), torch.full((n,), -1, dtype=torch.long)
            self.changed = torch.ones(n, dtype=torch.bool)


def nearest_neighbours(features: torch.Tensor, block_size: int = 2048,
                       transform: bool = True, rows: Optional[torch.Tensor] = None):
    """(value, index) of every row's (or of ``rows``') most similar other row, similarity
    ``(cos + 1) / 2`` (``transform``) or plain cosine, computed ``block_size`` rows at a
    time."""
    rows = torch.arange(len(features), device=features.device) if rows is None else rows
    m = len(rows)
    values = features.new_empty(m)
    index = torch.empty(m, dtype=torch.long, device=features.device)
    for start in range(0, m, block_size):
        part = rows[start:start + block_size]
        sim = features[part] @ features.T
        if transform:
            sim = (sim + 1) / 2
        sim[torch.arange(len(part), device=features.device), part] = -10.0
        values[start:start + block_size], index[start:start + block_size] = sim.max(1)
    return values, index


def min_redundancy_removal(features: torch.Tensor, n: int, block_size: int = 2048,
                           neighbours=None, return_neighbours: bool = False):
    """Positions (in ``features``' row order) of the ``n`` rows MinRed removes.

    The reference's ``max_coverage_reduction``: with ``S = (cos + 1) / 2`` between rows
    (diagonal excluded), repeatedly remove the row whose nearest neighbour is the most
    similar (ties, such as the two rows of the most similar pair: the first row),
    excluding removed rows from everyone's neighbours. Here
    the nearest neighbours are computed once, ``block_size`` rows at a time, and after a
    removal only the rows whose nearest neighbour it was are recomputed: the same choices
    without an ``M x M`` matrix or ``n`` passes over it.

    Args:
        features (Tensor): (M, D) L2-normalised features, on any device.
        n (int): Rows to remove, ``n <= M``.
        block_size (int): Rows per block of the first pass. Defaults to 2048.
        neighbours (tuple, optional): Every row's nearest neighbour (value, index), if
            known (:class:`MinRedBuffer` keeps them across evictions). Defaults to None
            (computed here).
        return_neighbours (bool): Also return the surviving rows' nearest neighbours
            among the survivors (removed rows: -10 and their last index). Defaults to
            False.

    Returns:
        Tensor: (n,) removed row positions, in removal order (on the CPU); with
        ``return_neighbours``, ``(removed, values, index)``.
    """
    m = len(features)
    if n > m:
        raise ValueError(f'cannot remove {n} of {m} samples.')
    if neighbours is None:
        values, index = nearest_neighbours(features, block_size)
    else:
        values, index = neighbours[0].clone(), neighbours[1].clone()
    alive = torch.ones(m, dtype=torch.bool, device=features.device)
    removed: List[int] = []
    tol = 8 * torch.finfo(features.dtype).eps
    for _ in range(n):
        r = int(torch.argmax(values))
        # the top row is one of a mutually nearest pair; the reference's full, symmetric
        # matrix ties the two and removes the first: its value here may differ in the
        # last bit (computed in another block), so the tie is checked explicitly
        j = int(index[r])
        if j < r and alive[j] and int(index[j]) == r and values[j] >= values[r] - tol:
            r = j
        removed.append(r)
        alive[r] = False
        values[r] = -10.0
        stale = (index == r) & alive
        if stale.any():
            rows = stale.nonzero().squeeze(1)
            sim = (features[rows] @ features.T + 1) / 2
            sim[:, ~alive] = -10.0
            sim[torch.arange(len(rows), device=sim.device), rows] = -10.0
            values[rows], index[rows] = sim.max(1)
    removed = torch.tensor(removed, dtype=torch.long)
    return (removed, values, index) if return_neighbours else removed


def stream_buffer_stats(buffer: StreamBuffer, source_of=None) -> Dict[str, float]:
    """Diagnostics: stored samples, distinct sources (``source_of(index) -> int`` maps a
    stream index to its source, e.g. the video), and MinRed's mean nearest-neighbour
    cosine."""
    out = dict(stored=float(len(buffer)))
    if source_of is not None and len(buffer):
        out['distinct_sources'] = float(len({int(source_of(int(i))) for i in buffer.indices}))
    if isinstance(buffer, MinRedBuffer):
        sims = buffer.neighbour_similarity()
        if sims is not None:
            out['neighbour_similarity'] = float(sims.mean())
    return out


class BufferedUpdates:
    """The update schedule of buffered continuous learning on one rank (the reference's
    ``BufferBatchSampler`` / ``MinRedBufferBatchSampler.__iter__``).

    Each incoming chunk enters the buffer; while the buffer is not full nothing is
    trained; once full, ``num_updates`` batches of ``batch_size`` indices are drawn after
    every chunk; after the stream ends, batches are drawn from the final buffer until the
    total is ``stream length x num_updates / batch_size`` (the updates skipped during
    warm-up happen at the end, so every arm gets the same number of updates).

    Iterating yields the (B,) stream indices of each update; the model's results for a
    batch go back through ``buffer.update`` before the next one is drawn. The position is
    checkpointable (:meth:`state_dict`; the buffer's own state separately), and an
    iteration started after :meth:`load_state_dict` continues where the saved one was.

    Args:
        buffer (StreamBuffer): The buffer.
        chunks (Sequence[Sequence[int]]): This rank's stream, in order.
        num_updates (int): Updates per incoming chunk.
        batch_size (int): Samples per update.

    Raises:
        ValueError: If the buffer cannot hold one batch, or the stream is shorter than the
            buffer (training would never start).
    """

    def __init__(self, buffer: StreamBuffer, chunks: Sequence[Sequence[int]],
                 num_updates: int, batch_size: int):
        if num_updates < 1 or batch_size < 1:
            raise ValueError(f'num_updates and batch_size must be >= 1, got {num_updates} '
                             f'and {batch_size}.')
        if buffer.capacity < batch_size:
            raise ValueError(
                f'{type(buffer).__name__} holds {buffer.capacity} samples per process, fewer '
                f'than one batch of {batch_size}: set its size to at least batch_size x '
                f'processes ({batch_size * world()[1]}).')
        length = sum(len(c) for c in chunks)
        if length < buffer.capacity:
            raise ValueError(
                f'the stream has {length} samples per process but the buffer waits for '
                f'{buffer.capacity} before the first update: use a smaller buffer or a '
                'longer stream.')
        self.buffer, self.chunks = buffer, [list(map(int, c)) for c in chunks]
        self.num_updates, self.batch_size = int(num_updates), int(batch_size)
        self.total = length * self.num_updates // self.batch_size
        self.next_chunk = 0
        self.yielded = 0
        self._pending = 0   # updates still owed after the last chunk added

    def __len__(self) -> int:
        return self.total

    def __iter__(self):
        while self.yielded < self.total:
            if self._pending == 0:
                if self.next_chunk < len(self.chunks):
                    self.buffer.add(self.chunks[self.next_chunk])
                    self.next_chunk += 1
                    if not self.buffer.full:
                        continue
                self._pending = self.num_updates
            self._pending -= 1
            self.yielded += 1
            yield self.buffer.sample(self.batch_size)

    def state_dict(self) -> dict:
        return dict(next_chunk=self.next_chunk, yielded=self.yielded, pending=self._pending)

    def load_state_dict(self, state: dict) -> None:
        self.next_chunk, self.yielded = int(state['next_chunk']), int(state['yielded'])
        self._pending = int(state['pending'])
