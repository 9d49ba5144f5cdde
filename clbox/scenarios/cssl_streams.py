"""Streams of the continuous self-supervised learning experiments: class-sequential image
lists, the 4-split continual ImageNet stream, an unlabeled-stream scenario and a sampler
that deals whole chunks for epoch-based (conventional) training.

Reference: Purushwalkam, Morgado and Gupta, "The Challenges of Continuous Self-Supervised
Learning", ECCV 2022 (``senthilps8/continuous_ssl_problem``; ``HEAD`` = ``942fa0f``). The
file formats and missing-file rules are those of :mod:`clbox.scenarios.ssl_streams`: a
missing image is never replaced by another one (the reference retries with a random index,
``datasets/imagelistdataset.py`` lines 240-246 and 411-418, which corrupts a buffer's
bookkeeping); ``missing='error'`` stops at the first missing file and names it,
``missing='skip'`` drops missing files when the stream is built. Every sample's
``sample_idx`` is its stream index (what the buffers store).
"""
import bisect
import os.path as osp
import random
from typing import Dict, List, Optional, Sequence

import numpy as np

from clbox.registry import DATA_SAMPLERS, DATASETS, SCENARIOS
from .base import BaseScenario, Experience, build_dataset, dataset_labels
from .ssl_streams import _Memmap, _read_lines, _StreamDataset
from .stream_sampler import ChunkSampler


def _encode(names: Sequence[str]) -> np.ndarray:
    """Paths as one fixed-width byte array (millions of entries stay compact)."""
    return np.array([n.encode('utf-8') for n in names], dtype=bytes) if len(names) \
        else np.zeros(0, dtype='S1')


def _parent_dir(name: str, where: str) -> str:
    parts = name.replace('\\', '/').split('/')
    if len(parts) < 2 or not parts[-2]:
        raise ValueError(f'{where}: "{name}" has no class folder; the class of an image is '
                         'the name of the folder that holds it (<class>/<image>).')
    return parts[-2]


def class_sequential_order(labels: Sequence[int], run_length: int, seed: int) -> List[int]:
    """The order of ``ClassSequentialDataset`` (``datasets/imagelistdataset.py`` lines
    183-203), drawn from ``random.Random(seed)``.

    1. Group positions by class, classes in order of first appearance (line 185-187).
    2. Shuffle each class's positions, in that order of classes (lines 190-192).
    3. Until no class is left: pick one of the remaining classes uniformly (whatever its
       number of images left, line 197), append its next ``run_length`` positions (fewer
       at its end, line 198) and drop the class once empty (lines 202-203).

    The draws are the reference's under ``random.seed(seed)``: ``random.sample(keys, 1)``
    and ``Random.randrange(len(keys))`` both take ``keys[_randbelow(len(keys))]``, and the
    remaining classes keep their insertion order as dict keys do.

    Args:
        labels (Sequence[int]): Label of every entry, in file order.
        run_length (int): Images of one class in a row (``n_cls_samples: 64`` in
            ``configs/simsiam/data/fullimnet_seq.yaml`` line 5). <= 0 keeps file order
            (lines 181-183).
        seed (int): Seed of the shuffles and class draws.

    Returns:
        list[int]: Positions into ``labels``, in stream order.
    """
    if run_length is None or run_length <= 0:
        return list(range(len(labels)))
    rng = random.Random(seed)
    per_class: Dict[int, List[int]] = {}
    for pos, label in enumerate(labels):
        per_class.setdefault(int(label), []).append(pos)
    for positions in per_class.values():
        rng.shuffle(positions)
    alive = list(per_class)               # remaining classes, in insertion order
    head = dict.fromkeys(alive, 0)
    order: List[int] = []
    while alive:
        j = rng.randrange(len(alive))
        label = alive[j]
        start = head[label]
        run = per_class[label][start:start + run_length]
        order.extend(run)
        head[label] = start + len(run)
        if head[label] >= len(per_class[label]):
            alive.pop(j)
    return order


@DATASETS.register_module()
class ClassSequentialStream(_StreamDataset):
    """Images of one class in runs of ``run_length``, classes drawn at random: the
    reference's ``ClassSequentialDataset`` (``datasets/imagelistdataset.py`` lines 155-277,
    ``data.type='class_sequential'`` in ``worker_buffered_simsiam.py`` lines 178-182, the
    ``configs/simsiam/data/fullimnet_seq.yaml`` stream: Full ImageNet, 64 in a row,
    ``shuffle: False`` so the sampler keeps this order).

    * The list holds one image path per line (line 172; anything after a space is ignored
      here, as in :class:`~clbox.scenarios.ImageListStream`; the reference takes the whole
      line).
    * An image's class is the name of its folder, ``path.split('/')[-2]`` (line 175); class
      ids are the positions of the names in sorted order (lines 176-178), given as
      ``gt_label``.
    * The order is :func:`class_sequential_order`. The reference draws it from the
      unseeded global ``random`` (``main.py`` lines 68-69 and 93-94 turn the default seed 0
      into no seed) and broadcasts rank 0's list (lines 208-215); here ``seed`` fixes it
      and every rank computes the same list.

    Args:
        ann_file (str): The list (relative to ``data_root`` or absolute).
        data_root (str): Folder the paths are relative to. Defaults to ''.
        run_length (int): Images of a class in a row (``n_cls_samples``). <= 0 keeps the
            file order. Defaults to 64.
        seed (int): Seed of the order. Defaults to 0.
        missing (str): 'error' or 'skip' (missing images dropped before the order is
            drawn). Defaults to 'error'.
        pipeline (list): mm transforms. Defaults to [].
    """

    def __init__(self, ann_file: str, data_root: str = '', run_length: int = 64,
                 seed: int = 0, missing: str = 'error', pipeline: Sequence = (), **kwargs):
        self.run_length, self.seed = int(run_length or 0), int(seed)
        super().__init__(missing=missing, ann_file=ann_file, data_root=data_root,
                         pipeline=list(pipeline), lazy_init=True, **kwargs)
        names = [line.split(' ')[0] for line in _read_lines(self.ann_file, 'file list')]
        keep = self._drop_missing([osp.join(self.data_root, n) for n in names])
        names = [names[i] for i in keep]
        folders = [_parent_dir(n, self.ann_file) for n in names]
        classes = sorted(set(folders))
        class_id = {c: i for i, c in enumerate(classes)}
        labels = np.array([class_id[f] for f in folders], dtype=np.int64)
        order = np.array(class_sequential_order(labels, self.run_length, self.seed),
                         dtype=np.int64)
        self._names = _encode([names[i] for i in order])
        self._labels = labels[order] if len(order) else labels
        self._metainfo['classes'] = tuple(classes)
        self._fully_initialized = True

    def full_init(self):
        self._fully_initialized = True

    def load_data_list(self) -> List[dict]:
        return []

    def __len__(self) -> int:
        return len(self._names)

    def get_gt_labels(self) -> np.ndarray:
        """The class id of every stream position."""
        return self._labels.copy()

    def get_data_info(self, idx: int) -> dict:
        if not 0 <= idx < len(self):
            raise IndexError(f'stream index {idx} out of range for {len(self)} entries.')
        path = osp.join(self.data_root, self._names[idx].decode('utf-8'))
        if self.missing == 'error' and not osp.isfile(path):
            raise FileNotFoundError(
                f'ClassSequentialStream: image {path} (stream index {idx}, listed in '
                f"{self.ann_file}) is missing. Restore it, or set missing='skip' to drop "
                'missing images when the stream is built.')
        return dict(img_path=path, sample_idx=int(idx), gt_label=int(self._labels[idx]))


class _Split:
    """One split's entries: a text list (byte array) or a lazily opened memmap."""

    def __init__(self, path: str, width: int, missing: str, data_root: str, drop):
        self.path = path
        if path.endswith('.memmap'):
            if missing != 'error':
                raise ValueError(f"ContinualSplitStream: missing='skip' needs text lists, "
                                 f'but split "{path}" is a memmap; write a list of the '
                                 'existing files (and its memmap) instead.')
            if not osp.isfile(path):
                raise FileNotFoundError(f'split list "{path}" does not exist; point splits '
                                        '(and data_root) at the split lists.')
            size = osp.getsize(path)
            if size % width:
                raise ValueError(f'"{path}" holds {size} bytes, not a multiple of width '
                                 f'{width}: set width to its entry size (S120 -> 120).')
            self.entries = _Memmap(path, f'S{width}', size // width)
            self.count = size // width
        else:
            names = [line.split(' ')[0] for line in _read_lines(path, 'split list')]
            keep = drop([osp.join(data_root, n) for n in names])
            self.entries = _encode([names[i] for i in keep])
            self.count = len(self.entries)

    def name(self, pos: int) -> str:
        entries = self.entries.array if isinstance(self.entries, _Memmap) else self.entries
        return entries[pos].decode('utf-8').strip()


@DATASETS.register_module()
class ContinualSplitStream(_StreamDataset):
    """Splits of a dataset streamed one after the other, in a given order, each in file
    order: the continual Full-ImageNet stream of the reference's section-6 runs.

    The reference streams ``fullimagenet_{0123,0312,3120}.memmap``, the 4 splits already
    concatenated in that order (README, "Continual Full ImageNet"; 12,757,384 entries,
    ``configs/simsiam/data/memmap_sequential.yaml`` lines 3-6), without shuffling
    (``shuffle: False``, line 10). Here each split has its own list and ``order`` names the
    concatenation, so the stream knows where each split ends (the 25/50/75/100 % points
    of the README's accuracy and forgetting columns when the splits are equal).

    ``subsample=k`` keeps every k-th entry of the concatenated stream: stream index ``i``
    is entry ``k i`` and the stream has ``total // k`` indices, as HEAD's
    ``MemMapImageListDataset`` (``index * self.subsample``, line 396; ``num_files //
    subsample``, line 449; the README's buffer runs use ``data.subsample=4``). Its
    ``meta['index']`` is ``k i``; ``sample_idx`` here is the stream index ``i``.

    Each sample carries ``split`` (the split id, an int of ``order``) and ``stage`` (its
    position in the stream order, 0 for the first split); add them to ``PackInputs``'
    ``meta_keys`` to see them in the data samples.

    Args:
        splits (Sequence[str]): The list of split 0, 1, ... (relative to ``data_root`` or
            absolute): a ``.memmap`` of fixed-width byte strings (see
            :class:`~clbox.scenarios.MemmapImageList`) or a text list, one path per line.
        order (str): The split ids in stream order, a permutation of ``'0123'`` for 4
            splits (the README's ``'0123'``, ``'0312'``, ``'3120'``). Defaults to '0123'.
        data_root (str): Folder the image paths (and relative lists) are relative to.
            Defaults to ''.
        subsample (int): Keep every ``subsample``-th entry. Defaults to 1.
        width (int): Bytes per memmap entry (``fn_dtype: "S120"``). Defaults to 120.
        replace (tuple[str, str], optional): A substring replacement applied to every path
            (the reference's memmap loader replaces ``.jpg`` by ``-256p.jpg``, line 407,
            which leaves ImageNet's ``.JPEG`` names unchanged). Defaults to None.
        missing (str): 'error', or 'skip' (text lists only). Defaults to 'error'.
        pipeline (list): mm transforms. Defaults to [].

    Raises:
        ValueError: If ``order`` is not a permutation of the split ids.
    """

    def __init__(self, splits: Sequence[str], order: str = '0123', data_root: str = '',
                 subsample: int = 1, width: int = 120,
                 replace: Optional[Sequence[str]] = None, missing: str = 'error',
                 pipeline: Sequence = (), **kwargs):
        if isinstance(splits, str) or not splits:
            raise ValueError('ContinualSplitStream: splits must be a list of split lists '
                             f'(split 0 first), got {splits!r}.')
        self.order = self.check_order(order, len(splits))
        if isinstance(subsample, bool) or int(subsample) != subsample or subsample < 1:
            raise ValueError(f'subsample must be a positive integer, got {subsample!r}.')
        self.subsample, self.width = int(subsample), int(width)
        self.replace = tuple(replace) if replace else None
        super().__init__(missing=missing, data_root=data_root, pipeline=list(pipeline),
                         lazy_init=True, **kwargs)
        paths = [s if osp.isabs(s) or not self.data_root else osp.join(self.data_root, s)
                 for s in splits]
        self.split_paths = paths
        loaded = [_Split(p, self.width, self.missing, self.data_root, self._drop_missing)
                  for p in paths]
        #: Split id of each stage (position in the stream order).
        self.stage_splits = [int(c) for c in self.order]
        self._stages = [loaded[s] for s in self.stage_splits]
        self._starts = np.cumsum([0] + [s.count for s in self._stages]).tolist()
        self._len = self._starts[-1] // self.subsample
        self._fully_initialized = True

    @staticmethod
    def check_order(order, num_splits: int) -> str:
        """``order`` as a string, checked to be a permutation of ``0 .. num_splits - 1``."""
        ids = ''.join(str(i) for i in range(num_splits))
        if not isinstance(order, str):
            hint = (f' (a config option parsed as a number loses leading zeros: quote it, '
                    f'order="\'{order}\'")' if isinstance(order, int) else '')
            raise ValueError(f'order must be a string of split ids such as {ids!r}, got '
                             f'{order!r}{hint}.')
        if num_splits > 10 or sorted(order) != sorted(ids):
            raise ValueError(f'order {order!r} is not a permutation of the split ids {ids!r} '
                             f'of the {num_splits} splits (e.g. {ids!r} or '
                             f'{ids[::-1]!r}): every split must appear exactly once.')
        return order

    def full_init(self):
        self._fully_initialized = True

    def load_data_list(self) -> List[dict]:
        return []

    def __len__(self) -> int:
        return self._len

    def _locate(self, idx: int):
        if not 0 <= idx < len(self):
            raise IndexError(f'stream index {idx} out of range for {len(self)} entries.')
        pos = int(idx) * self.subsample
        stage = bisect.bisect_right(self._starts, pos) - 1
        return stage, pos - self._starts[stage]

    def split_of(self, idx: int) -> int:
        """The split id of stream index ``idx``."""
        return self.stage_splits[self._locate(idx)[0]]

    def stage_of(self, idx: int) -> int:
        """The position, in the stream order, of the split of stream index ``idx``."""
        return self._locate(idx)[0]

    def boundaries(self) -> List[int]:
        """Stream positions where each split ends (exclusive), in stream order; the last
        is ``len(self)``. Equal splits give the 25/50/75/100 % points."""
        k = self.subsample
        return [min(-(-end // k), len(self)) for end in self._starts[1:]]

    def get_data_info(self, idx: int) -> dict:
        stage, local = self._locate(idx)
        split = self._stages[stage]
        name = split.name(local)
        if self.replace:
            name = name.replace(*self.replace)
        path = osp.join(self.data_root, name)
        if self.missing == 'error' and not osp.isfile(path):
            raise FileNotFoundError(
                f'ContinualSplitStream: image {path} (stream index {idx}, entry {local} of '
                f'split {self.stage_splits[stage]}, {split.path}) is missing. Restore it, '
                "or drop it from the list (missing='skip' does so for text lists).")
        return dict(img_path=path, sample_idx=int(idx), split=self.stage_splits[stage],
                    stage=stage)


@SCENARIOS.register_module()
class SelfSupStream(BaseScenario):
    """An unlabeled training stream and a labelled test stream (the probe's).

    Training streams of continuous self-supervised learning (Flickr memmaps, Kinetics
    frames, continual ImageNet) carry no labels and may hold millions of entries, so the
    training experiences are not scanned for classes (``classes=()``); only the test
    datasets are (``get_gt_labels``, e.g. mmpretrain's ``ImageNet``).

    Args:
        train (dict | Dataset | list): The stream, or one stream per experience. One
            experience is one single pass with one buffer schedule: the reference streams
            its continual splits as one list.
        test (dict | Dataset | list): Labelled test set(s), one experience each.
    """

    def __init__(self, train, test):
        trains = list(train) if isinstance(train, (list, tuple)) else [train]
        tests = list(test) if isinstance(test, (list, tuple)) else [test]
        self.train_stream = [Experience(i, build_dataset(c), name=f'train/{i}')
                             for i, c in enumerate(trains)]
        self.test_stream = []
        for i, cfg in enumerate(tests):
            dataset = build_dataset(cfg)
            classes = tuple(int(c) for c in np.unique(dataset_labels(dataset)))
            self.test_stream.append(Experience(i, dataset, classes, name=f'test/{i}'))


@DATA_SAMPLERS.register_module()
class EpochChunkSampler(ChunkSampler):
    """:class:`~clbox.scenarios.ChunkSampler` for epoch-based training: built from the
    dataset (a ``train_dataloader.sampler``), reshuffled every epoch.

    The reference's conventional (buffer-free) runs read the stream through the same
    ``ResumableDistributedSampler`` as the buffer runs (``worker_buffered_simsiam.py``
    lines 198-215): whole per-GPU batches dealt round-robin, and with ``block`` (the
    ``n_seq_samples: 64`` of ``configs/simsiam/data/kinetics.yaml``) every per-GPU batch
    one whole video, videos in random order ("Kinetics, sequential, 5 epochs"). Its
    ``ResumableBatchSampler.set_epoch`` never reaches the inner sampler
    (``datasets/mysampler.py`` lines 268-276: the sampler is neither a ``RandomSampler``
    nor a ``DistributedSampler``), so every epoch there repeats epoch 0's order;
    ``same_order_every_epoch=True`` does the same.

    Args:
        dataset (Dataset): The stream.
        batch_size (int): Per-process batch (must equal ``train_dataloader.batch_size``).
        shuffle (bool): Shuffle. Defaults to True.
        seed (int): Seed of the permutations. Defaults to 0.
        block (int, optional): Keep blocks of this many consecutive indices whole.
            Defaults to None.
        reference_truncation (bool): As :class:`ChunkSampler`. Defaults to True.
        same_order_every_epoch (bool): Ignore ``set_epoch`` (the reference's behaviour).
            Defaults to False.
    """

    def __init__(self, dataset, batch_size: int, shuffle: bool = True, seed: int = 0,
                 block: Optional[int] = None, reference_truncation: bool = True,
                 same_order_every_epoch: bool = False):
        super().__init__(len(dataset), batch_size, shuffle=shuffle, seed=seed, block=block,
                         reference_truncation=reference_truncation)
        self.same_order_every_epoch = bool(same_order_every_epoch)
        self._cache = None     # (epoch, this rank's indices): len() and iter() share one

    def set_epoch(self, epoch: int) -> None:
        if not self.same_order_every_epoch:
            super().set_epoch(epoch)

    def indices(self) -> List[int]:
        """This rank's stream for the current epoch (computed once per epoch)."""
        if self._cache is None or self._cache[0] != self.epoch:
            self._cache = (self.epoch, np.asarray(super().indices(), dtype=np.int64))
        return self._cache[1].tolist()

    def __len__(self) -> int:
        if self.block:     # the blocks kept depend on the permutation
            if self._cache is None or self._cache[0] != self.epoch:
                self.indices()
            return len(self._cache[1])
        b, w = self.batch_size, self.world_size
        return self.length // (b * w) * b

