"""clbox vs Avalanche 0.6 on Split Fashion-MNIST: final accuracy and training time of
Naive, ER-200, LwF, EWC and Joint (issue 10, part 5).

Workload: Fashion-MNIST (the idx files, 60,000 training / 10,000 test images), 5
class-incremental experiences of 2 classes in the fixed order 0..9, pixels normalised with
mean 72.94 / std 90.02 (0..255 scale); MLP 784-400-400-10 with ReLU, PyTorch's default
initialisation; SGD lr 0.01 momentum 0.9 without weight decay, a fresh optimizer state per
experience; batch 64, 1 epoch per experience; cross-entropy; the whole test stream
evaluated (batch 256) after every experience. Methods, the same in both libraries:

* ``naive``: fine-tuning;
* ``er``: replay from a 200-sample memory split equally over the experiences seen
  (Avalanche's ``ReplayPlugin(mem_size=200)`` default ``ExperienceBalancedBuffer``), 64
  replayed samples with every batch of 64;
* ``lwf``: distillation of the previous model on the classes seen so far, alpha 1, T 2;
* ``ewc``: separate EWC, ``ewc_lambda=100`` in both (clbox's config sets
  ``lambda_convention='avalanche'``: lambda * sum F (w - w*)^2, Avalanche's penalty;
  clbox's default is the paper's lambda / 2);
  empirical Fisher from squared mini-batch gradients (batch 64) after each experience;
* ``joint``: one epoch on the union of the 5 experiences (Avalanche's ``JointTraining``;
  clbox's ``Joint(mode='all')``), evaluated once.

clbox runs the configs ``configs/{naive,er,lwf,ewc,joint}/*_mlp_1xb64-1e_fashion-mnist-5exp.py``
as written (the benchmark sets the seed, the work dir and ``data_root`` only; default
runtime: logger, progress bar, per-experience checkpoint and results.json, plots at the
end). Avalanche gets the same pixels as a normalised float ``TensorDataset`` prepared up
front and ``strategy.train(exp, reset_optimizer_state=True)`` with an evaluator that
computes accuracy and logs nothing. Seeds set both libraries' RNGs; per seed and method the
two libraries run back to back (the order alternates with the seed).

Timed (``time.perf_counter``, after a GPU synchronisation on cuda):

* ``train_s``: the training phase of every experience, summed. Avalanche: each
  ``strategy.train(...)`` call (dataset adaptation, loader, optimizer reset, epochs,
  plugins' ``after_training_exp``: memory update, Fisher, teacher copy). clbox: from the end
  of the previous experience's work (or of the initial evaluation) to the start of the
  experience's evaluation (method's ``before_experience``, optimizer rebuild, loader,
  epochs, the Fisher pass, the memory's insertion pass). Not timed: building the runner /
  strategy and the data (start-up), evaluations, checkpoints, results and plots.
* ``epochs_s``: the training epochs alone (first to last iteration of each epoch);
  ``ms/iter`` is ``epochs_s`` / iterations and ``images/s`` the incoming training images
  (60,000 per method; replayed samples not counted) / ``epochs_s``.

Accuracy: the mean over the 5 test experiences of the accuracy after the last experience
(2,000 test images each, so it is also the accuracy on the whole test stream), as a
fraction; mean ± std over seeds. Times: medians over seeds (one run disturbed by another
job on a shared machine does not move them); the target ratio is of the ``train_s``
medians.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/vs_avalanche.py [--seeds 0 1 2]
        [--methods naive er lwf ewc joint] [--device cpu|cuda] [--out results.json]
        [--data-root /usr/share/datasets/fashion-mnist] [--from-json results.json]
"""
import argparse
import json
import os.path as osp
import statistics
import tempfile
import time
import warnings

import numpy as np
import torch
from mmengine.hooks import Hook
from torch.utils.data import TensorDataset

from _common import (ROOT, Config, add_device_argument, check_device, device_name,
                     quiet_runner, speed, sync)
from clbox.registry import HOOKS

METHODS = ('naive', 'er', 'lwf', 'ewc', 'joint')
CONFIGS = {m: f'configs/{m}/{m}_mlp_1xb64-1e_fashion-mnist-5exp.py' for m in METHODS}
DATA_ROOT = '/usr/share/datasets/fashion-mnist'
#: Avalanche's EWC lambda (clbox's config: the same with lambda_convention='avalanche').
AVALANCHE_EWC_LAMBDA = 100.0
TARGET_ACC_GAP, TARGET_TIME_RATIO = 0.03, 0.5


def clbox_config(method: str, seed: int, work_dir: str, data_root: str) -> Config:
    """The method's Fashion-MNIST config with this run's seed, work dir and data root."""
    cfg = Config.fromfile(osp.join(ROOT, CONFIGS[method]))
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=False)
    for split in ('train', 'test'):
        cfg.scenario[split].data_root = data_root
    return cfg


# ----------------------------------------------------------------------- clbox
@HOOKS.register_module(force=True)
class TrainPhaseTimer(Hook):
    """Per experience: the training phase (end of the previous experience's work, or of
    the initial evaluation, to the start of this experience's evaluation) and the training
    epochs alone, with their iterations."""
    priority = 'LOWEST'

    def __init__(self, device: str = 'cpu'):
        self.device = device
        self.phases, self.epochs, self.iters = [], [], 0
        self._start, self._training = None, False

    def _now(self) -> float:
        sync(self.device)
        return time.perf_counter()

    def before_train(self, runner):
        self._start = self._now()

    def after_stream_eval(self, runner, result=None):
        self._start = self._now()  # the initial evaluation ends here

    def after_experience(self, runner, experience, result=None):
        self._start = self._now()  # after checkpoint, results.json (LOWEST priority)

    def before_train_epoch(self, runner):
        self._training = True
        self._epoch, self._iter = self._now(), runner.iter

    def after_train_epoch(self, runner):
        self.epochs.append(self._now() - self._epoch)
        self.iters += runner.iter - self._iter

    def before_stream_eval(self, runner, num_experiences=None):
        if self._training:
            self.phases.append(self._now() - self._start)
            self._training = False


def run_clbox(method: str, seed: int, work_dir: str, data_root: str, device: str) -> dict:
    cfg = clbox_config(method, seed, work_dir, data_root)
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type='TrainPhaseTimer', device=device)]
    runner = quiet_runner(cfg)
    start = time.perf_counter()
    runner.train()
    sync(device)
    stream = time.perf_counter() - start
    timer = next(h for h in runner.hooks if isinstance(h, TrainPhaseTimer))
    with open(osp.join(work_dir, 'results.json')) as f:
        res = json.load(f)
    return dict(acc=float(np.mean(res['accuracy_matrix'][-1])) / 100.0,
                train_s=sum(timer.phases), epochs_s=sum(timer.epochs), iters=timer.iters,
                images=runner.train_loop.images_seen, stream_s=stream,
                row=[v / 100.0 for v in res['accuracy_matrix'][-1]])


# ------------------------------------------------------------------- Avalanche
def load_tensors(data_root: str, mean: float, std: float):
    """((train x, train y), (test x, test y)): the pixels clbox reads (its FashionMNIST
    dataset), normalised as clbox's data preprocessor does, (N, 1, 28, 28) float32."""
    from clbox.scenarios import FashionMNIST
    out = []
    for split in ('train', 'test'):
        d = FashionMNIST(data_root=data_root, split=split)
        x = torch.from_numpy(d.images).permute(0, 3, 1, 2).float()
        out.append(((x - mean) / std, torch.from_numpy(d.get_gt_labels()).long()))
    return out


def avalanche_benchmark(tensors):
    """The 5-experience class-incremental benchmark over the tensors, with task label 0
    everywhere (what Avalanche's own ``SplitFashionMNIST`` gives; its LwF needs the task
    labels)."""
    from avalanche.benchmarks.scenarios.supervised import class_incremental_benchmark

    def dataset(x, y):
        d = TensorDataset(x, y)
        d.targets = y.tolist()
        return d  # made a task-aware classification dataset by the benchmark

    (xtr, ytr), (xte, yte) = tensors
    return class_incremental_benchmark(dict(train=dataset(xtr, ytr), test=dataset(xte, yte)),
                                       class_order=list(range(10)), num_experiences=5)


def mlp() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(784, 400), torch.nn.ReLU(inplace=True),
        torch.nn.Linear(400, 400), torch.nn.ReLU(inplace=True), torch.nn.Linear(400, 10))


def run_avalanche(method: str, seed: int, tensors, device: str) -> dict:
    from avalanche.core import SupervisedPlugin
    from avalanche.evaluation.metrics import accuracy_metrics
    from avalanche.training import EWC, JointTraining, LwF, Naive
    from avalanche.training.determinism.rng_manager import RNGManager
    from avalanche.training.plugins import EvaluationPlugin, ReplayPlugin

    class EpochTimer(SupervisedPlugin):
        def __init__(self):
            super().__init__()
            self.epochs, self.iters = [], 0

        def before_training_epoch(self, strategy, **kwargs):
            sync(device)
            self.t = time.perf_counter()

        def after_training_iteration(self, strategy, **kwargs):
            self.iters += 1

        def after_training_epoch(self, strategy, **kwargs):
            sync(device)
            self.epochs.append(time.perf_counter() - self.t)

    bench = avalanche_benchmark(tensors)
    RNGManager.set_random_seeds(seed)  # torch, numpy, random
    model = mlp()
    timer = EpochTimer()
    common = dict(
        model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                                               weight_decay=0.0),
        criterion=torch.nn.CrossEntropyLoss(), train_mb_size=64, train_epochs=1,
        eval_mb_size=256, device=device, plugins=[timer],
        evaluator=EvaluationPlugin(accuracy_metrics(experience=True), loggers=[]))
    if method == 'naive':
        strategy = Naive(**common)
    elif method == 'er':
        common['plugins'].append(ReplayPlugin(mem_size=200))
        strategy = Naive(**common)
    elif method == 'lwf':
        strategy = LwF(alpha=1.0, temperature=2.0, **common)
    elif method == 'ewc':
        strategy = EWC(ewc_lambda=AVALANCHE_EWC_LAMBDA, mode='separate', **common)
    elif method == 'joint':
        strategy = JointTraining(**common)
    else:
        raise ValueError(method)
    phases = []
    start = time.perf_counter()
    train_runs = [bench.train_stream] if method == 'joint' else list(bench.train_stream)
    for exps in train_runs:
        t = time.perf_counter()
        strategy.train(exps, num_workers=0, reset_optimizer_state=True)
        sync(device)
        phases.append(time.perf_counter() - t)
        strategy.eval(bench.test_stream, num_workers=0)
    sync(device)
    stream = time.perf_counter() - start
    metrics = strategy.evaluator.get_last_metrics()
    prefix = 'Top1_Acc_Exp/eval_phase/test_stream/'
    row = [v for k, v in sorted(metrics.items()) if k.startswith(prefix)]
    assert len(row) == 5, sorted(metrics)
    return dict(acc=float(np.mean(row)), train_s=sum(phases), epochs_s=sum(timer.epochs),
                iters=timer.iters, images=len(tensors[0][1]), stream_s=stream, row=row)


# ------------------------------------------------------------------------ main
def summary(rows: list) -> dict:
    """Accuracy mean and std over seeds; times as medians over seeds (the machine is
    shared: a median keeps one disturbed run from moving the figure); ms/iter and
    images/s of the median run's epochs."""
    acc = [r['acc'] for r in rows]
    out = dict(acc_mean=float(np.mean(acc)),
               acc_std=float(np.std(acc, ddof=1)) if len(acc) > 1 else 0.0,
               accs=acc)
    for k in ('train_s', 'epochs_s', 'stream_s'):
        out[k] = float(statistics.median(r[k] for r in rows))
    out['ms_per_iter'] = float(statistics.median(1e3 * r['epochs_s'] / r['iters']
                                                 for r in rows))
    out['images_per_s'] = float(statistics.median(r['images'] / r['epochs_s']
                                                  for r in rows))
    return out


def report(runs: dict, seeds, device: str) -> dict:
    """Print the table and the verdicts of ``runs`` ({'method/library': [run, ...]});
    return the summary."""
    table = {key: summary(rs) for key, rs in runs.items()}
    methods = [m for m in METHODS if f'{m}/clbox' in table and f'{m}/avalanche' in table]
    print(f'\nSplit Fashion-MNIST 5x2, MLP 784-400-400-10, SGD 0.01/0.9, batch 64, 1 epoch '
          f'per experience; seeds {list(seeds)}; {device}; accuracy: mean ± std over seeds; '
          'times: medians over seeds')
    print('| method | library | final avg accuracy | train s | clbox / Avalanche train | '
          'epochs s | ms/iter | images/s | accuracy gap |')
    print('|---|---|---|---|---|---|---|---|---|')
    verdicts = []
    for m in methods:
        ava, ours = table[f'{m}/avalanche'], table[f'{m}/clbox']
        ratio = ours['train_s'] / ava['train_s']
        gap = ours['acc_mean'] - ava['acc_mean']
        ours.update(time_ratio=ratio, epochs_ratio=ours['epochs_s'] / ava['epochs_s'],
                    acc_gap=gap)
        for lib, t in (('Avalanche 0.6', ava), ('clbox', ours)):
            mine = lib == 'clbox'
            print(f'| {m} | {lib} | {t["acc_mean"]:.4f} ± {t["acc_std"]:.4f} | '
                  f'{t["train_s"]:.2f} | {f"{ratio:.2f}" if mine else "1.00"} | '
                  f'{t["epochs_s"]:.2f} | {t["ms_per_iter"]:.3f} | {t["images_per_s"]:.0f} | '
                  f'{f"{gap:+.4f}" if mine else ""} |')
        verdicts.append(
            f'{m}: accuracy gap {gap:+.4f} ({"met" if abs(gap) <= TARGET_ACC_GAP else "NOT met"}'
            f', target |gap| <= {TARGET_ACC_GAP}); train time ratio {ratio:.2f} '
            f'({"met" if ratio <= TARGET_TIME_RATIO else "NOT met"}, target <= '
            f'{TARGET_TIME_RATIO}); epochs-only ratio {ours["epochs_ratio"]:.2f}')
    print('\n' + '\n'.join(verdicts))
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--methods', nargs='+', choices=METHODS, default=list(METHODS))
    add_device_argument(parser)
    parser.add_argument('--out', help='write every run and the summary as JSON here')
    parser.add_argument('--data-root', default=DATA_ROOT,
                        help=f'folder with the Fashion-MNIST idx files (default {DATA_ROOT})')
    parser.add_argument('--from-json', metavar='RESULTS',
                        help='print the table of a saved --out file instead of running')
    args = parser.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        report(saved['runs'], saved['seeds'], saved.get('device_name', saved['device']))
        return
    check_device(args.device)
    torch.set_num_threads(1)
    # Avalanche's evaluator without loggers warns at every strategy (its ReplayPlugin's
    # DeprecationWarning cannot be filtered: Avalanche re-installs a filter for it per call)
    warnings.filterwarnings('ignore', message='No loggers specified')
    pre = Config.fromfile(osp.join(ROOT, CONFIGS['naive'])).model.model.data_preprocessor
    tensors = load_tensors(args.data_root, pre.mean[0], pre.std[0])
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for method in args.methods:
                order = ('avalanche', 'clbox') if seed % 2 == 0 else ('clbox', 'avalanche')
                for lib in order:
                    if lib == 'clbox':
                        res = run_clbox(method, seed, osp.join(tmp, f'{method}-{seed}'),
                                        args.data_root, args.device)
                    else:
                        res = run_avalanche(method, seed, tensors, args.device)
                    runs.setdefault(f'{method}/{lib}', []).append(dict(res, seed=seed))
                    print(f'seed {seed} {method:5s} {lib:9s} acc {res["acc"]:.4f}  train '
                          f'{res["train_s"]:6.2f} s  epochs {res["epochs_s"]:6.2f} s  '
                          f'{speed(res["epochs_s"], res["iters"], res["images"])}  '
                          f'train+eval {res["stream_s"]:6.2f} s', flush=True)
    table = report(runs, args.seeds, device_name(args.device))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(seeds=args.seeds, device=args.device,
                           device_name=device_name(args.device), runs=runs, summary=table),
                      f, indent=2)

if __name__ == '__main__':
    main()
