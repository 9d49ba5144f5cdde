"""Old-class forgetting on the synthetic 2-step segmentation task (not run in CI).

Trains each method's synthetic config (``configs/continual_seg/*_synthetic-2-2.py``, as
written: 4 epochs per step, lr 0.1 then 0.01) through the runner for several seeds and
prints, per method, the mean ± std over seeds of the old-class (base, step-0 classes incl.
background) mIoU after step 0 and after the last step, and of the new-class mIoU after the
last step:

    OMP_NUM_THREADS=1 python benchmarks/seg_forgetting.py --methods ft mib plop reminder \
        --seeds 0 1 2

Seed ``s`` sets both the runner's seed (``cfg.randomness.seed``: initialisation and
shuffling) and the scenario's (``cfg.scenario.seed``: which synthetic images are drawn), so
the spread covers both. ``--epochs`` and ``--lr`` override the configs' schedule.

Expected (the MiB/PLOP claim): FT's old-class mIoU collapses after step 1, while MiB, PLOP
and REMINDER keep more of it.

Each run also prints its training loop's ms per iteration and images/s
(``results.json``'s ``train_time_s`` over the run's iterations). ``--device cuda`` trains
on the GPU (the runner takes it whenever one is visible; ``--device cpu`` hides it).
"""
import argparse
import glob
import json
import os.path as osp
import sys
import tempfile
from typing import List, Optional

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from _common import add_device_argument, check_device  # noqa: E402

#: (ms per training iteration, training images/s) of every run, in order
SPEED: list = []


def run(method: str, seed: int, work_root: str, epochs: Optional[int] = None,
        lrs: Optional[List[float]] = None) -> list:
    """Train one method for one seed through the runner.

    Args:
        method (str): Config prefix, e.g. ``'mib'``.
        seed (int): Runner and scenario seed.
        work_root (str): Parent of the run's work dir (``{method}_{seed}``).
        epochs (int, optional): Epochs per step. Defaults to the config's.
        lrs (list[float], optional): ``lr_per_step``. Defaults to the config's.

    Returns:
        list: ``results.json``'s ``history`` (one entry with ``metrics`` per step).
    """
    from mmengine.config import Config

    from clbox.registry import RUNNERS
    path, = glob.glob(osp.join(ROOT, 'configs/continual_seg',
                               f'{method}_deeplabv3-tiny_*_synthetic-2-2.py'))
    cfg = Config.fromfile(path)
    cfg.work_dir = osp.join(work_root, f'{method}_{seed}')
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.scenario.seed = seed
    if epochs is not None:
        cfg.train_cfg.max_epochs = epochs
        cfg.param_scheduler[0].end = epochs
    if lrs:
        cfg.model.lr_per_step = list(lrs)
    cfg.default_hooks.logger.interval = 1000
    cfg.log_level = 'WARNING'
    runner = RUNNERS.build(cfg)
    runner.train()
    with open(osp.join(cfg.work_dir, 'results.json')) as f:
        results = json.load(f)
    if results.get('seed') != seed:
        raise RuntimeError(f'the runner used seed {results.get("seed")}, not {seed}.')
    iters = runner.train_loop.iter
    SPEED.append((1e3 * results['train_time_s'] / iters, results['images_per_s']))
    print(f'{method} seed {seed}: {iters} iterations, {SPEED[-1][0]:.1f} ms/iter, '
          f'{SPEED[-1][1]:.1f} images/s', flush=True)
    return results['history']


def summarise(history: list) -> dict:
    """The table's figures of one run."""
    first, last = history[0]['metrics'], history[-1]['metrics']
    return dict(base_step0=first['mIoU_base'], base_last=last['mIoU_base'],
                new_last=last.get('mIoU_new', float('nan')), all_last=last['mIoU_all'])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--methods', nargs='+', default=['ft', 'mib', 'plop', 'reminder'])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=None,
                        help='epochs per step (default: the configs\' 4)')
    parser.add_argument('--lr', nargs='+', type=float, default=None,
                        help='lr_per_step (default: the configs\')')
    parser.add_argument('--work-dir', default=None)
    add_device_argument(parser)
    args = parser.parse_args()
    check_device(args.device)
    import clbox
    clbox.init_scope()
    work_root = args.work_dir or tempfile.mkdtemp(prefix='seg_forgetting_')
    table = {}
    for method in args.methods:
        runs = [summarise(run(method, s, work_root, args.epochs, args.lr)) for s in args.seeds]
        table[method] = {k: [r[k] for r in runs] for k in runs[0]}
        print(f'{method}: ' + ', '.join(f'{k}={[round(v, 1) for v in vs]}'
                                        for k, vs in table[method].items()), flush=True)
    with open(osp.join(work_root, 'seg_forgetting.json'), 'w') as f:
        json.dump(dict(seeds=args.seeds, epochs=args.epochs, lr=args.lr, table=table), f,
                  indent=1)
    print(f'\nsynthetic 2-2 overlapped, seeds {args.seeds}, epochs/step '
          f'{args.epochs or "config"}, lr {args.lr or "config"}; mean ± std (population) '
          f'over seeds; runs in {work_root}\n')
    print('| method | old (base) mIoU after step 0 | old (base) mIoU after step 1 | '
          'new mIoU after step 1 | all mIoU after step 1 |\n|---|---|---|---|---|')
    for method, cols in table.items():
        cells = ' | '.join(f'{np.mean(v):.1f} ± {np.std(v):.1f}' for v in cols.values())
        print(f'| {method} | {cells} |')


if __name__ == '__main__':
    main()
