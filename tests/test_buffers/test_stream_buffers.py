"""FIFO and MinRed stream buffers, the buffered update schedule and chunk dealing, against
the reference's rules (senthilps8/continuous_ssl_problem, datasets/mysampler.py) written
plainly in the tests."""
import math
import random

import pytest
import torch
import torch.nn.functional as F

from clbox.buffers import BufferedUpdates, FIFOBuffer, MinRedBuffer
from clbox.buffers.stream import min_redundancy_removal
from clbox.scenarios import ChunkSampler
from dist_helpers import run_in_ranks


def reference_removal(features, n):
    """max_coverage_reduction: the full (cos + 1) / 2 matrix, n masked passes.

    The matrix is made exactly symmetric (upper triangle mirrored), as it is in exact
    arithmetic: a matmul may round ``S[a, b]`` and ``S[b, a]`` differently in the last bit,
    which would decide the reference's choice inside a mutually nearest pair by rounding
    noise of the BLAS in use; with a symmetric matrix the first of the pair goes."""
    sim = features @ features.T
    sim = (torch.triu(sim) + torch.triu(sim, 1).T + 1) / 2
    sim.fill_diagonal_(-10.0)
    removed = []
    for _ in range(n):
        r = int(torch.argmax(sim.max(dim=1)[0]))
        removed.append(r)
        sim[r, :] = -10.0
        sim[:, r] = -10.0
    return removed


@pytest.mark.parametrize('m,d,n,block', [(50, 8, 10, 7), (300, 16, 64, 64), (130, 4, 64, 1000)])
def test_incremental_removal_equals_the_reference_rule(m, d, n, block):
    g = torch.Generator().manual_seed(m)
    feats = F.normalize(torch.randn(m, d, generator=g, dtype=torch.float64), dim=1)
    # clustered features: many near-duplicates, as frames of one video
    feats[::3] = F.normalize(feats[::3] + 0.05 * torch.randn(len(feats[::3]), d,
                                                             generator=g, dtype=torch.float64), dim=1)
    assert min_redundancy_removal(feats, n, block).tolist() == reference_removal(feats, n)


def test_fifo_keeps_the_newest_in_order():
    buf = FIFOBuffer(size=5)
    buf.add([0, 1, 2])
    assert not buf.full and buf.indices.tolist() == [0, 1, 2]
    buf.add([3, 4, 5, 6])
    assert buf.full and buf.indices.tolist() == [2, 3, 4, 5, 6]
    draw = buf.sample(5)
    assert sorted(draw.tolist()) == [2, 3, 4, 5, 6]          # without replacement
    assert len(set(buf.sample(3).tolist())) == 3


class ReferenceMinRed:
    """The reference's MinRed buffer as a list of dicts (add_to_buffer, resize_buffer,
    update_sample_stats), with the oldest-first fallback made stable."""

    def __init__(self, capacity, gamma=0.5):
        self.capacity, self.gamma, self.buffer = capacity, gamma, []

    def add(self, indices):
        self.buffer += [dict(idx=i, lifespan=0, feature=None, seen=False, num_seen=0)
                        for i in indices]
        for b in self.buffer:
            b['lifespan'] += 1
        n2rm = len(self.buffer) - self.capacity
        if n2rm <= 0:
            return
        cands = [(b, i) for i, b in enumerate(self.buffer) if b['seen']]
        if len(cands) < 2 * n2rm:
            order = sorted(range(len(self.buffer)), key=lambda i: -self.buffer[i]['lifespan'])
            drop = set(order[:n2rm])
        else:
            feats = torch.stack([b['feature'] for b, _ in cands])
            drop = {cands[i][1] for i in reference_removal(feats, n2rm)}
        self.buffer = [b for i, b in enumerate(self.buffer) if i not in drop]

    def update(self, indices, z1, z2):
        where = {b['idx']: b for b in self.buffer}
        feats = F.normalize(z1 + z2, dim=-1)
        for i, idx in enumerate(indices.tolist()):
            if idx in where:
                b = where[idx]
                b['feature'] = feats[i] if not b['seen'] else F.normalize(
                    (1 - self.gamma) * b['feature'] + self.gamma * feats[i], dim=-1)
                b['seen'], b['num_seen'] = True, b['num_seen'] + 1


def test_minred_buffer_follows_the_reference_through_a_stream():
    torch.manual_seed(0)
    ours, ref = MinRedBuffer(size=48, seed=3), ReferenceMinRed(48)
    centres = F.normalize(torch.randn(40, 6, dtype=torch.float64), dim=1)
    for step in range(30):
        chunk = list(range(16 * step, 16 * step + 16))
        ours.add(chunk)
        ref.add(chunk)
        assert ours.indices.tolist() == [b['idx'] for b in ref.buffer], step
        if not ours.full:
            continue
        for _ in range(3):
            batch = ours.sample(16)
            src = centres[batch // 16 % 40]  # frames of one chunk are near-duplicates
            z1 = src + 0.1 * torch.randn(16, 6, dtype=torch.float64)
            z2 = src + 0.1 * torch.randn(16, 6, dtype=torch.float64)
            ours.update(batch, z1, z2)
            ref.update(batch, z1, z2)
    assert ours.lifespan.tolist() == [b['lifespan'] for b in ref.buffer]
    assert ours.seen.tolist() == [b['seen'] for b in ref.buffer]
    assert ours.num_seen.tolist() == [b['num_seen'] for b in ref.buffer]
    for i, b in enumerate(ref.buffer):
        if b['seen']:
            assert torch.allclose(ours.features[i].double(), b['feature'], atol=1e-6)
    # both policies evicted: MinRed keeps more distinct chunks than the 3 a FIFO would
    assert len(set((ours.indices // 16).tolist())) > 3
    # the neighbours kept across evictions are those a fresh computation finds
    from clbox.buffers.stream import nearest_neighbours
    cands = ours.seen.nonzero().squeeze(1)
    kept, _ = ours._refresh_neighbours(cands)
    fresh, _ = nearest_neighbours(ours.features[cands])
    assert torch.allclose(kept, fresh, atol=1e-12)


def test_minred_never_evicts_unseen_samples_while_enough_were_seen():
    buf = MinRedBuffer(size=8)
    buf.add(range(8))
    buf.update(torch.arange(8), torch.randn(8, 4), torch.randn(8, 4))
    buf.add([100, 101])
    assert {100, 101} <= set(buf.indices.tolist()) and len(buf) == 8
    with pytest.raises(ValueError, match='z1 and z2'):
        buf.update(torch.arange(2))


def test_update_count_warm_up_and_tail():
    stream = [list(range(i, i + 4)) for i in range(0, 40, 4)]   # 10 chunks of 4
    buf = FIFOBuffer(size=12)
    schedule = BufferedUpdates(buf, stream, num_updates=3, batch_size=4)
    batches = list(schedule)
    assert len(batches) == len(schedule) == 40 * 3 // 4
    # the first update comes once 3 chunks filled the buffer: samples 0..11
    assert set(batches[0].tolist()) <= set(range(12))
    # 8 chunks x 3 updates while streaming, the 2 x 3 of the warm-up at the end
    assert all(set(b.tolist()) <= set(range(28, 40)) for b in batches[-6:])
    with pytest.raises(ValueError, match='fewer than one batch'):
        BufferedUpdates(FIFOBuffer(size=3), stream, 1, 4)
    with pytest.raises(ValueError, match='longer stream'):
        BufferedUpdates(FIFOBuffer(size=400), stream, 1, 4)


def test_schedule_resumes_mid_stream_identically():
    def run(stop=None):
        stream = [list(range(i, i + 4)) for i in range(0, 48, 4)]
        buf = MinRedBuffer(size=16, seed=1)
        schedule = BufferedUpdates(buf, stream, num_updates=2, batch_size=4)
        out, saved = [], None
        g = torch.Generator().manual_seed(0)
        for k, batch in enumerate(schedule):
            out.append(batch.tolist())
            buf.update(batch, torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g))
            if k + 1 == stop:
                saved = (schedule.state_dict(), buf.state_dict(), g.get_state())
                break
        return out, saved

    full, _ = run()
    head, (sched_state, buf_state, g_state) = run(stop=9)
    stream = [list(range(i, i + 4)) for i in range(0, 48, 4)]
    buf = MinRedBuffer(size=16, seed=1)
    buf.load_state_dict(buf_state)
    schedule = BufferedUpdates(buf, stream, num_updates=2, batch_size=4)
    schedule.load_state_dict(sched_state)
    g = torch.Generator()
    g.set_state(g_state)
    tail = []
    for batch in schedule:
        tail.append(batch.tolist())
        buf.update(batch, torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g))
    assert head + tail == full


def reference_deal(length, batch, world, rank, shuffle, seed, block=None):
    """MyDistributedSampler (drop_last) + ResumableDistributedSampler's grouping."""
    if shuffle:
        g = torch.Generator()
        g.manual_seed(seed)
        order = torch.randperm(length, generator=g).tolist()
    else:
        order = list(range(length))
    total = length // (batch * world) * batch * world
    order = order[:total]

    def shard(r):
        chunks = [order[i:i + batch] for i in range(0, len(order), batch)]
        return [i for c in chunks[r:len(chunks):world] for i in c]
    if not block:
        return shard(rank)
    starts = [i for r in range(world) for i in shard(r) if i % block == 0]
    num_start = math.ceil((len(starts) - world) / world)
    starts = starts[:world * num_start][rank::world]
    return [s + k for s in starts for k in range(block)]


@pytest.mark.parametrize('shuffle', [True, False])
@pytest.mark.parametrize('block', [None, 8])
def test_chunks_are_dealt_whole_to_ranks(shuffle, block):
    results = run_in_ranks(_deal_in_rank, shuffle, block)
    for rank, got in enumerate(results):
        assert got == reference_deal(8 * 30, 8, 2, rank, shuffle, 5, block)
    if block:   # every chunk is one whole block
        assert all(len({i // 8 for i in chunk}) == 1
                   for r in results for chunk in zip(*[iter(r)] * 8))


def _deal_in_rank(rank, world_size, shuffle, block):
    return ChunkSampler(8 * 30, 8, shuffle=shuffle, seed=5, block=block).indices()


def test_per_rank_capacity_and_rank_seeds():
    caps = run_in_ranks(_capacity_in_rank)
    assert [c[0] for c in caps] == [5, 4]             # 9 slots over 2 ranks
    assert caps[0][1] != caps[1][1]                   # each rank draws its own batches


def _capacity_in_rank(rank, world_size):
    buf = MinRedBuffer(size=9, seed=0)
    buf.add(range(100, 105))
    return buf.capacity, buf.sample(4).tolist()
