"""Continual semantic segmentation scenarios (the MiB / PLOP protocol).

For step ``t`` with new classes ``C_t`` and old classes ``C_{0:t-1}``:

* **Training images**: those holding at least one pixel of ``C_t``. *Overlapped*: nothing
  else is required (old and future classes may appear). *Disjoint*: every class in the image
  must be background, old or new (no future classes). (MiB ``dataset/utils.py``
  ``filter_images``.)
* **Training labels**: pixels of old and future classes become background (0); 255 stays
  ignore. (PLOP keeps 255; the original MiB code maps it to 0 in training.)
* **Test**: experience ``t`` of the test stream holds the validation images with a pixel of
  ``C_t``; labels keep every class (remapped to model indices). The evaluator ignores the
  pixels of classes not seen yet, so the union of test experiences ``0..t`` is exactly MiB's
  test set of step ``t``.

Raw class ids are remapped to model indices in step order (``[0] + C_0 + C_1 ...``), which is
the identity for the standard orders and matters for ADE's ``b`` orders.
"""
import copy
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from PIL import Image

from clbox.registry import DATASETS, SCENARIOS, TRANSFORMS
from .base import BaseScenario, Experience
from .seg_tasks import ADE_TASKS, VOC_TASKS, parse_task

IGNORE = 255
#: Used when a scenario gets no pipeline: load, then pack (no resizing).
MINIMAL_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='mmseg.LoadAnnotations'),
                    dict(type='mmseg.PackSegInputs')]


@DATASETS.register_module()
class SegFileList(BaseDataset):
    """An mm segmentation dataset over an explicit list of (image, label map) files.

    Args:
        samples (list[dict]): Items with ``img_path`` and ``seg_map_path``.
        classes (Sequence[str]): Class names in model-index order.
        pipeline (list): mmseg transforms. Defaults to ().
    """

    def __init__(self, samples: Sequence[dict], classes: Sequence[str] = (),
                 pipeline: Sequence = (), **kwargs):
        self._samples = [dict(s) for s in samples]
        kwargs.setdefault('serialize_data', False)
        super().__init__(metainfo=dict(classes=tuple(classes)), pipeline=list(pipeline),
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        return [dict(s, sample_idx=i, reduce_zero_label=False, seg_fields=[])
                for i, s in enumerate(self._samples)]


@TRANSFORMS.register_module()
class RemapSegLabels(BaseTransform):
    """Map raw label ids through a lookup table; fail on ids the task does not know.

    Args:
        lut (list[int]): 256 entries: raw id -> model index, 0 (background) or 255.
            Entries of -1 mark ids that must not occur.
        check_size (bool): Raise if the label map and the (original) image sizes differ.
            Defaults to True.
    """

    def __init__(self, lut: Sequence[int], check_size: bool = True):
        self.lut = np.asarray(lut, dtype=np.int64)
        if self.lut.shape != (256,):
            raise ValueError(f'RemapSegLabels needs a 256-entry lut, got {self.lut.shape}.')
        self.check_size = check_size

    def transform(self, results: dict) -> dict:
        seg = results['gt_seg_map']
        where = results.get('seg_map_path', '<label map>')
        if self.check_size and 'ori_shape' in results and \
                tuple(seg.shape[:2]) != tuple(results['ori_shape'][:2]):
            raise ValueError(f'{where}: label map is {seg.shape[:2]} but its image is '
                             f"{tuple(results['ori_shape'][:2])}; image and label must have "
                             'the same height and width.')
        mapped = self.lut[seg]
        if (mapped < 0).any():
            bad = sorted(set(np.unique(seg[mapped < 0]).tolist()))
            raise ValueError(f'{where}: label ids {bad} are outside the task\'s classes; '
                             'fix the annotation or the task/num_classes of the scenario.')
        results['gt_seg_map'] = mapped.astype(np.uint8)
        return results


def read_split(data_root: str, split_file: Optional[str], img_dir: str, ann_dir: str,
               img_suffix: str, seg_suffix: str) -> List[dict]:
    """Read a split list: one image id per line, or ``/img/path /label/path`` pairs.

    With ``split_file=None`` every ``*img_suffix`` file of ``img_dir`` is used.

    Raises:
        FileNotFoundError: If the split list (or image folder) is missing.
    """
    if split_file is None:
        folder = osp.join(data_root, img_dir)
        if not osp.isdir(folder):
            raise FileNotFoundError(f'image folder {folder} not found; check data_root.')
        ids = sorted(f[:-len(img_suffix)] for f in os.listdir(folder) if f.endswith(img_suffix))
        return [dict(img_path=osp.join(folder, i + img_suffix),
                     seg_map_path=osp.join(data_root, ann_dir, i + seg_suffix)) for i in ids]
    path = osp.join(data_root, split_file)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'split list {path} not found. Expected layout under data_root: '
            f'{img_dir}/<id>{img_suffix}, {ann_dir}/<id>{seg_suffix} and a list of ids in '
            f'{split_file}; set data_root or the split name in the scenario config.')
    samples = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if len(parts) >= 2:
                img, seg = (osp.join(data_root, p.lstrip('/')) for p in parts[:2])
            else:
                img = osp.join(data_root, img_dir, parts[0] + img_suffix)
                seg = osp.join(data_root, ann_dir, parts[0] + seg_suffix)
            samples.append(dict(img_path=img, seg_map_path=seg))
    return samples


def scan_labels(samples: List[dict], cache_file: Optional[str] = None) -> List[List[int]]:
    """The set of raw label ids of every sample (read once; cached in ``cache_file``).

    Checks that every label map exists and has its image's size.

    Raises:
        FileNotFoundError: If an image or label map is missing.
        ValueError: If an image and its label map differ in size.
    """
    cache = {}
    if cache_file and osp.isfile(cache_file):
        with open(cache_file) as f:
            cache = json.load(f)
    out, changed = [], False
    for s in samples:
        key = s['seg_map_path']
        if key not in cache:
            for p in (s['img_path'], key):
                if not osp.isfile(p):
                    raise FileNotFoundError(f'{p} is listed in the split but does not exist.')
            seg = Image.open(key)
            with Image.open(s['img_path']) as img:
                if img.size != seg.size:
                    raise ValueError(f'{key}: label map is {seg.size[::-1]} (HxW) but image '
                                     f'{s["img_path"]} is {img.size[::-1]}; they must match.')
            cache[key] = np.unique(np.asarray(seg)).tolist()
            changed = True
        out.append(cache[key])
    if cache_file and changed:
        os.makedirs(osp.dirname(osp.abspath(cache_file)), exist_ok=True)
        tmp = cache_file + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(cache, f)
        os.replace(tmp, cache_file)
    return out


def insert_after_loading(pipeline: Sequence[dict], transform: dict) -> List[dict]:
    """Put ``transform`` right after ``LoadAnnotations`` in a pipeline config."""
    pipeline = [copy.deepcopy(t) for t in pipeline]
    for i, t in enumerate(pipeline):
        if str(t.get('type', '')).split('.')[-1] == 'LoadAnnotations':
            return pipeline[:i + 1] + [transform] + pipeline[i + 1:]
    raise ValueError('the segmentation pipeline has no LoadAnnotations; add '
                     "dict(type='mmseg.LoadAnnotations') after LoadImageFromFile.")


@SCENARIOS.register_module()
class SegIncremental(BaseScenario):
    """Class-incremental semantic segmentation over any (image, label map) file layout.

    Args:
        data_root (str): Dataset root (never written to).
        task (str | dict | list): Task name (see :mod:`clbox.scenarios.seg_tasks`), a
            ``'<base>-<size>'`` string, or an explicit ``{step: [raw ids]}`` table.
        num_classes (int): Classes including background.
        overlap (bool): Overlapped (True) or disjoint (False) training images.
            Defaults to True.
        train_split (str, optional): Split list of the training set, relative to
            ``data_root``; None lists ``img_dir``.
        test_split (str, optional): Split list of the test set; None lists ``test_img_dir``.
        img_dir, ann_dir (str): Image / label folders for id-only split lists.
        test_img_dir, test_ann_dir (str, optional): Folders of the test split. Default to
            ``img_dir`` / ``ann_dir``.
        img_suffix, seg_suffix (str): File suffixes. Default to '.jpg' and '.png'.
        train_pipeline, test_pipeline (list[dict]): mmseg pipelines; a
            :class:`RemapSegLabels` is inserted after ``LoadAnnotations``.
        class_names (Sequence[str], optional): Names by raw id. Defaults to the ids.
        label_cache (str, optional): JSON file (outside ``data_root``) caching each label
            map's class set. Defaults to None.
        known_tasks (dict, optional): Named task tables. Defaults to None.
    """

    def __init__(self, data_root: str, task, num_classes: int, overlap: bool = True,
                 train_split: Optional[str] = 'train.txt',
                 test_split: Optional[str] = 'val.txt',
                 img_dir: str = 'images', ann_dir: str = 'annotations',
                 test_img_dir: Optional[str] = None, test_ann_dir: Optional[str] = None,
                 img_suffix: str = '.jpg', seg_suffix: str = '.png',
                 train_pipeline: Sequence[dict] = (), test_pipeline: Sequence[dict] = (),
                 class_names: Optional[Sequence[str]] = None, label_cache: Optional[str] = None,
                 known_tasks: Optional[Dict] = None):
        self.data_root, self.overlap = data_root, overlap
        self.task = parse_task(task, num_classes, known_tasks)
        self.order = [c for s in sorted(self.task) for c in self.task[s]]
        self.index_of = {raw: i for i, raw in enumerate(self.order)}
        names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
        self.class_names = [names[raw] for raw in self.order]
        train = read_split(data_root, train_split, img_dir, ann_dir, img_suffix, seg_suffix)
        test = read_split(data_root, test_split, test_img_dir or img_dir,
                          test_ann_dir or ann_dir, img_suffix, seg_suffix)
        train_sets = scan_labels(train, label_cache)
        test_sets = scan_labels(test, label_cache)
        for samples, sets in ((train, train_sets), (test, test_sets)):
            self._check_ids(samples, sets)
        self.train_stream = [self._experience(t, train, train_sets, train_pipeline, True)
                             for t in sorted(self.task)]
        self.test_stream = [self._experience(t, test, test_sets, test_pipeline, False)
                            for t in sorted(self.task)]

    # ----------------------------------------------------------------- protocol
    def _check_ids(self, samples, sets) -> None:
        for s, ids in zip(samples, sets):
            bad = [c for c in ids if c != IGNORE and c not in self.index_of]
            if bad:
                raise ValueError(f"{s['seg_map_path']}: label ids {bad} are outside the "
                                 f'task\'s classes 0..{len(self.order) - 1} (and 255); fix the '
                                 'annotation or num_classes.')

    def step_classes(self, step: int) -> Tuple[List[int], List[int]]:
        """(new raw ids without background, old raw ids with background) of ``step``."""
        new = [c for c in self.task[step] if c != 0]
        old = sorted({c for s in range(step) for c in self.task[s]} | {0})
        return new, old

    def keep_train_image(self, ids: Sequence[int], step: int) -> bool:
        """Whether a training image with raw label ids ``ids`` belongs to ``step``."""
        new, old = self.step_classes(step)
        if not any(c in new for c in ids):
            return False
        if self.overlap:
            return True
        allowed = set(new) | set(old) | {IGNORE}
        return all(c in allowed for c in ids)

    def train_lut(self, step: int) -> List[int]:
        """Raw id -> training label of ``step``: new classes keep their index, others 0."""
        new, _ = self.step_classes(step)
        lut = [-1] * 256
        for raw in self.order:
            lut[raw] = self.index_of[raw] if (raw in new or raw == 0) else 0
        lut[IGNORE] = IGNORE
        return lut

    def test_lut(self) -> List[int]:
        """Raw id -> model index for every class (the evaluator masks unseen ones)."""
        lut = [-1] * 256
        for raw, idx in self.index_of.items():
            lut[raw] = idx
        lut[IGNORE] = IGNORE
        return lut

    def _experience(self, step, samples, sets, pipeline, train: bool) -> Experience:
        new, _ = self.step_classes(step)
        if train:
            keep = [i for i, ids in enumerate(sets) if self.keep_train_image(ids, step)]
            lut = self.train_lut(step)
        else:
            keep = [i for i, ids in enumerate(sets) if any(c in new for c in ids)]
            lut = self.test_lut()
        pipe = insert_after_loading(pipeline or MINIMAL_PIPELINE, dict(type='RemapSegLabels', lut=lut))
        dataset = SegFileList([samples[i] for i in keep], self.class_names, pipe)
        classes = tuple(self.index_of[c] for c in self.task[step])
        return Experience(step, dataset, classes=classes,
                          name=f"{'train' if train else 'test'}/{step}",
                          meta=dict(raw_classes=list(self.task[step]),
                                    num_seen=sum(len(self.task[s]) for s in range(step + 1)),
                                    overlap=self.overlap))

    @property
    def num_classes(self) -> int:
        return len(self.order)


@SCENARIOS.register_module()
class VOCSegIncremental(SegIncremental):
    """Pascal VOC 2012 (augmented) tasks: 19-1, 15-5, 15-5s/15-1, 10-1, offline.

    Layout under ``data_root``: ``JPEGImages/*.jpg``, ``SegmentationClassAug/*.png`` and
    ``ImageSets/Segmentation/{train_aug,val}.txt`` (ids, or DeepLab-style path pairs).
    """

    CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
               'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
               'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')

    def __init__(self, data_root: str, task='15-5s', overlap: bool = True,
                 train_split: str = 'ImageSets/Segmentation/train_aug.txt',
                 test_split: str = 'ImageSets/Segmentation/val.txt', **kwargs):
        kwargs.setdefault('img_dir', 'JPEGImages')
        kwargs.setdefault('ann_dir', 'SegmentationClassAug')
        kwargs.setdefault('class_names', self.CLASSES)
        super().__init__(data_root, task, num_classes=21, overlap=overlap,
                         train_split=train_split, test_split=test_split,
                         known_tasks=VOC_TASKS, **kwargs)


@SCENARIOS.register_module()
class ADESegIncremental(SegIncremental):
    """ADE20K tasks: 100-50, 100-10, 100-5, 50 and the ``b`` orders (150 classes + "other"
    as background 0, as MiB uses the raw annotations).

    Layout: ``images/{training,validation}/*.jpg`` and
    ``annotations/{training,validation}/*.png`` (raw ids 0..150); without split lists every
    image of the folder is used.
    """

    def __init__(self, data_root: str, task='100-50', overlap: bool = True,
                 train_split: Optional[str] = None, test_split: Optional[str] = None,
                 **kwargs):
        kwargs.setdefault('img_dir', 'images/training')
        kwargs.setdefault('ann_dir', 'annotations/training')
        kwargs.setdefault('test_img_dir', 'images/validation')
        kwargs.setdefault('test_ann_dir', 'annotations/validation')
        super().__init__(data_root, task, num_classes=151, overlap=overlap,
                         train_split=train_split, test_split=test_split,
                         known_tasks=ADE_TASKS, **kwargs)
