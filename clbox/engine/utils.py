"""Small engine helpers: data loaders without deep copies, RNG state, atomic writes."""
import json
import os
import os.path as osp
import random
import tempfile
from functools import partial
from typing import Any, Optional

import numpy as np
import torch
from mmengine.dataset import worker_init_fn
from mmengine.dist import get_rank
from mmengine.model import is_model_wrapper
from torch.utils.data import DataLoader

from clbox.registry import DATA_SAMPLERS, FUNCTIONS


def unwrap(model):
    """The bare model inside a DDP/FSDP wrapper."""
    return model.module if is_model_wrapper(model) else model


def build_loader(cfg: dict, dataset, seed: int, shuffle: Optional[bool] = None,
                 batch_size: Optional[int] = None, pad: bool = True,
                 persistent: bool = True) -> DataLoader:
    """Build a DataLoader for a built dataset from a ``*_dataloader`` config.

    Unlike ``Runner.build_dataloader`` this neither deep-copies the dataset nor draws a
    sampler seed from the global RNG (which would make a resumed run diverge). In-memory
    datasets whose pipeline only packs are fetched a whole batch at a time
    (:mod:`clbox.scenarios.batched`); the others run their pipeline per sample.

    ``batch_fetch=False`` in the config turns the batched fetch off (same values, one
    sample at a time). Loader defaults (each overridable): ``num_workers='auto'`` is 0 for
    batch-fetched datasets (worker processes would only add copies) and
    ``min(4, CPUs per process)`` for the others (images read and augmented per sample);
    ``persistent_workers`` is on when there are workers and ``persistent``;
    ``pin_memory='auto'`` is on when CUDA is available.

    Args:
        cfg (dict): ``batch_size``, ``num_workers``, ``sampler``, ``collate_fn``, ... The
            ``dataset`` key, if any, is ignored.
        dataset (Dataset): The dataset.
        seed (int): Seed of the sampler's shuffling and of the workers.
        shuffle (bool, optional): Overrides the sampler's ``shuffle``. Defaults to None.
        batch_size (int, optional): Overrides ``batch_size``. Defaults to None.
        pad (bool): Let a distributed sampler repeat samples so every rank gets as many
            (``round_up``); evaluation turns it off to count each sample once.
            Defaults to True.
        persistent (bool): Default of ``persistent_workers`` when the config does not say.
            Defaults to True.
    """
    from clbox.scenarios.batched import BatchFetchLoader, PackedAwareCollate
    cfg = {k: v for k, v in cfg.items() if k != 'dataset'}
    sampler_cfg = dict(cfg.pop('sampler', None) or dict(type='DefaultSampler', shuffle=True))
    if shuffle is not None:
        sampler_cfg['shuffle'] = shuffle
    sampler_cfg.setdefault('seed', seed)
    if not pad and sampler_cfg.get('type') == 'DefaultSampler':
        sampler_cfg['round_up'] = False
    sampler = DATA_SAMPLERS.build(sampler_cfg, default_args=dict(dataset=dataset))
    dataset, collate_fn, batched, num_workers, pin_memory = _loader_parts(cfg, dataset)
    persistent_workers = cfg.pop('persistent_workers', persistent) and num_workers > 0
    cfg.pop('batch_sampler', None)
    init_fn = partial(worker_init_fn, num_workers=num_workers, rank=get_rank(), seed=seed) \
        if num_workers > 0 else None
    loader_type = BatchFetchLoader if batched else DataLoader
    return loader_type(dataset, batch_size=batch_size or cfg.pop('batch_size', 1),
                       sampler=sampler, num_workers=num_workers,
                       collate_fn=PackedAwareCollate(collate_fn), worker_init_fn=init_fn,
                       pin_memory=pin_memory, persistent_workers=persistent_workers,
                       **{k: v for k, v in cfg.items() if k != 'batch_size'})


def build_batch_loader(cfg: dict, dataset, batch_sampler, seed: int) -> DataLoader:
    """A DataLoader over ``dataset`` whose batches of indices come from ``batch_sampler``
    (e.g. a buffer's update schedule), with the config's collate function, workers and
    pinning (see :func:`build_loader`; the config's ``sampler`` does not apply)."""
    from clbox.scenarios.batched import PackedAwareCollate
    cfg = {k: v for k, v in cfg.items() if k not in ('dataset', 'sampler', 'batch_size',
                                                     'batch_sampler', 'shuffle')}
    dataset, collate_fn, _, num_workers, pin_memory = _loader_parts(cfg, dataset)
    cfg.pop('persistent_workers', None)  # one pass: the workers live as long as the loader
    init_fn = partial(worker_init_fn, num_workers=num_workers, rank=get_rank(), seed=seed) \
        if num_workers > 0 else None
    # its own generator: creating the iterator draws no number from the global RNG, so
    # a pass resumed from a mid-pass checkpoint continues the saved RNG stream exactly
    generator = torch.Generator().manual_seed(int(seed) + get_rank())
    return DataLoader(dataset, batch_sampler=batch_sampler, num_workers=num_workers,
                      collate_fn=PackedAwareCollate(collate_fn), worker_init_fn=init_fn,
                      pin_memory=pin_memory, generator=generator, **cfg)


def _loader_parts(cfg: dict, dataset):
    """What both loader builders take from a config (popping the keys from ``cfg``): the
    dataset (a batch-fetch view when it can be fetched a batch at a time), the collate
    function, whether batches are fetched whole, the workers and pinning."""
    from clbox.scenarios.batched import BatchFetchView, can_fetch_batches
    collate_cfg = dict(cfg.pop('collate_fn', None) or dict(type='pseudo_collate'))
    collate_fn = FUNCTIONS.get(collate_cfg.pop('type'))
    if collate_cfg:
        collate_fn = partial(collate_fn, **collate_cfg)
    batched = bool(cfg.pop('batch_fetch', True)) and can_fetch_batches(dataset)
    if batched:
        dataset = BatchFetchView(dataset)
    num_workers = loader_workers(cfg.pop('num_workers', 'auto'), batched)
    pin_memory = cfg.pop('pin_memory', 'auto')
    pin_memory = torch.cuda.is_available() if pin_memory == 'auto' \
        else bool(pin_memory) and torch.cuda.is_available()
    return dataset, collate_fn, batched, num_workers, pin_memory


def loader_workers(num_workers, batched: bool) -> int:
    """Resolve ``num_workers`` (an int, or ``'auto'``: 0 for batch-fetched in-memory data,
    else up to 4 per process, within this process's share of the CPUs).

    Raises:
        ValueError: If ``num_workers`` is neither ``'auto'`` nor a non-negative int.
    """
    if num_workers == 'auto':
        if batched:
            return 0
        from clbox.dist import world
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') \
            else (os.cpu_count() or 1)
        return max(0, min(4, cpus // world()[1] - 1))
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"dataloader num_workers must be 'auto' or an integer >= 0, got "
                         f'{num_workers!r}.')
    return num_workers


def get_rng_state() -> dict:
    """Python, numpy and torch RNG states as plain lists and tensors."""
    np_state = np.random.get_state()
    return dict(python=random.getstate(), torch=torch.get_rng_state(),
                numpy=[np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]),
                       float(np_state[4])])


def set_rng_state(state: dict) -> None:
    """Restore what :func:`get_rng_state` returned."""
    random.setstate(state['python'])
    torch.set_rng_state(state['torch'])
    kind, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def atomic_write(path: str, write, mode: str = 'w') -> None:
    """Write a file through a unique temporary in the same folder, fsync and an atomic
    rename (:func:`clbox.engine.checkpoint_io.atomic_replace`): readers see the old file
    or the whole new one, and a full disk raises a ``DiskFullError`` naming the path.

    Args:
        path (str): Destination.
        write (callable): ``write(file_object)`` does the writing.
        mode (str): 'w' or 'wb'. Defaults to 'w'.
    """
    from .checkpoint_io import atomic_replace

    def _write(tmp):
        with open(tmp, mode) as f:
            write(f)

    atomic_replace(path, _write)


def dump_json(obj: Any, path: str) -> None:
    """Atomically write ``obj`` as indented JSON."""
    atomic_write(path, lambda f: json.dump(obj, f, indent=2, default=_to_builtin))


def _to_builtin(obj):
    if isinstance(obj, (np.generic,)):
        return obj.item()
    if isinstance(obj, (np.ndarray, torch.Tensor)):
        return obj.tolist()
    return str(obj)


def check_writable(folder: str) -> None:
    """Fail early, and clearly, when results could not be written to ``folder``."""
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix='.write-probe', dir=folder)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise PermissionError(
            f'work_dir "{folder}" is not writable ({e.strerror}). Pass a writable folder with '
            '--work-dir (or work_dir in the config); nothing was started.') from None


class reported:
    """Context manager for end-of-experience work that must not stop training (plots,
    results files, loggers): a failure is logged as one error line naming what failed,
    and training goes on (the experience is already checkpointed).

    Args:
        runner: The runner (its logger reports).
        what (str): What is being done, e.g. ``'write results.json'``.
    """

    def __init__(self, runner, what: str):
        self.runner, self.what = runner, what

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if kind is None or not issubclass(kind, Exception):
            return False
        self.runner.logger.error(
            f'could not {self.what}: {kind.__name__}: {error}. The experience is trained '
            'and checkpointed; training goes on.')
        return True
