"""Old-class forgetting on the synthetic 2-step segmentation task (not run in CI).

Trains each method's synthetic config through the runner for several seeds and prints the
mean +- std of the base-class mIoU after step 0 and after the last step, and of all classes:

    OMP_NUM_THREADS=1 python benchmarks/seg_forgetting.py --methods ft mib plop reminder \
        --seeds 0 1 2 --epochs 15 --lr 0.05 0.005

Expected (the MiB/PLOP claim): FT's old-class mIoU collapses after step 1, while MiB, PLOP
and REMINDER keep more of it.
"""
import argparse
import glob
import json
import os.path as osp
import sys
import tempfile

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)


def run(method: str, seed: int, epochs: int, lrs, work_root: str) -> dict:
    """One run; returns the per-step metrics history."""
    from mmengine.config import Config

    from clbox.registry import RUNNERS
    path, = glob.glob(osp.join(ROOT, 'configs/continual_seg',
                               f'{method}_deeplabv3-tiny_*_synthetic-2-2.py'))
    cfg = Config.fromfile(path)
    cfg.work_dir = osp.join(work_root, f'{method}_{seed}')
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.train_cfg.max_epochs = epochs
    cfg.param_scheduler[0].end = epochs
    cfg.model.lr_per_step = list(lrs)
    cfg.default_hooks.logger.interval = 1000
    cfg.log_level = 'WARNING'
    RUNNERS.build(cfg).train()
    with open(osp.join(cfg.work_dir, 'results.json')) as f:
        return json.load(f)['history']


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--methods', nargs='+', default=['ft', 'mib', 'plop', 'reminder'])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=15)
    parser.add_argument('--lr', nargs='+', type=float, default=[0.05, 0.005])
    parser.add_argument('--work-dir', default=None)
    args = parser.parse_args()
    import clbox
    clbox.init_scope()
    work_root = args.work_dir or tempfile.mkdtemp(prefix='seg_forgetting_')
    rows = []
    for method in args.methods:
        runs = [run(method, s, args.epochs, args.lr, work_root) for s in args.seeds]
        step0 = [h[0]['metrics']['mIoU_base'] for h in runs]
        base = [h[-1]['metrics']['mIoU_base'] for h in runs]
        new = [h[-1]['metrics'].get('mIoU_new', 0.0) for h in runs]
        every = [h[-1]['metrics']['mIoU_all'] for h in runs]
        rows.append((method, step0, base, new, every))
        print(f'{method}: done', flush=True)
    print(f'\nsynthetic 2-2 overlapped, {len(args.seeds)} seeds, {args.epochs} epochs/step, '
          f'lr {args.lr}\n')
    print('| method | base mIoU after step 0 | base (old) mIoU after step 1 | new mIoU | '
          'all mIoU |\n|---|---|---|---|---|')
    for method, *cols in rows:
        cells = ' | '.join(f'{np.mean(c):.1f} ± {np.std(c):.1f}' for c in cols)
        print(f'| {method} | {cells} |')


if __name__ == '__main__':
    main()
