"""Many kills: SIGKILL a training run at N seeded random moments per method (after an
iteration, or half-way through a checkpoint write), resume, and check that every resumed
accuracy matrix is bit-identical to the uninterrupted run's. The CI runs one moment per
method (``tests/test_engine/test_fault_injection.py``, whose configs and helpers this
script reuses). The uninterrupted run's ms per training iteration and images/s are
printed too (``results.json``'s ``train_time_s`` over its iterations).

The runs are ``tools/train.py`` processes. ``--device cuda`` lets them see the GPU (the
test helpers hide it otherwise); bit-identical resumes on a GPU also need deterministic
kernels, which these configs do not ask for.

Usage: python benchmarks/fault_injection.py [--kills 4] [--methods ER LwF EWC AR1 PI]
           [--device cpu|cuda]
"""
import argparse
import os
import os.path as osp
import pathlib
import random
import sys
import tempfile

from _common import ROOT, add_device_argument, check_device  # noqa: E402

sys.path[:0] = [osp.join(ROOT, 'tests'), osp.join(ROOT, 'tests', 'test_engine')]

import dist_helpers  # noqa: E402
from dist_helpers import read_json, train, write_config  # noqa: E402
from test_fault_injection import (METHODS, config_text, iterations,  # noqa: E402
                                  kill_and_resume)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--kills', type=int, default=4, help='moments per method')
    parser.add_argument('--methods', nargs='+', default=list(METHODS))
    parser.add_argument('--seed', type=int, default=0)
    add_device_argument(parser)
    args = parser.parse_args()
    check_device(args.device)
    if args.device == 'cuda':  # the helpers' environment hides the GPUs: let them through
        env_for = dist_helpers.env_for

        def env_with_gpus(folder):
            env = env_for(folder)
            env.pop('CUDA_VISIBLE_DEVICES', None)
            return env
        dist_helpers.env_for = env_with_gpus
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        os.environ['CLBOX_CACHE'] = str(root / 'cache')
        from fixtures.core50 import make_core50
        core50 = str(root / 'core50')
        make_core50(core50, frames=4, size=32)
        for name in args.methods:
            folder = root / name
            full = write_config(folder / 'full', 'cfg.py', config_text(name, core50))
            train(full, '--work-dir', str(folder / 'full'))
            results = read_json(folder / 'full', 'results.json')
            reference = results['accuracy_matrix']
            total = iterations(folder / 'full')
            print(f'{name}: uninterrupted run {total} iterations, '
                  f'{1e3 * results["train_time_s"] / total:.2f} ms/iter, '
                  f'{results["images_per_s"]:.0f} images/s ({args.device})', flush=True)
            rng = random.Random(f'{args.seed}-{name}')
            for _ in range(args.kills):
                iteration, during_save = rng.randrange(0, total - 1), rng.random() < 0.5
                resumed = kill_and_resume(folder, name, core50, iteration, during_save)
                same = resumed['accuracy_matrix'] == reference
                failures += not same
                print(f'{name}: killed after iteration {iteration}/{total}'
                      f'{" mid-checkpoint" if during_save else ""}: resumed matrix '
                      f'{"identical" if same else "DIFFERENT"}', flush=True)
    print(f'{failures} of {args.kills * len(args.methods)} resumed runs differ')
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
