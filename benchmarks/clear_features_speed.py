"""Per-epoch time of training CLEAR's head on pre-extracted features vs. on images.

    OMP_NUM_THREADS=1 python benchmarks/clear_features_speed.py [--image-size 224]
        [--per-class 3] [--epochs 3] [--batch-size 32] [--device cpu|cuda]

Both sides train the same linear head (2048 -> 11) of ``configs/clear/resnet50.py`` with the
same batch size through the same ``train_step``, on the training images of one bucket of a
miniature CLEAR-10 generated on the fly (tests/fixtures/clear.py): once with the frozen
ResNet-50 (``frozen_stages=4``, ``norm_eval``) run on every image with the config's train
pipeline, once on features written by ``tools/extract_features.py``. Epochs of the two are
interleaved so that machine load hits both alike; the medians are compared. The one-off
extraction time is reported too, with the number of epochs after which it has paid off.
Target: features at least 20x faster per epoch. Per side: ms per epoch, ms per iteration
and training images/s. With ``--device cuda`` both sides train on the GPU (timers read
after ``torch.cuda.synchronize()``); the one-off extraction (``tools/extract_features.py``)
runs on the CPU either way.
"""
import argparse
import os.path as osp
import statistics
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path[:0] = [ROOT, osp.join(ROOT, 'tests'), osp.join(ROOT, 'tools')]

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.optim import OptimWrapper  # noqa: E402

import clbox  # noqa: E402
from _device import add_device_argument, check_device, device_name, sync  # noqa: E402
from clbox.engine.utils import build_loader  # noqa: E402
from clbox.registry import MODELS, SCENARIOS  # noqa: E402
from fixtures.clear import make_clear  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--image-size', type=int, default=224,
                        help='crop size of the image pipeline (the config uses 224)')
    parser.add_argument('--per-class', type=int, default=3,
                        help='training images per class in the bucket')
    parser.add_argument('--epochs', type=int, default=3, help='timed epochs per side')
    parser.add_argument('--batch-size', type=int, default=32)
    add_device_argument(parser)
    return parser.parse_args()


def image_side(root: str, size: int):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/clear/resnet50.py'))
    cfg.scenario.dataset_root = root
    for pipeline in (cfg.scenario.train_pipeline, cfg.scenario.test_pipeline):
        pipeline[1].scale = size
        pipeline[2].crop_size = size
    cfg.model.model.backbone.update(frozen_stages=4, norm_eval=True)
    return cfg


def feature_side(feature_root: str, root: str):
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/clear/naive_linear-head_1xb256-70e_clear10-features.py'))
    cfg.scenario.update(dataset_root=root, feature_root=feature_root, feature_type='r50')
    return cfg


def trainer(cfg, batch_size: int, device: str = 'cpu'):
    """(algorithm, optimizer wrapper, loader over bucket 1's training data, device)."""
    torch.manual_seed(0)
    algorithm = MODELS.build(cfg.model).to(device)
    algorithm.train()
    params = [p for p in algorithm.parameters() if p.requires_grad]
    optim = OptimWrapper(torch.optim.SGD(params, lr=0.01, momentum=0.9))
    scenario = SCENARIOS.build(cfg.scenario)
    loader_cfg = dict(cfg.train_dataloader, batch_size=batch_size, num_workers=0)
    return (algorithm, optim, build_loader(loader_cfg, scenario.train_stream[0].dataset, 0),
            device)


def epoch_time(algorithm, optim, loader, device='cpu') -> float:
    sync(device)
    start = time.perf_counter()
    for batch in loader:
        algorithm.train_step(batch, optim_wrapper=optim)
    sync(device)
    return time.perf_counter() - start


def main():
    args = parse_args()
    check_device(args.device)
    torch.set_num_threads(1)
    clbox.init_scope()
    from extract_features import extract
    with tempfile.TemporaryDirectory() as tmp:
        root = osp.join(tmp, 'clear10')
        make_clear(root, num_buckets=1, train_per_class=args.per_class, test_per_class=1,
                   size=32)
        img_cfg = image_side(root, args.image_size)
        start = time.perf_counter()
        extract(img_cfg, osp.join(tmp, 'features', 'r50'), batch_size=args.batch_size,
                progress=False)
        extraction = time.perf_counter() - start
        sides = dict(images=trainer(img_cfg, args.batch_size, args.device),
                     features=trainer(feature_side(osp.join(tmp, 'features'), root),
                                      args.batch_size, args.device))
        frozen = [n for n, p in sides['images'][0].named_parameters() if p.requires_grad]
        assert all(n.startswith('model.head') for n in frozen), frozen
        times = {name: [] for name in sides}
        for name in sides:  # warm-up epoch each (allocations, lazy imports)
            epoch_time(*sides[name])
        for _ in range(args.epochs):
            for name in sides:
                reps = 1 if name == 'images' else 20  # features: average many short epochs
                times[name].append(min(epoch_time(*sides[name]) for _ in range(reps)))
    n = len(sides['images'][2].dataset)
    iters = len(sides['images'][2])
    img, feat = statistics.median(times['images']), statistics.median(times['features'])
    print(f'{n} training images of one bucket, batch {args.batch_size} ({iters} iterations '
          f'per epoch), {args.image_size}px crops, {device_name(args.device)}')
    print(f'  head on images, frozen ResNet-50: {img * 1000:9.1f} ms/epoch, '
          f'{img * 1000 / iters:.2f} ms/iter, {n / img:.0f} images/s '
          f'({[round(t * 1000, 1) for t in times["images"]]})')
    print(f'  head on pre-extracted features:   {feat * 1000:9.1f} ms/epoch, '
          f'{feat * 1000 / iters:.3f} ms/iter, {n / feat:.0f} images/s '
          f'({[round(t * 1000, 2) for t in times["features"]]})')
    print(f'  speed-up per epoch: {img / feat:.0f}x (target >= 20x: '
          f'{"met" if img / feat >= 20 else "NOT met"})')
    print(f'  one-off extraction (all splits, test included): {extraction:.1f} s '
          f'(pays off after {extraction / max(img - feat, 1e-9):.1f} epochs)')


if __name__ == '__main__':
    main()
