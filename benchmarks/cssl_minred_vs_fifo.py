"""Continuous SSL at small scale: MinRed vs FIFO vs sequential vs decorrelated (issue 13).

Workload (configs/cssl/*_convnet-small_*_fmnist-pseudovideo*.py): 4,000 Fashion-MNIST
training images (Debian's dataset-fashion-mnist), each a 16-frame pseudo-video (smooth
random walk of shift / zoom / rotation): 64,000 frames. SimSiam with a 97k-parameter
4-layer CNN (widths 16-32-64-128, 128-d features; projector 128, predictor 32), two views
RandomResizedCrop(28, 0.2-1) + ColorJitter(brightness 0.4, contrast 0.4, p 0.8) + flip,
batch 64, SGD 0.0125 (0.05 x 64 / 256) momentum 0.9 wd 1e-4, cosine over 4,000 updates
in every arm:

* decorrelated: no buffer, frames shuffled, 4 epochs;
* sequential: no buffer, file order (4 sources per batch), 4 epochs;
* fifo: one pass in file order, a 512-sample FIFO buffer, 4 updates per incoming batch;
* minred: the same with a 512-sample MinRed buffer.

Reported per arm (mean and std over seeds, and the paired differences): the linear probe
(frozen encoder, average-pooled L2-normalised features of the 60,000 training images, a
linear layer trained with SGD + momentum, batch 1024, 30 epochs, cosine lr from 1.0; top-1 on
the 10,000 test images), the kNN probe (k 20 on 10,000 training images, from results.json),
the buffer's distinct sources and MinRed's mean nearest-neighbour cosine at the end, and
the training time. A randomly initialised encoder is probed once as the floor.

Seeds can run in parallel processes (``--seeds 0 --out s0.json`` ...) and be reported
together: ``--merge s0.json s1.json s2.json``.

Usage: python benchmarks/cssl_minred_vs_fifo.py [--seeds 0 1 2]
       [--arms decorrelated sequential fifo minred] [--sources 4000] [--frames 16]
       [--data-root /usr/share/datasets/fashion-mnist] [--device cpu|cuda] [--out F.json]
"""
import argparse
import json
import os.path as osp
import statistics
import tempfile
import time

from _common import ROOT, Config, quiet_runner
from _device import add_device_argument, check_device

CONFIGS = dict(
    decorrelated='simsiam_convnet-small_1xb64-4e_fmnist-pseudovideo-decorrelated.py',
    sequential='simsiam_convnet-small_1xb64-4e_fmnist-pseudovideo-sequential.py',
    fifo='simsiam-fifo_convnet-small_1xb64-x4_fmnist-pseudovideo.py',
    minred='simsiam-minred_convnet-small_1xb64-x4_fmnist-pseudovideo.py')


def arm_cfg(arm: str, seed: int, work_dir: str, args) -> Config:
    cfg = Config.fromfile(osp.join(ROOT, 'configs/cssl', CONFIGS[arm]))
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=False)
    stream = cfg.scenario.train[0]
    stream.update(num_sources=args.sources, frames=args.frames, seed=seed)
    stream.source.data_root = args.data_root
    cfg.scenario.test[0].data_root = args.data_root
    cfg.val_evaluator.bank.data_root = args.data_root
    cfg.test_evaluator = cfg.val_evaluator
    steps = args.sources * args.frames * args.updates // 64
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, T_max=steps)]
    if cfg.model.get('buffer'):
        cfg.model.buffer.size = args.buffer
        cfg.model.buffer.seed = seed
        cfg.train_cfg.num_updates = args.updates
    else:
        cfg.train_cfg.max_epochs = args.updates
    return cfg


def linear_probe(algorithm, sets, device, seed=0):
    """The probe of ``clbox.evaluation.linear_probe`` on the frozen encoder: cached
    features, a linear layer (N(0, 0.01) weights, zero bias, as the reference's) trained
    with SGD + momentum (plain SGD here: LARS's trust ratio is tuned for ImageNet-scale
    probes), batch 1024, 30 epochs, cosine lr per epoch from 1.0; top-1 on the test set."""
    from clbox.evaluation.linear_probe import (evaluate_probe, extract_features,
                                               train_linear_probe)
    (xtr, ytr), test = (extract_features(algorithm, d, 1024, device) for d in sets)
    layer = train_linear_probe(xtr, ytr, 10, 30, dict(type='SGD', lr=1.0, momentum=0.9),
                               batch_size=1024, seed=seed)
    return evaluate_probe(layer, *test)['top1']


def probe_sets(args):
    from clbox.registry import DATASETS
    pack = [dict(type='PackInputs')]
    return [DATASETS.build(dict(type='FashionMNIST', data_root=args.data_root, split=s,
                                pipeline=pack)) for s in ('train', 'test')]


def run_arm(arm, seed, args, sets, device):
    from clbox.engine.utils import unwrap
    with tempfile.TemporaryDirectory() as tmp:
        runner = quiet_runner(arm_cfg(arm, seed, tmp, args))
        start = time.perf_counter()
        runner.train()
        train_s = time.perf_counter() - start
        with open(osp.join(tmp, 'results.json')) as f:
            knn = json.load(f)['accuracy_matrix'][-1][0]
        algorithm = unwrap(runner.model)
        probe = linear_probe(algorithm, sets, device, seed=seed)
        out = dict(linear=probe, knn=knn, train_s=train_s, updates=runner.train_loop.iter)
        buffer = algorithm.buffer
        if buffer is not None:
            stream = runner.scenario.train_stream[0].dataset
            out['distinct_sources'] = len({stream.source_of(int(i)) for i in buffer.indices})
            if hasattr(buffer, 'neighbour_similarity'):
                sims = buffer.neighbour_similarity()
                out['neighbour_cos'] = float(sims.mean()) if sims is not None else float('nan')
        return out


def random_floor(args, sets, device):
    from clbox.engine.utils import unwrap
    with tempfile.TemporaryDirectory() as tmp:
        runner = quiet_runner(arm_cfg('decorrelated', 0, tmp, args))
        algorithm = unwrap(runner.model).to(device)
        return linear_probe(algorithm, sets, device)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--arms', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument('--sources', type=int, default=4000)
    parser.add_argument('--frames', type=int, default=16)
    parser.add_argument('--buffer', type=int, default=512)
    parser.add_argument('--updates', type=int, default=4)
    parser.add_argument('--data-root', default='/usr/share/datasets/fashion-mnist')
    parser.add_argument('--out', help='write every measurement as JSON here')
    parser.add_argument('--merge', nargs='+', help='report the JSON outputs of earlier runs '
                        '(e.g. one per seed) together instead of running')
    add_device_argument(parser)
    args = parser.parse_args()
    if args.merge:
        return merge(args.merge)
    device = check_device(args.device)
    import clbox
    clbox.init_scope()
    sets = probe_sets(args)
    floor = random_floor(args, sets, device)
    print(f'random-init encoder, linear probe: {floor:.2f}', flush=True)
    rows = {arm: [] for arm in args.arms}
    for seed in args.seeds:
        for arm in args.arms:
            res = run_arm(arm, seed, args, sets, device)
            rows[arm].append(res)
            print(f'seed {seed} {arm:12s} ' + ' '.join(
                f'{k}={v:.4g}' for k, v in res.items()), flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(rows=rows, random_init=floor, args=vars(args)), f, indent=2)
    report(rows, floor, vars(args))


def merge(paths):
    """One report of several runs' JSON outputs (their rows joined, seeds in file order)."""
    rows, floors, seeds, args = {}, [], [], None
    for path in paths:
        with open(path) as f:
            run = json.load(f)
        floors.append(run['random_init'])
        seeds += run['args']['seeds']
        args = args or dict(run['args'])
        for arm, results in run['rows'].items():
            rows.setdefault(arm, []).extend(results)
    report(rows, statistics.mean(floors), dict(args, seeds=seeds))


def report(rows, floor, args):
    """The table, the random-init floor and the paired differences per seed."""
    print(f"\n{args['sources']} sources x {args['frames']} frames, batch 64, buffer "
          f"{args['buffer']}, {args['updates']} updates per batch / {args['updates']} epochs, "
          f"seeds {args['seeds']}, device {args['device']}")
    print('| arm | linear probe | kNN | distinct sources in buffer | buffer NN cos | train s |')
    print('|---|---|---|---|---|---|')

    def ms(values):
        return (f'{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}'
                if len(values) > 1 else f'{values[0]:.2f}')
    for arm, rs in rows.items():
        src = [r['distinct_sources'] for r in rs if 'distinct_sources' in r]
        cos = [r['neighbour_cos'] for r in rs if 'neighbour_cos' in r]
        print(f'| {arm} | {ms([r["linear"] for r in rs])} | {ms([r["knn"] for r in rs])} | '
              f'{ms(src) if src else "-"} | {ms(cos) if cos else "-"} | '
              f'{statistics.median(r["train_s"] for r in rs):.0f} |')
    print(f'| random init | {floor:.2f} | | | | |')
    pairs = [('minred', 'fifo'), ('minred', 'decorrelated'), ('fifo', 'sequential'),
             ('decorrelated', 'sequential')]
    for a, b in pairs:
        if a in rows and b in rows:
            diff = [x['linear'] - y['linear'] for x, y in zip(rows[a], rows[b])]
            print(f'linear probe {a} - {b} per seed: {[round(d, 2) for d in diff]} '
                  f'(mean {statistics.mean(diff):+.2f})')


if __name__ == '__main__':
    main()
