"""Cost of inserting a batch into a 2,000-slot ClassBalancedBuffer after 1 experience and
after 100 experiences (2 new classes each), and the same for the other buffers.

Usage: python benchmarks/buffer_insertion.py [--batch 32] [--repeats 200]
"""
import argparse
import statistics
import time

import torch

from _common import clbox  # noqa: F401
from clbox.registry import BUFFERS


def fill(buffer, experiences: int, per_exp: int = 500, batch: int = 50):
    for e in range(experiences):
        for start in range(0, per_exp, batch):
            labels = 2 * e + torch.arange(batch) % 2
            buffer.add(torch.randint(0, 255, (batch, 3, 32, 32), dtype=torch.uint8), labels, e)


def median_add_time(buffer, experience: int, batch: int, repeats: int,
                    restore: bool = False) -> float:
    """Median seconds per add() of a batch of ``experience``'s two classes.

    With ``restore`` the buffer is reset to its state before every repeat, so each add is
    the first batch of a new experience (which shrinks every other class to the new quota).
    """
    state, times = buffer.state_dict() if restore else None, []
    for _ in range(repeats):
        if restore:
            buffer.load_state_dict(state)
        x = torch.randint(0, 255, (batch, 3, 32, 32), dtype=torch.uint8)
        y = 2 * experience + torch.arange(batch) % 2
        t = time.perf_counter()
        buffer.add(x, y, experience)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in ('ClassBalancedBuffer', 'ExperienceBalancedBuffer', 'ReservoirBuffer'):
        row, new = [], []
        for done in (1, 100):
            buffer = BUFFERS.build(dict(type=name, size=2000, seed=0))
            fill(buffer, done)
            new.append(median_add_time(buffer, done, args.batch, 20, restore=True))
            row.append(median_add_time(buffer, done - 1, args.batch, args.repeats))
        print(f'{name:>25}: add({args.batch}) after 1 experience {row[0] * 1e3:.3f} ms, '
              f'after 100 experiences {row[1] * 1e3:.3f} ms (ratio {row[1] / row[0]:.2f}); '
              f'first batch of new classes {new[0] * 1e3:.3f} ms vs {new[1] * 1e3:.3f} ms',
              flush=True)


if __name__ == '__main__':
    main()
