"""Linear probes of checkpoint series and the continual-split protocol of continuous SSL.

Purushwalkam, Morgado and Gupta, ECCV 2022, section 6 (continual ImageNet-21k, four splits
streamed in the orders 0123, 0312 and 3120): "Acc @25/50/75/100%" is the probe's top-1
at the split boundaries, and the forgetting of split ``D_k`` (the k-th split in stream
order) is re-measured at every later boundary (``D0`` has 3 values, ``D1`` 2, ``D2`` 1).
The reference repository has no forgetting script: the definition used here,

    F_k(t) = 100 * (A_k(t_k) - A_k(t)) / A_k(t_k),   t > t_k,

with ``A_k`` the top-1 on the validation images of split k's classes and ``t_k`` the end
of split k, is **inferred** (the relative form fits the reported values of about 5 while
overall accuracy rises; ``../shared/specs/continuous-ssl.md`` sec. 5). The reported
numbers are presumably means over the three orders (:func:`average_over_orders`).
"""
import copy
import json
import os
import os.path as osp
import statistics
from typing import Dict, List, Optional, Sequence

import torch

from .linear_probe import (cache_path, cached_features, evaluate_probe, extract_features,
                           load_backbone, train_linear_probe)

__all__ = ['relative_forgetting', 'boundary_checkpoints', 'average_over_orders',
           'probe_checkpoints', 'groups_in_order']


def relative_forgetting(accuracy: Dict[str, List[float]], order: Sequence[str]
                        ) -> Dict[str, List[float]]:
    """Forgetting of each split at the later boundaries.

    Args:
        accuracy (dict): group -> top-1 at each boundary (boundary ``t`` ends the split
            ``order[t]``).
        order (Sequence[str]): The groups in stream order.

    Returns:
        dict: ``'D{k}'`` -> ``[F_k(t) for t = k + 1 ... last]`` (percent of ``A_k(t_k)``);
        splits without later boundaries (the last) are left out; NaN where ``A_k(t_k)``
        is 0 or an accuracy is missing (no test images of the split's classes).
    """
    out = {}
    for k, group in enumerate(order[:-1]):
        values = accuracy[group]
        ref = values[k]
        out[f'D{k}'] = [float('nan') if not ref or values[t] is None
                        else 100.0 * (ref - values[t]) / ref
                        for t in range(k + 1, len(order))]
    return out


def boundary_checkpoints(fractions: Sequence[Optional[float]], num_splits: int) -> List[int]:
    """Which checkpoints are the split boundaries: with one checkpoint per split, all of
    them in order; otherwise the one whose stream fraction is nearest ``(k + 1) / n``.

    Raises:
        ValueError: If the fractions are unknown and the counts differ.
    """
    if len(fractions) == num_splits:
        return list(range(num_splits))
    if any(f is None for f in fractions):
        raise ValueError(f'{len(fractions)} checkpoints for {num_splits} splits, and not all '
                         'of them record their stream position: give exactly one '
                         'checkpoint per split boundary, in stream order.')
    return [min(range(len(fractions)), key=lambda i: abs(fractions[i] - (k + 1) / num_splits))
            for k in range(num_splits)]


def groups_in_order(groups: Sequence[str], order: Optional[str]) -> List[str]:
    """The group names in stream order: ``order`` '0312' picks the groups whose names
    end with 0, 3, 1, 2 (``split0``, ...) or, without ``order``, the groups as given.

    Raises:
        ValueError: If an id of ``order`` names no group.
    """
    groups = list(groups)
    if not order:
        return groups
    out = []
    for ch in str(order):
        match = [g for g in groups if g == ch or g.endswith(ch)]
        if len(match) != 1:
            raise ValueError(f'order {order!r}: split {ch!r} matches {len(match)} of the probe '
                             f'groups {groups} (name them split0, split1, ...).')
        out.append(match[0])
    if sorted(out) != sorted(groups):
        raise ValueError(f'order {order!r} does not name every probe group {groups}.')
    return out


def average_over_orders(runs: Sequence[dict]) -> dict:
    """Mean over split orders of the boundary accuracies and forgetting values of several
    ``probe_results.json`` contents (each with ``protocol``)."""
    protocols = [r['protocol'] for r in runs]
    if not protocols:
        raise ValueError('no runs to average.')
    n = {len(p['accuracy']) for p in protocols}
    if len(n) != 1:
        raise ValueError(f'the runs have different numbers of boundaries: {sorted(n)}.')
    accuracy = [statistics.mean(p['accuracy'][t] for p in protocols) for t in range(n.pop())]
    forgetting = {key: [statistics.mean(p['forgetting'][key][t] for p in protocols)
                        for t in range(len(values))]
                  for key, values in protocols[0]['forgetting'].items()}
    return dict(orders=[p.get('order') for p in protocols], accuracy=accuracy,
                forgetting=forgetting)


def _resolve_groups(groups) -> Dict[str, List[int]]:
    """name -> class ids, from lists or text files of one class id per line."""
    out = {}
    for name, classes in (groups or {}).items():
        if isinstance(classes, str):
            if not osp.isfile(classes):
                raise FileNotFoundError(f'probe group {name!r}: class list "{classes}" does '
                                        'not exist (one class id per line).')
            with open(classes) as f:
                classes = [int(line.split()[0]) for line in f if line.strip()]
        out[name] = [int(c) for c in classes]
    return out


def _checkpoint_fraction(checkpoint: dict) -> Optional[float]:
    state = checkpoint.get('meta', {}).get('clbox') or {}
    return state.get('stream_fraction')


def probe_checkpoints(model_cfg: dict, probe: dict, checkpoints: Sequence[str],
                      work_dir: str, device: str = 'auto', order: Optional[str] = None,
                      use_cache: bool = True) -> dict:
    """Probe each checkpoint (stream order) and, with class groups, the continual protocol.

    ``WORK_DIR/probe_results.json`` is rewritten atomically after every checkpoint, so an
    interrupted series keeps what it finished; features are cached per checkpoint and
    split in ``WORK_DIR/features``; ``WORK_DIR/probe_series.png`` plots top-1 (and each
    group's) along the stream.

    Args:
        model_cfg (dict): The training config's ``model`` (its buffer is not built).
        probe (dict): ``train``, ``test`` (dataset configs), ``num_classes``, ``epochs``,
            ``optimizer``; optional ``batch_size`` (1024), ``feature_batch_size`` (256),
            ``seed`` (0), ``groups`` (name -> class ids or a class-list file).
        checkpoints (Sequence[str]): Checkpoint files.
        work_dir (str): Output folder.
        device (str): 'cpu', 'cuda' or 'auto'. Defaults to 'auto'.
        order (str, optional): Stream order of the groups (``'0312'``).
        use_cache (bool): Reuse cached features. Defaults to True.

    Returns:
        dict: ``checkpoints`` (per checkpoint: ``checkpoint``, ``stream_fraction``,
        ``top1``, ``top5``, ``groups``) and, with groups and as many boundaries as
        groups, ``protocol`` (``order``, ``accuracy`` at each boundary, per-group
        ``group_accuracy``, ``forgetting``).
    """
    from clbox.engine.checkpoint_io import atomic_replace, read_checkpoint
    from clbox.registry import MODELS
    from clbox.scenarios.base import build_dataset
    missing = [k for k in ('train', 'test', 'num_classes', 'epochs', 'optimizer')
               if k not in probe]
    if missing:
        raise KeyError(f'probe settings lack {missing}: see configs/cssl/probes/ for a full '
                       'probe dict.')
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    groups = _resolve_groups(probe.get('groups'))
    model_cfg = copy.deepcopy(dict(model_cfg))
    model_cfg.pop('buffer', None)
    algorithm = MODELS.build(model_cfg).to(device)
    sets = {split: build_dataset(copy.deepcopy(probe[split])) for split in ('train', 'test')}
    out_file = osp.join(work_dir, 'probe_results.json')
    entries = []
    for path in checkpoints:
        checkpoint = read_checkpoint(path)
        load_backbone(algorithm, checkpoint, path)
        stat = os.stat(path)
        feats = {}
        for split, dataset in sets.items():
            key = dict(size=stat.st_size, mtime_ns=stat.st_mtime_ns, length=len(dataset))
            feats[split] = cached_features(
                cache_path(osp.join(work_dir, 'features'), path, split) if use_cache else None,
                lambda d=dataset: extract_features(algorithm, d,
                                                   probe.get('feature_batch_size', 256),
                                                   torch.device(device)), key)
            feats[split] = tuple(t.to(device) for t in feats[split])
        layer = train_linear_probe(*feats['train'], int(probe['num_classes']),
                                   int(probe['epochs']), probe['optimizer'],
                                   int(probe.get('batch_size', 1024)), int(probe.get('seed', 0)))
        entry = dict(checkpoint=osp.abspath(path),
                     stream_fraction=_checkpoint_fraction(checkpoint),
                     **evaluate_probe(layer, *feats['test'], groups))
        entries.append(entry)
        results = dict(checkpoints=entries)
        atomic_replace(out_file, lambda tmp: _dump(results, tmp))
    if groups and len(entries) >= len(groups) > 1:
        names = groups_in_order(groups, order)
        bounds = boundary_checkpoints([e['stream_fraction'] for e in entries], len(names))
        accuracy = {g: [entries[b]['groups'][g] for b in bounds] for g in names}
        results['protocol'] = dict(
            order=order, boundaries=[entries[b]['checkpoint'] for b in bounds],
            accuracy=[entries[b]['top1'] for b in bounds], group_accuracy=accuracy,
            forgetting=relative_forgetting(accuracy, names))
        atomic_replace(out_file, lambda tmp: _dump(results, tmp))
    from clbox.visualization.plots import plot_probe_series
    plot_probe_series(results, osp.join(work_dir, 'probe_series.png'))
    return results


def _dump(results: dict, path: str) -> None:
    with open(path, 'w') as f:
        json.dump(results, f, indent=2)
