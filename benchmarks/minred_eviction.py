"""MinRed eviction cost: clbox's incremental greedy removal vs the reference's rule.

Workload: M stored L2-normalised features of dimension D (512: ResNet-18's projector),
clustered like video frames (groups of 64 near-duplicates), n = 64 removals (one incoming
chunk of 64), as after every chunk in the continuous-SSL reference (senthilps8/
continuous_ssl_problem, ``MinRedBufferBatchSampler.resize_buffer``). The reference builds
the M x M similarity and makes n masked passes over it; clbox computes the nearest
neighbours once, a block of rows at a time, and recomputes only the rows whose nearest
neighbour was removed (``clbox.buffers.stream.min_redundancy_removal``). Both choose the
same samples (checked here for every M where the reference runs).

Second table, the buffer in steady state (``MinRedBuffer.add`` of one chunk to a full
buffer of M trained-on samples, after 4 updates of 64 samples changed their features, as
between two chunks of the reference's Kinetics x4 runs): the buffer keeps its nearest
neighbours from one eviction to the next and recomputes only the rows that changed (or
whose neighbour changed), against the same buffer recomputing every row each chunk.

Usage: python benchmarks/minred_eviction.py [--sizes 1024 4096 16384] [--dim 512]
       [--reference-max 4096] [--device cpu|cuda] [--repeats 3]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from _device import add_device_argument, check_device, sync
from clbox.buffers.stream import MinRedBuffer, min_redundancy_removal


def features(m: int, d: int, device: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(m)
    centres = torch.randn(m // 64 + 1, d, generator=g)
    x = centres.repeat_interleave(64, 0)[:m] + 0.3 * torch.randn(m, d, generator=g)
    return F.normalize(x, dim=1).to(device)


def reference(x: torch.Tensor, n: int) -> list:
    """The reference's max_coverage_reduction (full matrix, n masked passes)."""
    sim = (x @ x.T + 1) / 2
    sim.fill_diagonal_(-10.0)
    removed = []
    for _ in range(n):
        r = int(torch.argmax(sim.max(dim=1)[0]))
        removed.append(r)
        sim.index_fill_(0, torch.tensor([r], device=x.device), -10.0)
        sim.index_fill_(1, torch.tensor([r], device=x.device), -10.0)
    return removed


def timed(fn, device, repeats):
    times, out = [], None
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1024, 4096, 16384])
    parser.add_argument('--dim', type=int, default=512)
    parser.add_argument('--removals', type=int, default=64)
    parser.add_argument('--reference-max', type=int, default=4096,
                        help='largest M for the reference rule (its M x M matrix)')
    parser.add_argument('--block', type=int, default=2048)
    parser.add_argument('--repeats', type=int, default=3)
    add_device_argument(parser)
    args = parser.parse_args()
    device = check_device(args.device)
    if device == 'cpu':
        torch.set_num_threads(max(torch.get_num_threads(), 1))
    print(f'device {device}, {torch.get_num_threads()} thread(s), D={args.dim}, '
          f'{args.removals} removals per chunk, block {args.block}')
    print('| M | clbox incremental s | reference s | same choice | clbox peak extra memory |')
    print('|---|---|---|---|---|')
    for m in args.sizes:
        x = features(m, args.dim, device)
        t_inc, got = timed(lambda: min_redundancy_removal(x, args.removals, args.block),
                           device, args.repeats)
        if m <= args.reference_max:
            t_ref, want = timed(lambda: reference(x, args.removals), device,
                                max(1, args.repeats // 2))
            same = 'yes' if got.tolist() == want else 'NO'
            ref = f'{t_ref:.3f}'
        else:
            ref, same = f'not run (M x M = {m * m * 4 / 2**30:.1f} GiB)', '-'
        extra = args.block * m * 4 / 2**20
        print(f'| {m} | {t_inc:.3f} | {ref} | {same} | {extra:.0f} MiB |', flush=True)
    print(f'\nsteady state, one chunk of 64 into a full buffer (median of {args.repeats}):')
    print('| M | kept neighbours s | all rows recomputed s |')
    print('|---|---|---|')
    for m in args.sizes:
        kept = steady_state(m, args.dim, device, args.repeats, from_scratch=False)
        scratch = steady_state(m, args.dim, device, args.repeats, from_scratch=True)
        print(f'| {m} | {kept:.3f} | {scratch:.3f} |', flush=True)


def steady_state(m: int, d: int, device: str, repeats: int, from_scratch: bool):
    """Median seconds of ``MinRedBuffer.add`` (one chunk of 64) on a full buffer."""
    x = features(m + 64 * (repeats + 1), d, device)
    buf = MinRedBuffer(size=m, seed=0)
    buf.add(list(range(m)))
    buf.update(torch.arange(m), z1=x[:m], z2=x[:m])
    buf.add(list(range(m, m + 64)))          # first eviction: every row computed
    g = torch.Generator().manual_seed(1)
    times = []
    for r in range(repeats):
        for _ in range(4):                   # 4 updates of 64 between two chunks
            idx = buf.sample(64)
            noisy = F.normalize(x[idx] + 0.05 * torch.randn(64, d, generator=g).to(device), dim=1)
            buf.update(idx, z1=noisy, z2=noisy)
        if from_scratch:
            buf.changed[:] = True
        start = m + 64 * (r + 1)
        sync(device)
        t = time.perf_counter()
        buf.add(list(range(start, start + 64)))
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


if __name__ == '__main__':
    main()
