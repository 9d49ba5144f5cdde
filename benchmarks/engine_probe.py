"""The continual engine's own cost: a workload where compute does not hide it.

Workload (issue 10's probe): Flatten + Linear(1024 -> 10) on scikit-learn's digits
upscaled 4x to 32x32 (one channel, nearest), 5 class-incremental experiences of 2 classes
(classes in order 0..9), batch 32, SGD lr 0.05 momentum 0.9, 2 epochs per experience, the
whole test stream evaluated after every experience (batch 256). Naive, and replay with a
200-sample class-balanced memory (32 replayed per 32 new).

Three implementations of the same work, run interleaved for ``--rounds`` rounds:

* ``raw``: a hand-written loop over ``TensorDataset`` loaders (memory: a class-balanced
  tensor buffer sampled with ``torch.randperm``);
* ``avalanche``: Avalanche 0.6's ``Naive`` / ``Naive`` + ``ReplayPlugin(mem_size=200)``
  with an evaluator that computes accuracy and logs nothing;
* ``clbox``: ``ContinualRunner`` with the default runtime (logger, progress bar, results
  and plots, per-experience checkpoints); ``clbox-nockpt`` without the checkpoint hook.

Reported (medians over rounds): steady time per training iteration (second epoch of each
experience: time / iterations, median over experiences) and the images/s of those epochs
(incoming images, replayed ones not counted), the whole stream (train + eval, start-up
excluded), clbox's runner build, and in fresh processes ``import clbox`` and
``tools/train.py --help``. With ``--device cuda`` every implementation runs on the GPU
(timers read after ``torch.cuda.synchronize()``); on the CPU the GPUs are hidden.

Usage: python benchmarks/engine_probe.py [--rounds 5] [--device cpu|cuda]
"""
import argparse
import copy
import json
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from torch.utils.data import DataLoader, TensorDataset

from _common import (ROOT, Config, add_device_argument, check_device, device_name,
                     quiet_runner, sync)
from clbox.registry import HOOKS

LR, MOMENTUM, BATCH, EPOCHS, MEM = 0.05, 0.9, 32, 2, 200
DEVICE = 'cpu'  # set by main() from --device (the clbox timer hooks read it)


def probe_data():
    """(train x, train y, test x, test y): uint8 (N, 1, 32, 32) images and labels of the
    digits split clbox uses (``Digits``), upscaled 4x."""
    from clbox.scenarios import Digits
    out = []
    for split in ('train', 'test'):
        d = Digits(split=split)
        x = torch.from_numpy(d.images).permute(0, 3, 1, 2)
        x = x.repeat_interleave(4, 2).repeat_interleave(4, 3).contiguous()
        out += [x, torch.from_numpy(d.get_gt_labels()).long()]
    return out


def experiences(y: torch.Tensor):
    return [torch.nonzero((y == 2 * e) | (y == 2 * e + 1)).squeeze(1) for e in range(5)]


# ------------------------------------------------------------------------- raw
class RawBuffer:
    """Class-balanced memory of ``size`` samples as two tensors."""

    def __init__(self, size, generator):
        self.size, self.g = size, generator
        self.x = self.y = None

    def add(self, x, y):
        xs = x if self.x is None else torch.cat([self.x, x])
        ys = y if self.y is None else torch.cat([self.y, y])
        classes = ys.unique()
        quota = self.size // len(classes)
        keep = torch.cat([torch.nonzero(ys == c).squeeze(1)[
            torch.randperm(int((ys == c).sum()), generator=self.g)[:quota]] for c in classes])
        self.x, self.y = xs[keep], ys[keep]

    def sample(self, n):
        idx = torch.randperm(len(self.y), generator=self.g)[:n]
        return self.x[idx], self.y[idx]


def run_raw(data, replay: bool, device: str) -> dict:
    xtr, ytr, xte, yte = data
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(1024, 10)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    norm = lambda x: (x.to(device).float() - 77.8) / 96.0  # noqa: E731
    buffer = RawBuffer(MEM, torch.Generator().manual_seed(0)) if replay else None
    test_loaders = [DataLoader(TensorDataset(xte[i], yte[i]), batch_size=256)
                    for i in experiences(yte)]
    steady, rates, start = [], [], time.perf_counter()
    for idx in experiences(ytr):
        loader = DataLoader(TensorDataset(xtr[idx], ytr[idx]), batch_size=BATCH, shuffle=True)
        for epoch in range(EPOCHS):
            sync(device)
            t, n = time.perf_counter(), 0
            for x, y in loader:
                y = y.to(device)
                x = norm(x)
                if buffer is not None and buffer.y is not None:
                    bx, by = buffer.sample(len(y))
                    x, y = torch.cat([x, norm(bx)]), torch.cat([y, by.to(device)])
                loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                n += 1
            if epoch == EPOCHS - 1:
                sync(device)
                steady.append((time.perf_counter() - t) / n)
                rates.append(len(idx) / (time.perf_counter() - t))
        if buffer is not None:
            buffer.add(xtr[idx], ytr[idx])
        with torch.no_grad():
            row = [float(sum((model(norm(x)).argmax(1).cpu() == y).sum() for x, y in tl))
                   for tl in test_loaders]
    sync(device)
    return dict(iter_ms=1e3 * statistics.median(steady), images_per_s=statistics.median(rates),
                stream_s=time.perf_counter() - start, last_row_correct=row)


# ------------------------------------------------------------------- Avalanche
def run_avalanche(data, replay: bool, device: str) -> dict:
    from avalanche.benchmarks.scenarios.supervised import class_incremental_benchmark
    from avalanche.benchmarks.utils import as_classification_dataset
    from avalanche.core import SupervisedPlugin
    from avalanche.evaluation.metrics import accuracy_metrics
    from avalanche.training.plugins import EvaluationPlugin, ReplayPlugin
    from avalanche.training.supervised import Naive

    xtr, ytr, xte, yte = data
    norm = lambda x: (x.float() - 77.8) / 96.0  # noqa: E731  (preprocessed up front,
    # as Avalanche users do with a transform-free tensor dataset)
    def tensors(x, y):
        dataset = TensorDataset(x, y)
        dataset.targets = y.tolist()
        return as_classification_dataset(dataset)

    train, test = tensors(norm(xtr), ytr), tensors(norm(xte), yte)
    bench = class_incremental_benchmark(dict(train=train, test=test),
                                        class_order=list(range(10)), num_experiences=5)

    class Timer(SupervisedPlugin):
        def __init__(self):
            super().__init__()
            self.steady, self.rates, self.n = [], [], 0

        def before_training_epoch(self, strategy, **kwargs):
            sync(device)
            self.t, self.n = time.perf_counter(), 0

        def after_training_iteration(self, strategy, **kwargs):
            self.n += 1

        def after_training_epoch(self, strategy, **kwargs):
            if strategy.clock.train_exp_epochs == EPOCHS - 1:
                sync(device)
                elapsed = time.perf_counter() - self.t
                self.steady.append(elapsed / self.n)
                self.rates.append(len(strategy.experience.dataset) / elapsed)

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(1024, 10))
    timer = Timer()
    plugins = [timer] + ([ReplayPlugin(mem_size=MEM)] if replay else [])
    strategy = Naive(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=LR,
                                                            momentum=MOMENTUM),
                     criterion=torch.nn.CrossEntropyLoss(), train_mb_size=BATCH,
                     train_epochs=EPOCHS, eval_mb_size=256, device=device, plugins=plugins,
                     evaluator=EvaluationPlugin(accuracy_metrics(experience=True),
                                                loggers=[]))
    start = time.perf_counter()
    for exp in bench.train_stream:
        strategy.train(exp, num_workers=0)
        strategy.eval(bench.test_stream, num_workers=0)
    sync(device)
    return dict(iter_ms=1e3 * statistics.median(timer.steady),
                images_per_s=statistics.median(timer.rates),
                stream_s=time.perf_counter() - start)


# ----------------------------------------------------------------------- clbox
@HOOKS.register_module(force=True)
class ProbeTimer(Hook):
    """Second-epoch time per iteration of each experience, and the whole stream."""
    priority = 'HIGHEST'

    def __init__(self):
        self.steady, self.rates = [], []

    def before_train(self, runner):
        self.start = time.perf_counter()

    def before_train_epoch(self, runner):
        sync(DEVICE)
        self.t, self.i = time.perf_counter(), runner.iter
        self.seen = runner.train_loop.images_seen

    def after_train_epoch(self, runner):
        if runner.train_loop._epoch_in_exp == EPOCHS:
            sync(DEVICE)
            elapsed = time.perf_counter() - self.t
            self.steady.append(elapsed / (runner.iter - self.i))
            self.rates.append((runner.train_loop.images_seen - self.seen) / elapsed)

    def after_train(self, runner):
        sync(DEVICE)
        self.stream_s = time.perf_counter() - self.start


@HOOKS.register_module(force=True)
class ProbeEnd(Hook):
    """The stream including the end-of-training work (the plots)."""
    priority = 'LOWEST'

    def after_train(self, runner):
        timer = next(h for h in runner.hooks if isinstance(h, ProbeTimer))
        self.total_s = time.perf_counter() - timer.start


def clbox_cfg(replay: bool, work_dir: str, checkpoint: bool, device: str) -> Config:
    cfg = Config.fromfile(osp.join(ROOT, 'configs/naive/naive_resnet18_1xb32-5e_digits-5exp.py'))
    cfg.work_dir = work_dir
    pre = cfg.model.model.data_preprocessor
    cfg.model.model = dict(type='ImageClassifier', data_preprocessor=pre,
                           backbone=dict(type='FeatureInput', dim=1024),
                           head=dict(type='LinearClsHead', num_classes=10, in_channels=1024))
    if replay:
        cfg.model.type = 'ER'
        cfg.model.buffer = dict(type='ClassBalancedBuffer', size=MEM)
    for split in ('train', 'test'):
        cfg.scenario[split].upscale = 4
    cfg.optim_wrapper = dict(optimizer=dict(type='SGD', lr=LR, momentum=MOMENTUM))
    cfg.train_cfg.max_epochs = EPOCHS
    cfg.train_cfg.eval_initial = False
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type='ProbeTimer'),
                                                 dict(type='ProbeEnd')]
    if not checkpoint:
        cfg.default_hooks.checkpoint = None
    # no device key: the runner moves the model to mmengine's get_device(), the GPU
    # whenever one is visible (check_device hides them for --device cpu)
    return cfg


def run_clbox(replay: bool, work_dir: str, checkpoint: bool, device: str) -> dict:
    cfg = clbox_cfg(replay, work_dir, checkpoint, device)
    t = time.perf_counter()
    runner = quiet_runner(copy.deepcopy(cfg))
    build = time.perf_counter() - t
    runner.train()
    timer = next(h for h in runner.hooks if isinstance(h, ProbeTimer))
    end = next(h for h in runner.hooks if isinstance(h, ProbeEnd))
    with open(osp.join(work_dir, 'results.json')) as f:
        res = json.load(f)
    # per experience, what is neither a training epoch nor the final plots
    fixed = (timer.stream_s - res['train_time_s']) / len(res['accuracy_matrix'])
    return dict(iter_ms=1e3 * statistics.median(timer.steady),
                images_per_s=statistics.median(timer.rates), stream_s=timer.stream_s,
                with_plots_s=end.total_s, fixed_per_exp_s=fixed, build_s=build,
                average_accuracy=res['metrics']['average_accuracy'])


def startup_s() -> dict:
    """``import clbox`` and ``tools/train.py --help`` in fresh processes (best of 3)."""
    out = {}
    for name, cmd in (('import_clbox_s', [sys.executable, '-c', 'import clbox']),
                      ('train_help_s', [sys.executable, osp.join(ROOT, 'tools/train.py'),
                                        '--help'])):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT)
            times.append(time.perf_counter() - t)
        out[name] = min(times)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=5)
    add_device_argument(parser)
    parser.add_argument('--out', help='write all measurements as JSON here')
    args = parser.parse_args()
    global DEVICE
    DEVICE = check_device(args.device)
    torch.set_num_threads(1)
    data = probe_data()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for replay in (False, True):
                method = 'replay' if replay else 'naive'
                runs = dict(
                    raw=lambda: run_raw(data, replay, args.device),
                    avalanche=lambda: run_avalanche(data, replay, args.device),
                    clbox=lambda: run_clbox(replay, osp.join(tmp, f'{r}-{method}'), True,
                                            args.device),
                    **{'clbox-nockpt': lambda: run_clbox(
                        replay, osp.join(tmp, f'{r}-{method}-n'), False, args.device)})
                for lib, fn in runs.items():
                    res = fn()
                    rows.setdefault((method, lib), []).append(res)
                    print(f'round {r} {method:6s} {lib:12s} ' + ' '.join(
                        f'{k}={v:.4g}' for k, v in res.items() if isinstance(v, float)),
                        flush=True)
    start = startup_s()
    print(f'\ndevice: {device_name(args.device)}; medians over {args.rounds} rounds')
    print('| method | library | ms / training iteration (x raw) | training images/s | '
          'whole stream s (x raw) |')
    print('|---|---|---|---|---|')
    for method in ('naive', 'replay'):
        med = {lib: {k: statistics.median(r[k] for r in rows[(method, lib)])
                     for k in ('iter_ms', 'images_per_s', 'stream_s')}
               for (m, lib) in rows if m == method}
        for lib, v in med.items():
            print(f'| {method} | {lib} | {v["iter_ms"]:.3f} '
                  f'({v["iter_ms"] / med["raw"]["iter_ms"]:.2f}) | {v["images_per_s"]:.0f} | '
                  f'{v["stream_s"]:.3f} ({v["stream_s"] / med["raw"]["stream_s"]:.2f}) |')
    for (method, lib), rs in rows.items():
        if lib.startswith('clbox'):
            print(f'{method} {lib}: fixed cost per experience (evaluation, hooks, loader '
                  f'builds{", checkpoint" if lib == "clbox" else ""}) '
                  f'{statistics.median(r["fixed_per_exp_s"] for r in rs):.3f} s; stream with '
                  f'the final plots {statistics.median(r["with_plots_s"] for r in rs):.3f} s')
    builds = [r['build_s'] for (m, lib), rs in rows.items() if lib.startswith('clbox')
              for r in rs]
    print(f'\nclbox runner build: {statistics.median(builds):.3f} s; import clbox: '
          f'{start["import_clbox_s"]:.2f} s; tools/train.py --help: '
          f'{start["train_help_s"]:.2f} s')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump({f'{m}/{lib}': v for (m, lib), v in rows.items()} | start, f, indent=2)


if __name__ == '__main__':
    main()
