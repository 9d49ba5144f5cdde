"""1 vs N processes on the same job and the same global batch: throughput and accuracy.

Workload (defaults): the default job, ``configs/er/er_resnet18_1xb32-5e_digits-5exp.py``
(ER with a 200-slot class-balanced buffer, ResNet-18 CIFAR stem 32 channels, 5
class-incremental digits experiences of 2 classes, 5 epochs each, SGD lr 0.01), global
batch 32: 1 process x 32, then N processes x 32 / N (``tools/dist_train.sh``), with
``sync_bn`` so that BatchNorm sees the global batch (``--no-sync-bn``: per-process
BatchNorm, one all-reduce per step instead of one per BatchNorm layer). On the CPU every process gets
``cores / N`` threads (gloo); with ``--device cuda`` one GPU per process (nccl) and the
per-process batch stays ``--batch`` (weak scaling: global batch N x 32), the usual way
GPUs are used.

Reported per run (from ``results.json`` and the last checkpoint): training images/s
(``images_per_s``, all processes together: training loop only, evaluation excluded), ms
per training iteration (``train_time_s`` / the iterations of rank 0), wall time of the
whole command (start-up, 5 stream evaluations, checkpoints), final average accuracy.
``--device cuda`` stops at once when torch sees no GPU.

Usage:
    python benchmarks/ddp_scaling.py [--nproc 1 2] [--seeds 0] [--device cpu|cuda]
        [--config CONFIG] [--batch 32]
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

from _common import ROOT, add_device_argument, check_device


def run(config: str, nproc: int, seed: int, work_dir: str, device: str, batch: int,
        sync_bn: bool) -> dict:
    per_rank = batch if device == 'cuda' else batch // nproc
    opts = ['--seed', str(seed), '--work-dir', work_dir, '--cfg-options',
            f'train_dataloader.batch_size={per_rank}', 'default_hooks.logger.interval=100000']
    if sync_bn:
        opts.append('sync_bn=torch')
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(29500 + seed + 10 * nproc))
    if device == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
        env['OMP_NUM_THREADS'] = str(max((os.cpu_count() or 1) // nproc, 1))
    if nproc == 1:
        cmd = [sys.executable, osp.join(ROOT, 'tools/train.py'), config, *opts]
    else:
        cmd = ['bash', osp.join(ROOT, 'tools/dist_train.sh'), config, str(nproc), *opts]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed:\n{proc.stderr[-4000:]}')
    with open(osp.join(work_dir, 'results.json')) as f:
        res = json.load(f)
    iters = iterations(work_dir)
    return dict(nproc=nproc, seed=seed, per_rank_batch=per_rank, sync_bn=sync_bn,
                images_per_s=res['images_per_s'],
                ms_per_iter=1e3 * res['train_time_s'] / iters if iters else None,
                wall_s=wall, average_accuracy=res['metrics']['average_accuracy'])


def iterations(work_dir: str) -> int:
    """Training iterations of rank 0 in a finished run (its last checkpoint's loop
    state)."""
    from clbox.engine.checkpoint_io import read_checkpoint
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        ckpt = read_checkpoint(f.read().strip())
    return int(ckpt['meta']['clbox']['iter'])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=osp.join(
        ROOT, 'configs/er/er_resnet18_1xb32-5e_digits-5exp.py'))
    parser.add_argument('--nproc', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--batch', type=int, default=32,
                        help='global batch on the CPU, per-process batch on GPUs')
    add_device_argument(parser)
    parser.add_argument('--no-sync-bn', action='store_true',
                        help='per-process BatchNorm (running statistics averaged per epoch)')
    parser.add_argument('--out', help='write the rows as JSON here')
    args = parser.parse_args()
    check_device(args.device)
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for seed in args.seeds:  # interleaved: 1, N, 1, N, ... per seed
            for nproc in args.nproc:
                row = run(args.config, nproc, seed, osp.join(root, f'{nproc}-{seed}'),
                          args.device, args.batch, not args.no_sync_bn)
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f'\n| processes | per-process batch | train images/s | ms/iter | wall s | '
          'final avg acc |')
    print('|---|---|---|---|---|---|')
    for n in args.nproc:
        mine = [r for r in rows if r['nproc'] == n]
        mean = lambda k: sum(r[k] for r in mine) / len(mine)  # noqa: E731
        print(f'| {n} | {mine[0]["per_rank_batch"]} | {mean("images_per_s"):.0f} | '
              f'{mean("ms_per_iter"):.2f} | {mean("wall_s"):.1f} | '
              f'{mean("average_accuracy"):.2f} |')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rows, f, indent=2)


if __name__ == '__main__':
    main()
