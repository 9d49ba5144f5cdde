"""clbox's time per training iteration vs a plain PyTorch loop: same model, same data,
same batch size, runs interleaved.

The plain loop is what one writes by hand: the digits training set preloaded as one
normalised float tensor, a ``TensorDataset`` loader, ``backbone -> neck -> fc``,
``F.cross_entropy``, SGD. clbox runs the default job's config (mm pipeline per sample,
data preprocessor, hooks, logging) on one experience holding the same data. Each run
trains ``--epochs`` epochs; the first epoch of each is warm-up and not timed.

Usage: python benchmarks/engine_overhead.py [--reps 5] [--epochs 4] [--model default|tiny]
"""
import argparse
import copy
import os.path as osp
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from torch.utils.data import DataLoader, TensorDataset

from _common import ROOT, Config, quiet_runner
from clbox.registry import HOOKS, MODELS
from clbox.scenarios import Digits

CONFIG = osp.join(ROOT, 'configs/naive/naive_resnet18_1xb32-5e_digits-5exp.py')


@HOOKS.register_module(force=True)
class EpochTimer(Hook):
    """Wall time of every training epoch (data loading, steps and hooks included)."""
    priority = 'HIGHEST'

    def __init__(self):
        self.times, self.iters = [], []

    def before_train_epoch(self, runner):
        self._t, self._i = time.perf_counter(), runner.iter

    def after_train_epoch(self, runner):
        self.times.append(time.perf_counter() - self._t)
        self.iters.append(runner.iter - self._i)


def make_cfg(model: str, epochs: int, work_dir: str) -> Config:
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    cfg.scenario.num_experiences = 1
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.eval_initial = False
    cfg.custom_hooks = [dict(type='EpochTimer')]
    if model == 'tiny':
        cfg.model.model.backbone.update(stem_channels=8, base_channels=8)
        cfg.model.model.head.in_channels = 64
    return cfg


def clbox_run(cfg: Config) -> float:
    """Median seconds per iteration over the timed epochs of one clbox run."""
    runner = quiet_runner(copy.deepcopy(cfg))
    runner.train()
    timer = next(h for h in runner.hooks if isinstance(h, EpochTimer))
    return statistics.median(t / i for t, i in zip(timer.times[1:], timer.iters[1:]))


def raw_run(cfg: Config, epochs: int, seed: int) -> float:
    """Median seconds per iteration of the hand-written loop on the same model and data."""
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model.model))
    model.init_weights()
    pre = cfg.model.model.data_preprocessor
    data = Digits(split='train')
    x = (torch.from_numpy(data.images).permute(0, 3, 1, 2).float() - pre.mean[0]) / pre.std[0]
    y = torch.from_numpy(data.get_gt_labels())
    loader = DataLoader(TensorDataset(x, y), batch_size=cfg.train_dataloader.batch_size,
                        shuffle=True)
    opt_cfg = cfg.optim_wrapper.optimizer
    optimizer = torch.optim.SGD(model.parameters(), lr=opt_cfg.lr, momentum=opt_cfg.momentum,
                                weight_decay=opt_cfg.weight_decay)
    model.train()
    per_iter = []
    for epoch in range(epochs):
        start, n = time.perf_counter(), 0
        for inputs, labels in loader:
            logits = model.head.fc(model.neck(model.backbone(inputs))[-1])
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            n += 1
        if epoch:
            per_iter.append((time.perf_counter() - start) / n)
    return statistics.median(per_iter)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--model', choices=['default', 'tiny'], default='default')
    args = parser.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            cfg = make_cfg(args.model, args.epochs, osp.join(tmp, str(rep)))
            raw = raw_run(cfg, args.epochs, rep)
            ours = clbox_run(cfg)
            ratios.append(ours / raw)
            print(f'rep {rep}: plain {raw * 1e3:.2f} ms/iter, clbox {ours * 1e3:.2f} ms/iter, '
                  f'ratio {ours / raw:.3f}', flush=True)
    print(f'model={args.model}: median ratio clbox / plain = {statistics.median(ratios):.3f} '
          f'over {args.reps} interleaved pairs')


if __name__ == '__main__':
    main()
