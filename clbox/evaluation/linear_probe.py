"""The linear probe of a self-supervised backbone (the metric of continuous SSL).

Purushwalkam, Morgado and Gupta, ECCV 2022 (``senthilps8/continuous_ssl_problem``,
``worker_lincls.py: main_dataset_worker`` and ``configs/simsiam/lincls/*.yaml``): the
backbone is frozen and kept in eval mode (its BN statistics do not move), the
global-average-pooled features are L2-normalised and fed to one linear layer (weights
N(0, 0.01), bias 0) trained with SGD (momentum 0.9, no weight decay) wrapped in LARC
(trust coefficient 0.001, no clipping), batch 1024, cosine learning rate set once per
epoch; top-1 after the last epoch, no model selection.

Two differences, both deliberate:

* the features are computed **once** (un-augmented, with the probe datasets' pipelines)
  and cached: the reference re-augments the training images every epoch
  (RandomResizedCrop 0.08-1 + flip). Caching makes a probe of a 5%-checkpoint series
  affordable (one forward pass per image and checkpoint instead of one per epoch); the
  reference's per-epoch augmentation of the probe is not reproduced.
* the optimizer is mmpretrain's ``LARS`` (registered as ``LARS``), the same layer-wise
  rate ``eta * |w| / (|g| + wd |w| + eps)`` as apex's LARC with ``clip=False``. LARC
  scales the gradient and lets SGD apply ``lr`` after the momentum; LARS applies ``lr``
  before it. With a learning rate constant within an epoch the updates are equal except
  for the momentum carried across an epoch boundary, where LARS's buffer holds steps
  taken at the previous epoch's rate (a test compares both).
"""
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['extract_features', 'train_linear_probe', 'group_accuracy', 'load_backbone',
           'BackboneMismatchError']


class BackboneMismatchError(ValueError):
    """A checkpoint whose backbone weights do not fit the config's backbone."""


@torch.no_grad()
def extract_features(algorithm, dataset, batch_size: int = 256,
                     device: Optional[torch.device] = None):
    """L2-normalised pooled backbone features and labels of a whole labelled dataset.

    The method is put in eval mode (BN uses its running statistics) and its
    ``extract_feat`` is called on preprocessed images (the projector and predictor of a
    SimSiam are left out).

    Args:
        algorithm (ContinualAlgorithm): A method with ``extract_feat`` (e.g.
            :class:`~clbox.algorithms.ContinualSimSiam`).
        dataset: An mm dataset whose items pack one image and a ``gt_label``.
        batch_size (int): Images per forward pass. Defaults to 256.
        device (torch.device, optional): Where to compute. Defaults to the method's.

    Returns:
        tuple[Tensor, Tensor]: (N, C) float features on ``device``, (N,) long labels.
    """
    from mmengine.dataset import default_collate

    from clbox.scenarios.batched import fetch_batch
    if not hasattr(algorithm, 'extract_feat'):
        raise TypeError(f'{type(algorithm).__name__} has no extract_feat: the linear probe '
                        'needs a method that returns pooled backbone features.')
    device = device or next(algorithm.parameters()).device
    was_training = algorithm.training
    algorithm.eval()
    feats, labels = [], []
    for start in range(0, len(dataset), batch_size):
        idx = list(range(start, min(start + batch_size, len(dataset))))
        data = fetch_batch(dataset, idx) or default_collate([dataset[i] for i in idx])
        data = algorithm.preprocess(data, False)
        f = algorithm.extract_feat(data['inputs'].to(device)).float()
        feats.append(F.normalize(f.flatten(1), dim=1))
        labels.append(algorithm.labels(data['data_samples']).to(device))
    algorithm.train(was_training)
    if not feats:
        raise ValueError('the probe dataset is empty.')
    return torch.cat(feats), torch.cat(labels)


def train_linear_probe(train_feats: torch.Tensor, train_labels: torch.Tensor,
                       num_classes: int, epochs: int, optimizer: dict,
                       batch_size: int = 1024, seed: int = 0) -> nn.Linear:
    """Train the probe's linear layer on fixed features.

    The layer's weights are drawn N(0, 0.01) and its bias is 0 (the reference's
    ``model.fc`` init); each epoch sets the learning rate to
    ``lr * 0.5 * (1 + cos(pi * epoch / epochs))`` (``adjust_learning_rate``, per epoch) and
    visits the features in a fresh seeded permutation, ``batch_size`` at a time.

    Args:
        train_feats (Tensor): (N, C) features.
        train_labels (Tensor): (N,) class ids in ``[0, num_classes)``.
        num_classes (int): Output classes.
        epochs (int): Passes over the features.
        optimizer (dict): An optimizer config with ``type`` and ``lr`` (clbox's
            ``OPTIMIZERS``: torch's and mmpretrain's, e.g. ``dict(type='LARS', lr=3.0, momentum=0.9,
            weight_decay=0., eta=0.001)``).
        batch_size (int): Defaults to 1024 (the reference's).
        seed (int): Seed of the init and the batch order. Defaults to 0.

    Returns:
        nn.Linear: The trained layer.
    """
    from clbox.registry import OPTIMIZERS
    if epochs < 1:
        raise ValueError(f'probe epochs must be >= 1, got {epochs}.')
    if int(train_labels.max()) >= num_classes or int(train_labels.min()) < 0:
        raise ValueError(f'probe labels span [{int(train_labels.min())}, '
                         f'{int(train_labels.max())}] but num_classes is {num_classes}: set '
                         'probe.num_classes to the number of classes of the probe datasets.')
    g = torch.Generator().manual_seed(int(seed))
    layer = nn.Linear(train_feats.size(1), num_classes)
    nn.init.normal_(layer.weight, 0, 0.01, generator=g)
    nn.init.zeros_(layer.bias)
    layer = layer.to(train_feats.device)
    cfg = dict(optimizer)
    base_lr = float(cfg['lr'])
    opt = OPTIMIZERS.build(dict(cfg, params=layer.parameters()))
    n = len(train_feats)
    for epoch in range(epochs):
        for group in opt.param_groups:
            group['lr'] = base_lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        perm = torch.randperm(n, generator=g).to(train_feats.device)
        for start in range(0, n, batch_size):
            i = perm[start:start + batch_size]
            loss = F.cross_entropy(layer(train_feats[i]), train_labels[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return layer


@torch.no_grad()
def evaluate_probe(layer: nn.Linear, feats: torch.Tensor, labels: torch.Tensor,
                   groups: Optional[Dict[str, Sequence[int]]] = None) -> dict:
    """Top-1 and top-5 (percent) of the probe, and top-1 on each group of classes.

    Args:
        layer (nn.Linear): The probe.
        feats (Tensor): (N, C) test features.
        labels (Tensor): (N,) test labels.
        groups (dict, optional): name -> class ids (e.g. the classes of each split of a
            continual stream): top-1 over the test samples of those classes.

    Returns:
        dict: ``top1``, ``top5`` and ``groups`` (name -> top-1, None for a group without
        test samples).
    """
    scores = layer(feats)
    k = min(5, scores.size(1))
    top = scores.topk(k, dim=1).indices
    out = dict(top1=100.0 * float((top[:, 0] == labels).float().mean()),
               top5=100.0 * float((top == labels[:, None]).any(1).float().mean()))
    out['groups'] = {name: group_accuracy(top[:, 0], labels, classes)
                     for name, classes in (groups or {}).items()}
    return out


def group_accuracy(pred: torch.Tensor, labels: torch.Tensor,
                   classes: Sequence[int]) -> Optional[float]:
    """Top-1 (percent) over the samples whose label is in ``classes`` (None if none)."""
    mask = torch.isin(labels, torch.as_tensor(list(classes), device=labels.device))
    if not mask.any():
        return None
    return 100.0 * float((pred[mask] == labels[mask]).float().mean())


BACKBONE_PREFIXES = ('model.backbone.', 'backbone.', 'module.model.backbone.')


def load_backbone(algorithm, checkpoint: dict, path: str) -> List[str]:
    """Load a checkpoint's backbone weights into ``algorithm.model.backbone`` strictly.

    Accepts clbox checkpoints (``model.backbone.*``) and mmpretrain ones
    (``backbone.*``); the projector, predictor and anything else are ignored.

    Returns:
        list[str]: The loaded keys (backbone-relative).

    Raises:
        BackboneMismatchError: No backbone keys, missing or unexpected keys, or shapes
            that differ, naming the first few keys and the fix.
    """
    state = checkpoint.get('state_dict', checkpoint)
    backbone = algorithm.model.backbone
    for prefix in BACKBONE_PREFIXES:
        sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if sub:
            break
    else:
        raise BackboneMismatchError(
            f'checkpoint "{path}" has no backbone weights (no key starts with '
            f'{" or ".join(BACKBONE_PREFIXES)}; first keys: {list(state)[:3]}). Give a '
            'checkpoint written by clbox or mmpretrain training of this model.')
    own = backbone.state_dict()
    missing = [k for k in own if k not in sub]
    unexpected = [k for k in sub if k not in own]
    shapes = [f'{k} (checkpoint {tuple(sub[k].shape)}, config {tuple(own[k].shape)})'
              for k in own if k in sub and tuple(sub[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            parts.append(f'shape mismatch for {", ".join(shapes[:3])}')
        if missing:
            parts.append(f'{len(missing)} backbone keys missing (e.g. {missing[:3]})')
        if unexpected:
            parts.append(f'{len(unexpected)} unexpected (e.g. {unexpected[:3]})')
        raise BackboneMismatchError(
            f'the backbone in checkpoint "{path}" does not match the config\'s '
            f'{type(backbone).__name__}: {"; ".join(parts)}. Probe it with the config that '
            'trained it (same model.model.backbone).')
    backbone.load_state_dict(sub, strict=True)
    return list(sub)


def cache_path(cache_dir: str, checkpoint: str, split: str) -> str:
    """Where a checkpoint's probe features of one split are cached."""
    stem = osp.splitext(osp.basename(checkpoint))[0]
    return osp.join(cache_dir, f'{stem}.{split}.pt')


def cached_features(cache_file: Optional[str], compute, key: dict):
    """``compute()``'s (features, labels), read from ``cache_file`` when it holds the
    same ``key`` (checkpoint size and mtime, dataset length), written there atomically
    otherwise."""
    from clbox.engine.checkpoint_io import atomic_replace
    if cache_file and osp.isfile(cache_file):
        saved = torch.load(cache_file, map_location='cpu', weights_only=True)
        if saved.get('key') == key:
            return saved['feats'], saved['labels']
    feats, labels = compute()
    if cache_file:
        os.makedirs(osp.dirname(cache_file) or '.', exist_ok=True)
        blob = dict(key=key, feats=feats.cpu(), labels=labels.cpu())
        atomic_replace(cache_file, lambda tmp: torch.save(blob, tmp))
    return feats, labels
