"""clbox's time per training iteration vs a plain PyTorch loop: same model, same data,
same batch size, runs interleaved.

The plain loop is what one writes by hand: the digits training set preloaded as one
normalised float tensor, a ``TensorDataset`` loader, ``backbone -> neck -> fc``,
``F.cross_entropy``, SGD. clbox runs the default job's config (mm pipeline per sample,
data preprocessor, hooks, logging) on one experience holding the same data. Each run
trains ``--epochs`` epochs; the first epoch of each is warm-up and not timed. Reported:
median ms per iteration and training images/s of the timed epochs, and their ratio. With
``--device cuda`` both run on the GPU (batches copied there one at a time, timers read
after ``torch.cuda.synchronize()``).

Usage: python benchmarks/engine_overhead.py [--reps 5] [--epochs 4] [--model default|tiny]
           [--device cpu|cuda]
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

from _common import (ROOT, Config, add_device_argument, check_device, device_name,
                     quiet_runner, sync)
from clbox.registry import HOOKS, MODELS
from clbox.scenarios import Digits

CONFIG = osp.join(ROOT, 'configs/naive/naive_resnet18_1xb32-5e_digits-5exp.py')
DEVICE = 'cpu'  # set by main() from --device (EpochTimer reads it)


@HOOKS.register_module(force=True)
class EpochTimer(Hook):
    """Wall time of every training epoch (data loading, steps and hooks included)."""
    priority = 'HIGHEST'

    def __init__(self):
        self.times, self.iters, self.images = [], [], []

    def before_train_epoch(self, runner):
        sync(DEVICE)
        self._t, self._i = time.perf_counter(), runner.iter
        self._n = runner.train_loop.images_seen

    def after_train_epoch(self, runner):
        sync(DEVICE)
        self.times.append(time.perf_counter() - self._t)
        self.iters.append(runner.iter - self._i)
        self.images.append(runner.train_loop.images_seen - self._n)


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


def clbox_run(cfg: Config):
    """(median seconds per iteration, median images/s) over the timed epochs of one clbox
    run."""
    runner = quiet_runner(copy.deepcopy(cfg))
    runner.train()
    timer = next(h for h in runner.hooks if isinstance(h, EpochTimer))
    return (statistics.median(t / i for t, i in zip(timer.times[1:], timer.iters[1:])),
            statistics.median(n / t for t, n in zip(timer.times[1:], timer.images[1:])))


def raw_run(cfg: Config, epochs: int, seed: int, device: str = 'cpu'):
    """(median seconds per iteration, median images/s) of the hand-written loop on the
    same model and data."""
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model.model))
    model.init_weights()
    model.to(device)
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
    per_iter, rates = [], []
    for epoch in range(epochs):
        sync(device)
        start, n = time.perf_counter(), 0
        for inputs, labels in loader:
            inputs, labels = inputs.to(device), labels.to(device)
            logits = model.head.fc(model.neck(model.backbone(inputs))[-1])
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            n += 1
        if epoch:
            sync(device)
            per_iter.append((time.perf_counter() - start) / n)
            rates.append(len(x) / (time.perf_counter() - start))
    return statistics.median(per_iter), statistics.median(rates)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--model', choices=['default', 'tiny'], default='default')
    add_device_argument(parser)
    args = parser.parse_args()
    global DEVICE
    DEVICE = check_device(args.device)
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            cfg = make_cfg(args.model, args.epochs, osp.join(tmp, str(rep)))
            raw, raw_ips = raw_run(cfg, args.epochs, rep, args.device)
            ours, ours_ips = clbox_run(cfg)
            ratios.append(ours / raw)
            print(f'rep {rep}: plain {raw * 1e3:.2f} ms/iter ({raw_ips:.0f} images/s), clbox '
                  f'{ours * 1e3:.2f} ms/iter ({ours_ips:.0f} images/s), ratio '
                  f'{ours / raw:.3f}', flush=True)
    print(f'model={args.model}, device {device_name(args.device)}: median ratio clbox / '
          f'plain = {statistics.median(ratios):.3f} over {args.reps} interleaved pairs')


if __name__ == '__main__':
    main()
