"""Naive vs ER vs Joint (and LwF, EWC) on the default 5-experience class-incremental
digits job: final average accuracy over seeds (mean +- std), wall time per run, and the
training loop's ms per iteration and images/s (``results.json``'s ``train_time_s`` over
the run's iterations; evaluation excluded).

Usage: python benchmarks/digits_methods.py [--seeds 0 1 2] [--methods naive er joint]
           [--device cpu|cuda]
"""
import argparse
import json
import os.path as osp
import tempfile
import time

import numpy as np

from _common import ROOT, Config, add_device_argument, check_device, quiet_runner, sync

CONFIGS = dict(
    naive='configs/naive/naive_resnet18_1xb32-5e_digits-5exp.py',
    er='configs/er/er_resnet18_1xb32-5e_digits-5exp.py',
    joint='configs/joint/joint_resnet18_1xb32-5e_digits-5exp.py',
    lwf='configs/lwf/lwf_resnet18_1xb32-5e_digits-5exp.py',
    ewc='configs/ewc/ewc_resnet18_1xb32-5e_digits-5exp.py',
    ewc_online='configs/ewc/ewc-online_resnet18_1xb32-5e_digits-5exp.py',
)


def run(method: str, seed: int, work_root: str, device: str = 'cpu') -> dict:
    cfg = Config.fromfile(osp.join(ROOT, CONFIGS[method]))
    cfg.work_dir = osp.join(work_root, f'{method}-{seed}')
    cfg.randomness = dict(seed=seed, deterministic=False)
    start = time.perf_counter()
    runner = quiet_runner(cfg)  # on the GPU whenever one is visible (see check_device)
    runner.train()
    sync(device)
    wall = time.perf_counter() - start
    with open(osp.join(cfg.work_dir, 'results.json')) as f:
        res = json.load(f)
    return dict(acc=res['metrics']['average_accuracy'],
                forgetting=res['metrics'].get('average_forgetting'), wall=wall,
                ms_per_iter=1e3 * res['train_time_s'] / runner.train_loop.iter,
                images_per_s=res['images_per_s'])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--methods', nargs='+', default=['naive', 'er', 'joint'])
    parser.add_argument('--out', default=None, help='write the table as JSON here')
    add_device_argument(parser)
    args = parser.parse_args()
    check_device(args.device)
    table = {}
    with tempfile.TemporaryDirectory() as work_root:
        for method in args.methods:
            runs = [run(method, s, work_root, args.device) for s in args.seeds]
            accs = np.array([r['acc'] for r in runs])
            fgt = np.array([r['forgetting'] for r in runs])
            walls = np.array([r['wall'] for r in runs])
            ms = np.mean([r['ms_per_iter'] for r in runs])
            ips = np.mean([r['images_per_s'] for r in runs])
            table[method] = dict(acc_mean=accs.mean(), acc_std=accs.std(ddof=1) if len(accs) > 1
                                 else 0.0, forgetting_mean=fgt.mean(), wall_mean_s=walls.mean(),
                                 ms_per_iter=ms, images_per_s=ips, accs=accs.tolist())
            print(f'{method:>10}: final average accuracy {accs.mean():6.2f} +- '
                  f'{table[method]["acc_std"]:5.2f}  forgetting {fgt.mean():6.2f}  '
                  f'wall {walls.mean():5.1f} s/run  {ms:.2f} ms/iter  {ips:.0f} images/s  '
                  f'({", ".join(f"{a:.2f}" for a in accs)})', flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(table, f, indent=2)


if __name__ == '__main__':
    main()
