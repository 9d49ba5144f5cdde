"""Run a frozen backbone (+ neck) over a dataset once and store its features.

    python tools/extract_features.py CONFIG --out DIR [--checkpoint local.pth]
        [--batch-size 64] [--split all|train|test] [--cfg-options k=v ...]

The images are those of the config's scenario (for CLEAR: every labeled image of every
split and bucket, test bucket 0 included), read with the scenario's ``test_pipeline``. DIR
receives ``features.f16`` (N x D float16), ``index.json`` (paths, labels, buckets, splits)
and ``done.npy``; rerunning the same command resumes where it stopped. Train heads on the
result with ``scenario.feature_type`` (see ``configs/clear/*features*.py``).
"""
import argparse
import errno
import os.path as osp
import shutil
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _common import DictAction, load_config  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from clbox.registry import MODELS, SCENARIOS  # noqa: E402
from clbox.scenarios.clear import CLEARImages  # noqa: E402
from clbox.scenarios.features import FeatureWriter  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Pre-extract frozen-backbone features')
    parser.add_argument('config', help='config whose model and scenario to use')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--checkpoint', help='local weights for the backbone (clbox, '
                        'mmpretrain or bare backbone state dict); never downloaded')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--split', choices=['all', 'train', 'test'], default='all',
                        help='which split folders of the dataset to extract')
    parser.add_argument('--commit-every', type=int, default=20,
                        help='batches between syncs of the resumable state')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. scenario.dataset_root=...')
    return parser.parse_args(argv)


def build_extractor(cfg, checkpoint=None) -> torch.nn.Module:
    """The config's task model (e.g. ``ImageClassifier``), frozen, weights loaded."""
    model = MODELS.build(cfg.model)
    model = getattr(model, 'model', model)  # unwrap the continual method
    if checkpoint is not None:
        load_backbone_weights(model, checkpoint)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def load_backbone_weights(model, path: str) -> None:
    """Load a clbox, mmpretrain or bare-backbone checkpoint into ``model``.

    Raises:
        FileNotFoundError: If ``path`` does not exist (nothing is downloaded).
        ValueError: If the checkpoint leaves backbone weights unset.
    """
    from mmengine.runner import CheckpointLoader
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint "{path}" does not exist; extract_features never '
                                'downloads weights, give a local file.')
    state = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    state = state.get('state_dict', state)
    if any(k.startswith('model.backbone.') for k in state):  # a clbox checkpoint
        state = {k[len('model.'):]: v for k, v in state.items() if k.startswith('model.')}
    if not any(k.split('.')[0] in ('backbone', 'neck', 'head') for k in state):
        state = {'backbone.' + k: v for k, v in state.items()}
    own = model.state_dict()
    state = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    missing = [k for k in own if k.startswith('backbone.') and k not in state]
    if missing:
        raise ValueError(f'"{path}" does not hold {len(missing)} backbone tensor(s) of this '
                         f'config, e.g. {missing[:3]}; it was trained with another backbone.')
    model.load_state_dict(state, strict=False)


def collect_records(cfg, split: str):
    """(root, records, class names) of every image of the config's scenario."""
    scenario_cfg = dict(cfg.scenario, feature_type=None)
    scenario = SCENARIOS.build(scenario_cfg)
    if not hasattr(scenario, 'index'):
        raise ValueError(f'{type(scenario).__name__} does not describe its images on disk; '
                         'extract_features supports the CLEAR scenario.')
    records = [r for r in scenario.index.records() if split == 'all' or r.split in
               (split, '')]
    seen, unique = set(), []
    for r in records:
        if r.path not in seen:
            seen.add(r.path)
            unique.append(r)
    return scenario.index.root, unique, scenario.class_names


def check_out(out: str, root: str) -> None:
    """Refuse to write inside the dataset root."""
    out_abs, root_abs = osp.realpath(out), osp.realpath(root)
    if out_abs == root_abs or out_abs.startswith(root_abs + osp.sep):
        raise ValueError(f'--out "{out}" is inside dataset_root "{root}"; clbox never writes '
                         'into a dataset root. Pick a folder outside it.')


@torch.no_grad()
def embed(model, batch: dict) -> np.ndarray:
    """Backbone (+ neck) features of a collated batch, flattened to (B, D)."""
    data = model.data_preprocessor(batch, False)
    feats = model.extract_feat(data['inputs'])
    feats = feats[-1] if isinstance(feats, (tuple, list)) else feats
    return feats.flatten(1).float().cpu().numpy()


def extract(cfg, out: str, checkpoint=None, batch_size: int = 64, split: str = 'all',
            commit_every: int = 20, progress: bool = True) -> FeatureWriter:
    """Extract (or finish extracting) features of the config's dataset into ``out``.

    Raises:
        OSError: With a clear message when the disk is full; the partial files are removed.
    """
    from mmengine.dataset import pseudo_collate
    root, records, classes = collect_records(cfg, split)
    check_out(out, root)
    model = build_extractor(cfg, checkpoint)
    pipeline = cfg.scenario.get('test_pipeline', [])
    dataset = CLEARImages(root, records, classes, pipeline)
    first = embed(model, pseudo_collate([dataset[0]]))
    rows = [dict(path=r.path, label=r.label, bucket=r.bucket, split=r.split) for r in records]
    extra = dict(classes=list(classes), dataset_root=root, checkpoint=checkpoint,
                 backbone=cfg.model.model.backbone.get('type', '?') if 'model' in
                 cfg.model else '?')
    writer = None
    try:
        writer = FeatureWriter(out, rows, first.shape[1], extra)
        todo = np.flatnonzero(~writer.done)
        bar = _progress(len(rows), int(writer.done.sum()), progress)
        for n, start in enumerate(range(0, len(todo), batch_size)):
            idx = todo[start:start + batch_size]
            batch = pseudo_collate([dataset[int(i)] for i in idx])
            writer.write(idx, embed(model, batch))
            if (n + 1) % commit_every == 0:
                writer.commit()
            bar.update(len(idx))
        writer.close()
        bar.close()
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        need = len(rows) * first.shape[1] * 2 / 2 ** 20
        if writer is not None:
            writer.remove()
        free = shutil.disk_usage(osp.dirname(osp.abspath(out))).free / 2 ** 20
        raise OSError(errno.ENOSPC, f'disk full while writing features to "{out}": '
                      f'{len(rows)} x {first.shape[1]} float16 need {need:.1f} MiB, '
                      f'{free:.1f} MiB are free. The partial files were removed; free space '
                      'or pick another --out.') from None
    return writer


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc='extract', unit='img',
                disable=not enabled, dynamic_ncols=True)


def main(argv=None):
    args = parse_args(argv)
    import clbox
    clbox.init_scope()
    cfg = load_config(args.config, args.cfg_options)
    writer = extract(cfg, args.out, args.checkpoint, args.batch_size, args.split,
                     args.commit_every, not args.no_progress)
    print(f'{writer.count} x {writer.dim} features in {args.out}')


if __name__ == '__main__':
    main()
