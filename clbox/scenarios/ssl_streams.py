"""Image streams for continuous self-supervised learning: file lists, memory-mapped file
lists and Kinetics-style frame folders.

The formats and rules of the continuous-SSL reference (Purushwalkam et al., ECCV 2022;
``senthilps8/continuous_ssl_problem``, ``datasets/imagelistdataset.py``):

* a **file list**: one image path per line (anything after a space is ignored);
* a **memory-mapped file list**: fixed-width byte strings (``S120``), one per image, read
  lazily and read-only (``MemMapImageListDataset``);
* **frame folders**: a list of ``<video_dir> <num_frames>`` lines, frames named
  ``001.jpeg, 002.jpeg, ...`` (1-based); every video owns exactly ``frames_per_video``
  stream indices per pass, ``[64 v, 64 v + 64)``, whatever its length
  (``KineticsSequentialDataset``).

Each sample is ``dict(img_path=..., sample_idx=stream index)`` before the mm pipeline (which
loads, augments, and for SimSiam makes two views). The stream index is what buffers store.
A missing image is never silently replaced by another one (the reference retries with a
random index, which corrupts MinRed's bookkeeping): ``missing='error'`` (default) stops at
the first missing file naming it, ``missing='skip'`` checks every file when the dataset is
built and drops the missing ones with a count in the log.
"""
import logging
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from clbox.registry import DATASETS


def _check_missing(mode: str) -> str:
    if mode not in ('error', 'skip'):
        raise ValueError(f"missing must be 'error' or 'skip', got {mode!r}.")
    return mode


def _read_lines(path: str, what: str) -> List[str]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} "{path}" does not exist; point ann_file (and '
                                'data_root) at the stream\'s list file.')
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


class _StreamDataset(BaseDataset):
    """Shared loading rules: paths under ``data_root``, the missing-file policy."""

    def __init__(self, missing: str = 'error', **kwargs):
        self.missing = _check_missing(missing)
        kwargs.setdefault('serialize_data', False)
        super().__init__(**kwargs)

    def _drop_missing(self, paths: List[str]) -> List[int]:
        """Positions of existing files (all, unless ``missing='skip'``)."""
        if self.missing != 'skip':
            return list(range(len(paths)))
        keep = [i for i, p in enumerate(paths) if osp.isfile(p)]
        if len(keep) < len(paths):
            first = next(p for p in paths if not osp.isfile(p))
            print_log(f'{type(self).__name__}: skipped {len(paths) - len(keep)} missing '
                      f'image(s) of {len(paths)} (e.g. {first}).', logger='current',
                      level=logging.WARNING)
        return keep

    def get_data_info(self, idx: int) -> dict:
        info = dict(self.data_list[idx], sample_idx=idx)
        if self.missing == 'error' and not osp.isfile(info['img_path']):
            raise FileNotFoundError(
                f'{type(self).__name__}: image {info["img_path"]} (stream index {idx}) is '
                "missing. Restore it, or set missing='skip' to drop missing images when the "
                'stream is built.')
        return info


@DATASETS.register_module()
class ImageListStream(_StreamDataset):
    """A stream of images from a file list, in file order (shuffle with the sampler).

    Args:
        ann_file (str): The list, one path per line (relative to ``data_root``).
        data_root (str): Folder the paths are relative to. Defaults to ''.
        pipeline (list): mm transforms. Defaults to [].
        missing (str): 'error' or 'skip' (see the module). Defaults to 'error'.
    """

    def __init__(self, ann_file: str, data_root: str = '', pipeline: Sequence = (),
                 missing: str = 'error', **kwargs):
        super().__init__(missing=missing, ann_file=ann_file, data_root=data_root,
                         pipeline=list(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        lines = _read_lines(self.ann_file, 'file list')
        paths = [osp.join(self.data_root, line.split(' ')[0]) for line in lines]
        return [dict(img_path=paths[i]) for i in self._drop_missing(paths)]


class _Memmap:
    """A lazily opened read-only memmap that pickles as its path (one map per worker)."""

    def __init__(self, path: str, dtype: str, count: int):
        self.path, self.dtype, self.count = path, dtype, count
        self._array = None

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            self._array = np.memmap(self.path, dtype=self.dtype, mode='r',
                                    shape=(self.count, ))
        return self._array

    def __getstate__(self):
        return dict(path=self.path, dtype=self.dtype, count=self.count)

    def __setstate__(self, state):
        self.__init__(state['path'], state['dtype'], state['count'])

    def __deepcopy__(self, memo):
        return self


@DATASETS.register_module()
class MemmapImageList(_StreamDataset):
    """A stream from a memory-mapped list of fixed-width byte strings (the reference's
    ``.memmap`` lists of Flickr / ImageNet paths; 12.7M entries stay on disk).

    Args:
        ann_file (str): The ``.memmap`` file (relative to ``data_root`` or absolute).
        data_root (str): Folder image paths are relative to. Defaults to ''.
        width (int): Bytes per entry (``S120`` -> 120). Defaults to 120.
        num_files (int, optional): Entries; defaults to the file size / ``width``.
        replace (tuple[str, str], optional): A substring replacement applied to every
            path (the reference replaces ``.jpg`` with ``-256p.jpg`` for its resized
            Flickr copies). Defaults to None.
        pipeline (list): mm transforms. Defaults to [].
        missing (str): 'error' (checked at load). 'skip' is refused: checking millions of
            files up front is what a converter should do. Defaults to 'error'.
    """

    def __init__(self, ann_file: str, data_root: str = '', width: int = 120,
                 num_files: Optional[int] = None, replace: Optional[Sequence[str]] = None,
                 pipeline: Sequence = (), missing: str = 'error', **kwargs):
        if missing != 'error':
            raise ValueError("MemmapImageList supports missing='error' only: write a "
                             'list of the existing files (and its memmap) instead.')
        self.width, self.num_files = int(width), num_files
        self.replace = tuple(replace) if replace else None
        super().__init__(missing=missing, ann_file=ann_file, data_root=data_root,
                         pipeline=list(pipeline), lazy_init=True, **kwargs)
        path = self.ann_file
        if not osp.isfile(path):
            raise FileNotFoundError(f'memmap file list "{path}" does not exist.')
        size = osp.getsize(path)
        if size % self.width:
            raise ValueError(f'"{path}" holds {size} bytes, not a multiple of width '
                             f'{self.width}: set width to its entry size (S120 -> 120).')
        count = size // self.width if num_files is None else int(num_files)
        if count * self.width > size:
            raise ValueError(f'"{path}" holds {size // self.width} entries of {self.width} '
                             f'bytes, fewer than num_files={num_files}.')
        self._list = _Memmap(path, f'S{self.width}', count)
        self._fully_initialized = True

    def full_init(self):
        self._fully_initialized = True

    def __len__(self) -> int:
        return self._list.count

    def load_data_list(self) -> List[dict]:
        return []

    def get_data_info(self, idx: int) -> dict:
        if not 0 <= idx < len(self):
            raise IndexError(f'stream index {idx} out of range for {len(self)} entries.')
        name = self._list.array[idx].decode('utf-8').strip()
        if self.replace:
            name = name.replace(*self.replace)
        path = osp.join(self.data_root, name)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'MemmapImageList: image {path} (entry {idx} of {self.ann_file}) is missing; '
                'restore it or rebuild the list without it.')
        return dict(img_path=path, sample_idx=idx)


def write_memmap_list(paths: Sequence[str], out: str, width: int = 120) -> None:
    """Write ``paths`` as a memmap file list of ``width``-byte entries (what
    ``MemmapImageList`` reads).

    Raises:
        ValueError: If a path does not fit in ``width`` bytes.
    """
    encoded = [p.encode('utf-8') for p in paths]
    too_long = [p for p in encoded if len(p) > width]
    if too_long:
        raise ValueError(f'{len(too_long)} path(s) longer than {width} bytes, e.g. '
                         f'{too_long[0][:80]!r}; use a larger width.')
    array = np.array(encoded, dtype=f'S{width}')
    tmp = f'{out}.tmp-{os.getpid()}'
    array.tofile(tmp)
    os.replace(tmp, out)


@DATASETS.register_module()
class KineticsFrames(_StreamDataset):
    """Videos as folders of frames; ``frames_per_video`` stream indices per video.

    Index ``i`` belongs to video ``v = i // frames_per_video``. With
    ``sampling='consecutive'`` it is frame ``start_v + i % frames_per_video`` (clamped to
    the last frame), ``start_v`` uniform in ``[0, max(n_v - frames_per_video - 1, 1))``
    and drawn once per video and ``epoch`` from ``seed`` (the reference draws it when the
    block's first index loads, in whichever worker loads it). With ``sampling='random'``
    every load picks a uniformly random frame of the video (the README's Kinetics runs).
    Pair it with ``ChunkSampler(block=frames_per_video)`` for the correlated stream (each
    incoming batch one whole video) or a plain shuffle for the decorrelated source.

    Args:
        ann_file (str): ``<video_dir> <num_frames>`` per line.
        data_root (str): Folder the video dirs are relative to. Defaults to ''.
        frames_per_video (int): Indices per video per pass. Defaults to 64.
        sampling (str): 'consecutive' or 'random'. Defaults to 'consecutive'.
        filename_tmpl (str): Frame names (1-based). Defaults to ``'{:03d}.jpeg'``.
        seed (int): Seed of the consecutive starts. Defaults to 0.
        pipeline (list): mm transforms. Defaults to [].
    """

    def __init__(self, ann_file: str, data_root: str = '', frames_per_video: int = 64,
                 sampling: str = 'consecutive', filename_tmpl: str = '{:03d}.jpeg',
                 seed: int = 0, pipeline: Sequence = (), **kwargs):
        if sampling not in ('consecutive', 'random'):
            raise ValueError(f"sampling must be 'consecutive' or 'random', got {sampling!r}.")
        if frames_per_video < 1:
            raise ValueError(f'frames_per_video must be >= 1, got {frames_per_video}.')
        self.frames_per_video, self.sampling = int(frames_per_video), sampling
        self.filename_tmpl, self.seed, self.epoch = filename_tmpl, int(seed), 0
        super().__init__(missing='error', ann_file=ann_file, data_root=data_root,
                         pipeline=list(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        videos = []
        for n, line in enumerate(_read_lines(self.ann_file, 'video list'), 1):
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit() or int(parts[1]) < 1:
                raise ValueError(f'{self.ann_file} line {n}: expected "<video_dir> '
                                 f'<num_frames>", got {line!r}.')
            videos.append(dict(video_dir=osp.join(self.data_root, parts[0]),
                               num_frames=int(parts[1])))
        return videos

    def __len__(self) -> int:
        if not self._fully_initialized:
            self.full_init()
        return len(self.data_list) * self.frames_per_video

    def set_epoch(self, epoch: int) -> None:
        """A new pass draws new consecutive starts."""
        self.epoch = int(epoch)

    def video_of(self, idx: int) -> int:
        """The video (source) a stream index belongs to."""
        return int(idx) // self.frames_per_video

    def frame_of(self, idx: int) -> int:
        """0-based frame number index ``idx`` reads now."""
        video = self.data_list[self.video_of(idx)]
        n = video['num_frames']
        if self.sampling == 'random':
            return int(np.random.randint(0, n))
        rng = np.random.RandomState((self.seed * 1_000_003 + self.epoch * 7_919
                                     + self.video_of(idx)) % (2 ** 32))
        start = int(rng.randint(0, max(n - self.frames_per_video - 1, 1)))
        return min(start + int(idx) % self.frames_per_video, n - 1)

    def get_data_info(self, idx: int) -> dict:
        if not 0 <= idx < len(self):
            raise IndexError(f'stream index {idx} out of range for {len(self)}.')
        video = self.data_list[self.video_of(idx)]
        frame = self.frame_of(idx)
        path = osp.join(video['video_dir'], self.filename_tmpl.format(frame + 1))
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{video["video_dir"]} should hold {video["num_frames"]} frames '
                f'({self.filename_tmpl.format(1)} ... '
                f'{self.filename_tmpl.format(video["num_frames"])}) but frame {frame + 1} '
                f'({path}) is missing: fix its count in {self.ann_file} or extract the '
                'frames again.')
        return dict(img_path=path, sample_idx=int(idx), video=self.video_of(idx))
