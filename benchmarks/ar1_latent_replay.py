"""Training-iteration time and memory of AR1* with latent replay vs replay at the input.

Both runs are the same AR1* model (MobileNetV1 + BRN + CWR*, CORe50-sized 128x128 inputs,
50 classes) in the state of an incremental NICv2-391 batch: 1,500 stored samples, a
mini-batch of 128 = 21 new + 107 replayed (the reference's split for a 300-image batch).
Latent replay stores ``conv5_4.dw`` activations and freezes the layers below; input
replay stores uint8 images and trains the whole network. Iterations are interleaved so
machine noise hits both alike. Synthetic data (timing does not depend on content).
Reported: ms per iteration and images/s (new + replayed samples per step / step time);
with ``--device cuda`` the model trains on the GPU (the memory stays on the CPU, replayed
samples are copied over each step), timers read after ``torch.cuda.synchronize()``.

    OMP_NUM_THREADS=1 python benchmarks/ar1_latent_replay.py [--iters 4] [--width 1.0]
        [--device cpu|cuda]
"""
import argparse
import statistics
import time

import numpy as np
import torch
from mmengine.dataset import default_collate
from mmengine.optim import OptimWrapper

from _common import add_device_argument, check_device, clbox, device_name, sync
from clbox.registry import MODELS
from clbox.scenarios import ArrayDataset, Experience


def build(latent_layer, args):
    cfg = dict(
        type='AR1', latent_layer=latent_layer, replay_batch_size=args.replay,
        buffer=dict(type='LatentReplayBuffer', size=args.memory,
                    storage=args.storage if latent_layer else None),
        model=dict(
            type='ImageClassifier',
            data_preprocessor=dict(type='ClsDataPreprocessor', mean=[123.675, 116.28, 103.53],
                                   std=[58.395, 57.12, 57.375], to_rgb=True),
            backbone=dict(type='MobileNetV1', widen_factor=args.width,
                          norm_cfg=dict(type='BRN', momentum=0.01, max_r_max=1.25,
                                        max_d_max=0.5, r_d_max_inc_step=4.1e-5)),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='CWRStarHead', num_classes=50,
                      in_channels=int(1024 * args.width))))
    torch.manual_seed(0)
    alg = MODELS.build(cfg).to(args.device)
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (args.memory, args.size, args.size, 3), dtype=np.uint8)
    first = ArrayDataset(images, rng.randint(0, 50, args.memory),
                         pipeline=[dict(type='PackInputs')])
    # fill the memory through the method's own observe pass (what the loop does)
    alg.before_experience(Experience(0, first, tuple(range(50))))
    alg.after_experience(Experience(0, first), None)
    for start in range(0, args.memory, 250):
        alg.observe(default_collate([first[i] for i in range(start, min(start + 250,
                                                                           args.memory))]))
    n_new = min(300, args.memory)
    new = ArrayDataset(images[:n_new], rng.randint(0, 50, n_new),
                       pipeline=[dict(type='PackInputs')])
    alg.before_experience(Experience(1, new, tuple(range(50))))
    alg.train()
    optim = OptimWrapper(torch.optim.SGD(alg.parameters(), lr=3e-4, momentum=0.9,
                                         weight_decay=5e-4))
    batch = default_collate([new[i] for i in range(args.new)])
    return alg, optim, batch


def timed_step(alg, optim, batch, device='cpu'):
    sync(device)
    start = time.perf_counter()
    alg.train_step(batch, optim)
    sync(device)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=4, help='timed iterations per method')
    parser.add_argument('--width', type=float, default=1.0)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--memory', type=int, default=1500)
    parser.add_argument('--new', type=int, default=21)
    parser.add_argument('--replay', type=int, default=107)
    parser.add_argument('--storage', default=None, help='latent storage: float16, uint8')
    parser.add_argument('--threads', type=int, default=1)
    add_device_argument(parser)
    args = parser.parse_args()
    check_device(args.device)
    torch.set_num_threads(args.threads)
    clbox.init_scope()
    runs = dict(latent=build('conv5_4.dw', args), input=build(None, args))
    times = {k: [] for k in runs}
    for name, run in runs.items():  # warm-up
        timed_step(*run, args.device)
    for _ in range(args.iters):
        for name, run in runs.items():
            times[name].append(timed_step(*run, args.device))
    lat, inp = statistics.median(times['latent']), statistics.median(times['input'])
    latent_mem = runs['latent'][0].buffer.bytes_per_sample()
    image_mem = runs['input'][0].buffer.bytes_per_sample()
    step = args.new + args.replay
    print(f'MobileNetV1 x{args.width} {args.size}px, batch {args.new} new + {args.replay} '
          f'replayed, memory {args.memory}, {device_name(args.device)}, median of '
          f'{args.iters}')
    print(f'  latent replay (conv5_4.dw): {lat * 1000:8.1f} ms/iter  {step / lat:7.1f} '
          f'images/s  {times["latent"]}')
    print(f'  input replay              : {inp * 1000:8.1f} ms/iter  {step / inp:7.1f} '
          f'images/s  {times["input"]}')
    print(f'  ratio latent / input      : {lat / inp:.3f}  (target <= 0.5)')
    print(f'  bytes per stored sample   : latent {latent_mem:.0f} '
          f'({runs["latent"][0].buffer.storage["inputs"].dtype}), image {image_mem:.0f} '
          f'(uint8) -> {latent_mem / image_mem:.2f}x')


if __name__ == '__main__':
    main()
