"""SSLAD 2021 Track 3A: ablation rows 1, 2 and 9 of the 3rd-place solution, timed by part.

Workload: the row configs (configs/sslad/r01, r02, r09: ResNet-50 / ResNet-50-D at 64 x 64,
incoming batches of 10 plus 6 replayed, one update each, memory 1000 / sweep to 500 / 5 per
update, 12 RandAugment views per sweep) on a SODA10M folder (``--data-root``, the
``SSLAD-2D/labeled`` folder, with ``--crop-cache``) or, by default, on a generated
miniature SODA10M in the real format (``--objects-per-task`` kept objects in each of the 6
tasks; its crops cached first) with backbones randomly initialised (no pretrained file is
read). AMCA on the miniature set measures nothing; the time split is the point:

* ``step``: one training update (replay draw and augmentation, forward, losses, backward,
  SGD), per incoming batch;
* ``select``: the online selection after the update (an eval forward of the mixed batch,
  scores, storage);
* ``sweep``: the periodic sweep (12 augmented passes over memory + batch), its total and
  its cost amortised per incoming batch;
* ``head``: the v4.4 head step (rows 10-11 only).

The reference sweeps whenever the memory is full: every 100 updates once it holds 1,000
(iterations 199, 299, ...), over ~1,010 samples x 12 views = ~12,000 eval forwards per
sweep, i.e. ~120 per update against the 16 samples of a training step.

Usage: python benchmarks/sslad_ladder.py [--rows 1 2 9] [--objects-per-task 500]
       [--data-root DIR --crop-cache DIR] [--device cpu|cuda] [--sweep-batch-size 32]
       [--out F.json]
"""
import argparse
import glob
import json
import os.path as osp
import statistics
import sys
import tempfile
import time
import uuid

from _common import ROOT, Config, quiet_runner
from _device import add_device_argument, check_device

sys.path.insert(0, osp.join(ROOT, 'tests'))


def _row_config(row: int) -> str:
    (path, ) = [p for p in glob.glob(osp.join(ROOT, 'configs', 'sslad', f'r{row:02d}-*.py'))
                if not p.endswith('-testset.py')]
    return path


class Timer:
    """Wall time of calls of one bound method, by name."""

    def __init__(self):
        self.times = {}

    def wrap(self, obj, name, key):
        original = getattr(obj, name)

        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.times.setdefault(key, []).append(time.perf_counter() - t)
        setattr(obj, name, timed)


def run_row(row: int, data_root: str, crop_cache: str, work_dir: str, device: str,
            sweep_batch_size: int) -> dict:
    cfg = Config.fromfile(_row_config(row))
    cfg.work_dir, cfg.experiment_name = work_dir, f'sslad-{row}-{uuid.uuid4().hex[:8]}'
    cfg.scenario.update(data_root=data_root, cache_dir=crop_cache)
    cfg.model.model.backbone.pop('init_cfg', None)      # random weights: no file needed
    cfg.model.sweep_batch_size = sweep_batch_size
    cfg.train_dataloader.num_workers = cfg.val_dataloader.num_workers = 0
    cfg.test_dataloader.num_workers = 0
    runner = quiet_runner(cfg)
    algorithm = runner.model
    timer = Timer()
    timer.wrap(algorithm, 'train_step', 'step')
    timer.wrap(algorithm, 'observe', 'observe')
    timer.wrap(algorithm.buffer, 'sweep', 'sweep')
    if algorithm.head_finetune is not None:
        timer.wrap(algorithm, 'head_step', 'head')
    start = time.perf_counter()
    runner.train()
    wall = time.perf_counter() - start
    with open(osp.join(runner.work_dir, 'results.json')) as f:
        metrics = json.load(f)['metrics']
    t = timer.times
    updates = len(t['step'])
    sweeps = t.get('sweep', [])
    head = t.get('head', [])
    select = sum(t['observe']) - sum(sweeps) - sum(head)
    step = statistics.mean(t['step'])
    out = dict(row=row, updates=updates, amca=metrics.get('amca'),
               final_mca=metrics.get('last_mean_class_accuracy'), wall_s=wall,
               step_ms=1e3 * step, select_ms=1e3 * select / updates,
               sweeps=len(sweeps), sweep_s=statistics.mean(sweeps) if sweeps else 0.,
               sweep_amortised_ms=1e3 * sum(sweeps) / updates,
               head_ms=1e3 * sum(head) / updates if head else 0.)
    out['sweep_over_step'] = out['sweep_amortised_ms'] / out['step_ms']
    out['select_over_step'] = out['select_ms'] / out['step_ms']
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rows', type=int, nargs='+', default=[1, 2, 9])
    parser.add_argument('--data-root', default=None, help='SSLAD-2D/labeled (default: a '
                        'generated miniature SODA10M)')
    parser.add_argument('--crop-cache', default=None)
    parser.add_argument('--objects-per-task', type=int, default=500)
    parser.add_argument('--sweep-batch-size', type=int, default=32,
                        help="images per forward in a sweep (the reference's 32; eval mode, "
                        'so any value gives the same predictions)')
    parser.add_argument('--out', default=None)
    add_device_argument(parser)
    args = parser.parse_args()
    device = check_device(args.device)
    tmp = tempfile.mkdtemp(prefix='sslad-ladder-')
    data_root, crop_cache = args.data_root, args.crop_cache
    if data_root is None:
        from fixtures.soda10m import write_soda10m
        t = time.perf_counter()
        data_root = write_soda10m(osp.join(tmp, 'data'), args.objects_per_task)['data_root']
        crop_cache = osp.join(tmp, 'crops')
        sys.path.insert(0, osp.join(ROOT, 'tools', 'dataset_converters'))
        from soda10m_crops import write_crops
        write_crops(data_root, crop_cache, ['val', 'train'])
        print(f'miniature SODA10M ({6 * args.objects_per_task} stream objects) and its '
              f'crops: {time.perf_counter() - t:.0f} s')
    rows = []
    for row in args.rows:
        result = run_row(row, data_root, crop_cache, osp.join(tmp, f'r{row}'), device,
                         args.sweep_batch_size)
        rows.append(result)
        print(json.dumps(result), flush=True)
    print(f'\n| row | updates | AMCA | step ms | select ms | sweeps | sweep s | sweep/update '
          f'ms | sweep / step | select / step |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['row']} | {r['updates']} | {r['amca']:.2f} | {r['step_ms']:.1f} | "
              f"{r['select_ms']:.1f} | {r['sweeps']} | {r['sweep_s']:.1f} | "
              f"{r['sweep_amortised_ms']:.1f} | {r['sweep_over_step']:.2f} | "
              f"{r['select_over_step']:.2f} |")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(rows=rows, device=device, objects_per_task=args.objects_per_task,
                           sweep_batch_size=args.sweep_batch_size), f, indent=1)


if __name__ == '__main__':
    main()
