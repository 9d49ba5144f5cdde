"""A temporally correlated stream made from still images: each source image becomes a short
"video" of near-duplicate frames.

The small-scale analogue of Kinetics frames for continuous self-supervised learning
(``../shared/specs/continuous-ssl.md`` section 6): what makes a FIFO buffer fail on video is
that it holds few sources (capacity / frames per source), all near-duplicates, while the
stream has many more. Frame ``t`` of source ``s`` (stream index ``s * frames + t``) is the
source image moved along a smooth random walk of shift, zoom and rotation, seeded per
source, so every read of an index gives the same frame.
"""
from typing import Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset

from clbox.registry import DATASETS
from .base import build_dataset


@DATASETS.register_module()
class PseudoVideoStream(BaseDataset):
    """``num_sources`` images of an in-memory dataset, ``frames`` frames each.

    Args:
        source (dict | ArrayDataset): The images (e.g. ``FashionMNIST``); its pipeline is
            ignored, ``pipeline`` applies to the frames.
        frames (int): Frames per source (L). Defaults to 16.
        num_sources (int, optional): Sources drawn (seeded) from ``source``. Defaults to
            all of them, in order.
        max_shift (float): Largest shift, in pixels. Defaults to 3.
        max_zoom (float): Largest relative zoom (0.1: 0.9x to 1.1x). Defaults to 0.1.
        max_angle (float): Largest rotation, in degrees. Defaults to 10.
        seed (int): Seed of the choice of sources and of the walks. Defaults to 0.
        pipeline (list): mm transforms for each frame. Defaults to [].
    """

    def __init__(self, source, frames: int = 16, num_sources: Optional[int] = None,
                 max_shift: float = 3.0, max_zoom: float = 0.1, max_angle: float = 10.0,
                 seed: int = 0, pipeline: Sequence = (), **kwargs):
        if frames < 1:
            raise ValueError(f'PseudoVideoStream: frames must be >= 1, got {frames}.')
        src = build_dataset(source) if isinstance(source, dict) else source
        if not hasattr(src, 'images'):
            raise TypeError(f'PseudoVideoStream needs an in-memory image dataset (an '
                            f'ArrayDataset such as FashionMNIST), got {type(src).__name__}.')
        images, labels = src.images, src.get_gt_labels()
        if num_sources is not None:
            if num_sources > len(images):
                raise ValueError(f'PseudoVideoStream: num_sources={num_sources} but the '
                                 f'source has {len(images)} images.')
            pick = np.sort(np.random.RandomState(seed).choice(len(images), num_sources,
                                                              replace=False))
            images, labels = images[pick], labels[pick]
        self._images, self._labels = images, labels
        self.frames, self.seed = int(frames), int(seed)
        self.max_shift, self.max_zoom, self.max_angle = max_shift, max_zoom, max_angle
        self._walks = {}  # source -> its walk (drawn once: half a frame's cost otherwise)
        kwargs.setdefault('serialize_data', False)
        super().__init__(metainfo=getattr(src, 'metainfo', None), pipeline=list(pipeline),
                         **kwargs)

    def load_data_list(self):
        return [dict(source=s, frame=t) for s in range(len(self._images))
                for t in range(self.frames)]

    def source_of(self, idx: int) -> int:
        """The source image of stream index ``idx``."""
        return int(self.data_list[int(idx)]['source'])

    def walk(self, source: int) -> np.ndarray:
        """(frames, 4) shift x, shift y, zoom, angle of a source's frames: a random walk
        started at rest, steps scaled so the walk spans about its range, reflected into
        range. Drawn once per source and kept."""
        cached = self._walks.get(int(source))
        if cached is not None:
            return cached
        rng = np.random.RandomState((self.seed * 1_000_003 + int(source)) % (2 ** 32))
        limits = np.array([self.max_shift, self.max_shift, self.max_zoom, self.max_angle])
        steps = rng.randn(self.frames, 4) * limits * (2.0 / np.sqrt(max(self.frames, 1)))
        steps[0] = 0
        path = np.cumsum(steps, 0)
        # reflect into [-limit, limit]
        span = 2 * np.maximum(limits, 1e-12)
        path = np.abs((path + limits) % (2 * span) - span) - limits
        path.setflags(write=False)
        self._walks[int(source)] = path
        return path

    def frame(self, source: int, t: int) -> np.ndarray:
        """The (H, W, C) uint8 frame ``t`` of ``source``."""
        import cv2
        image = self._images[source]
        dx, dy, zoom, angle = self.walk(source)[t]
        h, w = image.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0 + zoom)
        matrix[:, 2] += (dx, dy)
        out = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return out.reshape(h, w, -1)

    def get_data_info(self, idx: int) -> dict:
        entry = self.data_list[idx]
        img = self.frame(entry['source'], entry['frame'])
        return dict(img=img, gt_label=int(self._labels[entry['source']]), sample_idx=int(idx),
                    source=entry['source'], img_shape=img.shape[:2], ori_shape=img.shape[:2])

    def get_gt_labels(self) -> np.ndarray:
        """The label of every frame (its source's)."""
        return self._labels[[d['source'] for d in self.data_list]]
