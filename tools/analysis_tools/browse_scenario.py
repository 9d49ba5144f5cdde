"""Look at a scenario before training on it: a grid of samples per experience.

    python tools/analysis_tools/browse_scenario.py CONFIG [--stream train|test] [--num 8]
        [--out scenario.png] [--cfg-options KEY=VALUE ...]

Like mmpretrain's ``browse_dataset``, for streams: one row per experience (its name, size
and classes), ``--num`` samples of it as stored (before augmentation when the dataset
exposes the raw image, else after its pipeline), each titled with its class name. The
PNG is written atomically.
"""
import argparse
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # tools/_common.py

from _common import DictAction, load_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='A grid of samples per experience')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--stream', choices=['train', 'test'], default='train')
    parser.add_argument('--num', type=int, default=8, help='samples per experience')
    parser.add_argument('--out', default='scenario.png', help='output PNG')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. scenario.num_experiences=2')
    return parser.parse_args(argv)


def sample_image(dataset, idx: int) -> np.ndarray:
    """Sample ``idx`` as an (H, W, 3) uint8 image: the stored image when the dataset gives
    it (``get_data_info(i)['img']``), else its pipeline's ``inputs`` tensor."""
    image = None
    if hasattr(dataset, 'get_data_info'):
        image = dataset.get_data_info(idx).get('img')
    if image is None:
        item = dataset[idx]
        image = item['inputs'] if isinstance(item, dict) else item[0]
        image = image.detach().cpu().numpy().transpose(1, 2, 0) if hasattr(image, 'detach') \
            else np.asarray(image)
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    if image.dtype != np.uint8:
        lo, hi = float(image.min()), float(image.max())
        image = ((image - lo) / max(hi - lo, 1e-12) * 255).astype(np.uint8)
    return image[..., :3]


def sample_label(dataset, idx: int) -> int:
    if hasattr(dataset, 'get_data_info'):
        info = dataset.get_data_info(idx)
        if 'gt_label' in info:
            return int(np.asarray(info['gt_label']).reshape(-1)[0])
    item = dataset[idx]
    sample = item['data_samples'] if isinstance(item, dict) else item[1]
    label = getattr(sample, 'gt_label', sample)
    return int(np.asarray(label).reshape(-1)[0])


def browse(scenario, stream: str, num: int, out: str) -> str:
    """Draw the grid of ``scenario``'s ``stream`` into ``out``; returns ``out``.

    Raises:
        ValueError: ``num`` below 1 or an empty stream.
    """
    from clbox.engine.checkpoint_io import atomic_replace
    from clbox.visualization.plots import _pyplot
    if num < 1:
        raise ValueError(f'--num must be at least 1, got {num}.')
    experiences = scenario.train_stream if stream == 'train' else scenario.test_stream
    if not experiences:
        raise ValueError(f'the scenario\'s {stream} stream is empty.')
    names = None
    for exp in experiences:
        meta = getattr(exp.dataset, 'metainfo', None) or {}
        names = names or meta.get('classes')
    plt = _pyplot()
    fig, axes = plt.subplots(len(experiences), num, squeeze=False,
                             figsize=(1.3 * num + 1.5, 1.5 * len(experiences)))
    for row, exp in zip(axes, experiences):
        picks = np.linspace(0, len(exp) - 1, min(num, len(exp))).round().astype(int) \
            if len(exp) else []
        for k, ax in enumerate(row):
            ax.axis('off')
            if k >= len(picks):
                continue
            i = int(picks[k])
            ax.imshow(sample_image(exp.dataset, i))
            label = sample_label(exp.dataset, i)
            ax.set_title(str(names[label]) if names and label < len(names) else str(label),
                         fontsize=7)
        row[0].text(-0.15, 0.5, f'{exp.name or exp.index}\n{len(exp)} samples\n'
                    f'classes {list(exp.classes)[:6]}', transform=row[0].transAxes,
                    ha='right', va='center', fontsize=7)
    fig.tight_layout()
    atomic_replace(out, lambda tmp: fig.savefig(tmp, dpi=100, format='png'))
    plt.close(fig)
    return out


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, None)
    import clbox
    from clbox.registry import SCENARIOS
    clbox.init_scope()
    scenario = SCENARIOS.build(cfg.scenario)
    print(browse(scenario, args.stream, args.num, args.out))


if __name__ == '__main__':
    main()
