"""Cost of inserting a batch into a 2,000-slot ClassBalancedBuffer after 1 experience and
after 100 experiences (2 new classes each), and the same for the other buffers. Each
add() is one iteration: ms per add() and images/s (batch / time) are reported.

Buffers store on the CPU whatever the device; with ``--device cuda`` the offered batches
are CUDA tensors (as a GPU pipeline hands them over), so add() includes their copy to the
host.

Usage: python benchmarks/buffer_insertion.py [--batch 32] [--repeats 200] [--device cpu|cuda]
"""
import argparse
import statistics
import time

import torch

from _common import add_device_argument, check_device, clbox, device_name, sync  # noqa: F401
from clbox.registry import BUFFERS


def fill(buffer, experiences: int, per_exp: int = 500, batch: int = 50):
    for e in range(experiences):
        for start in range(0, per_exp, batch):
            labels = 2 * e + torch.arange(batch) % 2
            buffer.add(torch.randint(0, 255, (batch, 3, 32, 32), dtype=torch.uint8), labels, e)


def median_add_time(buffer, experience: int, batch: int, repeats: int,
                    restore: bool = False, device: str = 'cpu') -> float:
    """Median seconds per add() of a batch of ``experience``'s two classes.

    With ``restore`` the buffer is reset to its state before every repeat, so each add is
    the first batch of a new experience (which shrinks every other class to the new quota).
    """
    state, times = buffer.state_dict() if restore else None, []
    for _ in range(repeats):
        if restore:
            buffer.load_state_dict(state)
        x = torch.randint(0, 255, (batch, 3, 32, 32), dtype=torch.uint8, device=device)
        y = 2 * experience + torch.arange(batch, device=device) % 2
        sync(device)
        t = time.perf_counter()
        buffer.add(x, y, experience)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=200)
    add_device_argument(parser)
    args = parser.parse_args()
    check_device(args.device)
    torch.set_num_threads(1)
    print(f'batches of {args.batch} 3x32x32 uint8 images on {device_name(args.device)}')
    for name in ('ClassBalancedBuffer', 'ExperienceBalancedBuffer', 'ReservoirBuffer'):
        row, new = [], []
        for done in (1, 100):
            buffer = BUFFERS.build(dict(type=name, size=2000, seed=0))
            fill(buffer, done)
            new.append(median_add_time(buffer, done, args.batch, 20, restore=True,
                                       device=args.device))
            row.append(median_add_time(buffer, done - 1, args.batch, args.repeats,
                                       device=args.device))
        print(f'{name:>25}: add({args.batch}) after 1 experience {row[0] * 1e3:.3f} ms/iter '
              f'({args.batch / row[0]:.0f} images/s), after 100 experiences '
              f'{row[1] * 1e3:.3f} ms/iter ({args.batch / row[1]:.0f} images/s, ratio '
              f'{row[1] / row[0]:.2f}); first batch of new classes {new[0] * 1e3:.3f} ms vs '
              f'{new[1] * 1e3:.3f} ms', flush=True)


if __name__ == '__main__':
    main()
