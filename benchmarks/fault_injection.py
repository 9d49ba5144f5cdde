"""Many kills: SIGKILL a training run at N seeded random moments per method (after an
iteration, or half-way through a checkpoint write), resume, and check that every resumed
accuracy matrix is bit-identical to the uninterrupted run's. The CI runs one moment per
method (``tests/test_engine/test_fault_injection.py``, whose configs and helpers this
script reuses).

Usage: python benchmarks/fault_injection.py [--kills 4] [--methods ER LwF EWC AR1 PI]
"""
import argparse
import os
import os.path as osp
import pathlib
import random
import sys
import tempfile

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path[:0] = [osp.join(ROOT, 'tests'), osp.join(ROOT, 'tests', 'test_engine')]

from dist_helpers import read_json, train, write_config  # noqa: E402
from test_fault_injection import (METHODS, config_text, iterations,  # noqa: E402
                                  kill_and_resume)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--kills', type=int, default=4, help='moments per method')
    parser.add_argument('--methods', nargs='+', default=list(METHODS))
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
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
            reference = read_json(folder / 'full', 'results.json')['accuracy_matrix']
            total = iterations(folder / 'full')
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
