"""Linear-probe a self-supervised checkpoint (or a series of them):
``python tools/linear_probe.py CONFIG CHECKPOINT [CHECKPOINT ...] [--probe PROBE_CFG]``.

The backbone of each checkpoint is frozen (eval mode), the average-pooled L2-normalised
features of the probe's train and test sets are computed once and cached, and a linear
layer is trained on them (``clbox.evaluation.linear_probe``; the reference recipe of
Purushwalkam et al., ECCV 2022: LARS-wrapped SGD, batch 1024, cosine per epoch). The
probe settings are the config's ``probe`` dict or, with ``--probe``, the ``probe`` of a
probe config (``configs/cssl/probes/``)::

    probe = dict(train=DATASET, test=DATASET, num_classes=1000, epochs=10,
                 optimizer=dict(type='LARS', lr=3.0, momentum=0.9, weight_decay=0.,
                                eta=0.001),
                 batch_size=1024, feature_batch_size=256, seed=0,
                 groups=dict(split0=[...], ...))   # optional: top-1 per class group

Writes ``WORK_DIR/probe_results.json`` (one entry per checkpoint: its stream position,
top-1, top-5, per-group top-1; with ``groups`` and several checkpoints, the continual
protocol: accuracy at every checkpoint and the forgetting of each group,
``clbox.evaluation.cssl_protocol``), plots top-1 along the stream in
``WORK_DIR/probe_series.png`` and caches features in ``WORK_DIR/features/``.
"""
import argparse
import json
import os
import os.path as osp

from _common import DictAction, load_config


def parse_args():
    parser = argparse.ArgumentParser(description='Linear probe of frozen backbone features')
    parser.add_argument('config', help='the training config (it defines the model)')
    parser.add_argument('checkpoints', nargs='+', help='checkpoint file(s), stream order')
    parser.add_argument('--probe', help='a probe config whose `probe` replaces the '
                        "config's (e.g. configs/cssl/probes/linear-probe_lars-3.0-10e_"
                        'imagenet1k.py)')
    parser.add_argument('--work-dir', help='where probe_results.json and the feature cache '
                        'go (default: work_dirs/<config name>/linear_probe)')
    parser.add_argument('--order', help='the stream order of the groups, e.g. 0312 for '
                        'groups split0, split3, split1, split2 (default: the scenario\'s '
                        '`order`, else the groups\' order)')
    parser.add_argument('--device', default='auto', help='cpu, cuda or auto')
    parser.add_argument('--no-cache', action='store_true', help='recompute the features')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys (e.g. probe.epochs=1)')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    import clbox
    clbox.init_scope()
    from clbox.evaluation.cssl_protocol import probe_checkpoints
    probe = _probe_settings(cfg, args.probe, args.cfg_options)
    work_dir = args.work_dir or osp.join(cfg.work_dir, 'linear_probe')
    os.makedirs(work_dir, exist_ok=True)
    order = args.order or _scenario_order(cfg)
    results = probe_checkpoints(cfg.model, probe, args.checkpoints, work_dir,
                                device=args.device, order=order,
                                use_cache=not args.no_cache)
    for entry in results['checkpoints']:
        groups = ' '.join(f'{k}={v:.2f}' for k, v in entry['groups'].items() if v is not None)
        print(f"{osp.basename(entry['checkpoint'])}: top1 {entry['top1']:.2f} "
              f"top5 {entry['top5']:.2f} {groups}".rstrip())
    if results.get('forgetting'):
        print('forgetting (relative, %):', json.dumps(results['forgetting']))
    print(f'results: {osp.join(work_dir, "probe_results.json")}')


def _probe_settings(cfg, probe_cfg_path, cfg_options) -> dict:
    if probe_cfg_path:
        from mmengine.config import Config
        if not osp.isfile(probe_cfg_path):
            raise FileNotFoundError(f'probe config "{probe_cfg_path}" does not exist.')
        probe = Config.fromfile(probe_cfg_path).get('probe')
        if probe is None:
            raise KeyError(f'probe config "{probe_cfg_path}" has no `probe` dict.')
        cfg.probe = probe
        if cfg_options:   # probe.* overrides apply to the probe config too
            cfg.merge_from_dict({k: v for k, v in cfg_options.items()
                                 if k.startswith('probe.')})
    probe = cfg.get('probe')
    if probe is None:
        raise KeyError(f'the config defines no `probe`: pass --probe with a probe config '
                       '(configs/cssl/probes/) or add probe=dict(train=..., test=..., '
                       'num_classes=..., epochs=..., optimizer=...) to it.')
    return probe.to_dict() if hasattr(probe, 'to_dict') else dict(probe)


def _scenario_order(cfg):
    """The ``order`` of the config's continual split stream, if it has one."""
    def find(node):
        if isinstance(node, dict):
            if 'order' in node and isinstance(node['order'], str):
                return node['order']
            for value in node.values():
                found = find(value)
                if found:
                    return found
        elif isinstance(node, (list, tuple)):
            for value in node:
                found = find(value)
                if found:
                    return found
        return None
    return find(cfg.get('scenario'))


if __name__ == '__main__':
    main()
