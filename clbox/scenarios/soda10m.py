"""SODA10M objects for SSLAD 2021 Track 3A (online continual classification of road
objects), read from the dataset's own layout.

Facts from the challenge's starter kit (``VerwimpEli/SSLAD_Track_3``, ``track3A/``:
``haitain_classification.py``, restated in ``../shared/specs/sslad-3a.md`` sec. 1):

* layout: ``<root>/SSLAD-2D/labeled/{train,val}/<file_name>`` (1920 x 1080 JPEGs) and
  ``<root>/SSLAD-2D/labeled/annotations/instance_{train,val}.json`` (COCO-like ``images``
  with ``date``, ``time``, ``period``, ``weather``, ``city``, ``location``,
  ``file_name_old``; ``annotations`` with ``bbox`` [x, y, w, h], ``area``, ``occluded``,
  ``category_id``);
* objects with ``area < 1024`` or ``occluded == 0`` are dropped (``_load_all_objects_ids``);
* each object is cut as a square around its box (:func:`square_crop`, ``_rescale_bbox``)
  and resized to 64 x 64 with PIL's default filter;
* the label space has 7 logits, ids 1..6 are the classes (0 is never a label);
* the ``date`` / ``time`` fields are corrected at load time (:func:`correct_image_fields`,
  ``_correct_data``);
* within a task, objects are ordered by timestamp, then video id, then sequence id
  (compared as strings), objects of one image in annotation order
  (:func:`chronological_order`, ``chronological_sort``).

Cutting crops from 1920 x 1080 JPEGs on every access is slow: with ``cache_dir`` the
reader takes each crop from ``<cache_dir>/<split>/<object id>.png`` when that file exists
(``tools/dataset_converters/soda10m_crops.py`` writes them once, losslessly, outside the
data root); it never writes into the data root or the cache.
"""
import datetime
import json
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset

from clbox.registry import DATASETS

#: Class names by label id (the reference spells the first "Pedestrain"); 0 is unused.
CLASSES = ('unused', 'Pedestrian', 'Cyclist', 'Car', 'Truck', 'Tram (Bus)', 'Tricycle')
IMAGE_WIDTH, IMAGE_HEIGHT = 1920, 1080
#: Image fields of the timestamped annotations the stream needs.
TIMESTAMP_FIELDS = ('date', 'time', 'period', 'file_name_old')

_TRAIN_TIME_FIXES = {'145960': '150000', '102360': '102400', '1221831': '122131',
                     '1420214': '142021', '10:00': '100000', '13:00': '130000',
                     ' 13:00': '130000', '12:00': '120000'}
_TRAIN_DATE_FIXES = {'201810152': '20181015', '50181015': '20181015'}


def correct_image_fields(images: Sequence[dict], split: str) -> None:
    """The starter kit's load-time fixes of ``date`` / ``time``, in place.

    train: eight malformed times and two malformed dates replaced; val: both fields
    stripped of spaces and the time '1111523' read as '111152'.
    """
    for image in images:
        if split == 'train':
            image['time'] = _TRAIN_TIME_FIXES.get(image['time'], image['time'])
            image['date'] = _TRAIN_DATE_FIXES.get(image['date'], image['date'])
        elif split == 'val':
            image['time'] = image['time'].strip()
            image['date'] = image['date'].strip()
            if image['time'] == '1111523':
                image['time'] = '111152'


def keep_object(annotation: dict, min_area: int = 1024, remove_occluded: bool = True) -> bool:
    """The object filter: ``area >= min_area`` and, with ``remove_occluded``,
    ``occluded != 0`` (the kit drops the objects annotated ``occluded == 0``)."""
    if annotation['area'] < min_area:
        return False
    return not (remove_occluded and annotation['occluded'] == 0)


def square_crop(bbox: Sequence[float]) -> Tuple[int, int, int, int]:
    """The square cut around a box: (x0, y0, x1, y1), rows ``y0:y1`` and columns
    ``x0:x1`` of the image.

    Half side ``s = max(w, h) // 2 + 5`` (5 px padding), at most 539; centre
    ``(x + w // 2, y + h // 2)``; a square that leaves the 1920 x 1080 frame is shifted
    back inside (not clipped): when it starts before 0 it is moved to start at 0, when its
    end reaches 1920 (1080) it is moved to end at 1919 (1079), as the reference does (so a
    square shifted from the right or bottom is one pixel short of the frame's edge).
    """
    x, y, w, h = bbox
    size = min((w if w > h else h) // 2 + 5, 539)
    cx, cy = x + w // 2, y + h // 2
    x0, x1, y0, y1 = cx - size, cx + size, cy - size, cy + size
    if x0 < 0:
        x1, x0 = x1 - x0, 0
    if x1 >= IMAGE_WIDTH:
        x0, x1 = x0 - (x1 - (IMAGE_WIDTH - 1)), IMAGE_WIDTH - 1
    if y0 < 0:
        y1, y0 = y1 - y0, 0
    if y1 >= IMAGE_HEIGHT:
        y0, y1 = y0 - (y1 - (IMAGE_HEIGHT - 1)), IMAGE_HEIGHT - 1
    return int(x0), int(y0), int(x1), int(y1)


def timestamp(image: dict) -> datetime.datetime:
    """An image's ``date`` + ``time`` as the kit parses them (``%Y%m%d%H%M%S``, else
    ``%Y-%m-%d%H:%M:%S``).

    Raises:
        ValueError: Naming the image, when neither format matches.
    """
    text = image['date'].strip() + image['time'].strip()
    for fmt in ('%Y%m%d%H%M%S', '%Y-%m-%d%H:%M:%S'):
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            pass
    raise ValueError(f'SODA10M image {image.get("id")}: date {image["date"]!r} and time '
                     f'{image["time"]!r} match neither yyyymmddHHMMSS nor yyyy-mm-ddHH:MM:SS; '
                     'fix the annotation file (or use the timestamped annotations the '
                     'challenge provides).')


def video_and_sequence(image: dict) -> Tuple[str, str]:
    """The video id and sequence id: the two digit groups of ``file_name_old``'s basename.

    Raises:
        ValueError: If the basename does not hold exactly two digit groups.
    """
    groups = re.findall(r'\d+', image['file_name_old'].split('/')[-1])
    if len(groups) != 2:
        raise ValueError(f'SODA10M image {image.get("id")}: file_name_old '
                         f'{image["file_name_old"]!r} should hold exactly two numbers (video '
                         f'and sequence id) in its file name, found {groups}.')
    return groups[0], groups[1]


def chronological_order(entries: Sequence[dict]) -> List[int]:
    """Positions of ``entries`` (each with ``timestamp``, ``video_id``, ``seq_id``) sorted
    by timestamp, then video id, then sequence id (as strings), stable (a stable
    ``np.lexsort``, as the kit's ``chronological_sort``)."""
    if not entries:
        return []
    stamps = np.array([e['timestamp'] for e in entries], dtype='datetime64[s]')
    videos = np.array([e['video_id'] for e in entries])
    seqs = np.array([e['seq_id'] for e in entries])
    return np.lexsort((seqs, videos, stamps)).tolist()


def crop_object(image_path: str, bbox: Sequence[float], size: int = 64) -> np.ndarray:
    """The (size, size, 3) uint8 RGB crop of an object: :func:`square_crop`, then PIL's
    ``resize`` with its default filter.

    Raises:
        FileNotFoundError: Naming the image, when it is missing.
    """
    from PIL import Image
    if not osp.isfile(image_path):
        raise FileNotFoundError(f'SODA10M image "{image_path}" is missing: check data_root '
                                '(the folder holding annotations/, train/ and val/).')
    x0, y0, x1, y1 = square_crop(bbox)
    with Image.open(image_path) as img:
        crop = img.convert('RGB').crop((x0, y0, x1, y1)).resize((size, size))
    return np.asarray(crop, dtype=np.uint8)


def cache_file(cache_dir: str, split: str, obj_id) -> str:
    """Where the converter stores an object's crop."""
    return osp.join(cache_dir, split, f'{obj_id}.png')


@DATASETS.register_module()
class SODA10M(BaseDataset):
    """The filtered objects of one SODA10M split, cut and resized on access (or read from a
    crop cache), in annotation order (the scenario orders and splits them).

    Each item's ``img`` is the (64, 64, 3) **RGB** uint8 crop (the reference normalises RGB
    with mean (0.3252, 0.3283, 0.3407), std (0.0265, 0.0241, 0.0252) of [0, 1] values:
    use a data preprocessor with those x 255 and ``to_rgb=False``), ``gt_label`` its
    category id (1..6) and the image's domain fields (``date``, ``time``, ``period``,
    ``weather``, ``city``, ``location``) and ``video_id`` / ``seq_id`` in the metainfo.

    Args:
        data_root (str): The ``SSLAD-2D/labeled`` folder (``annotations/``, ``train/``,
            ``val/``).
        split (str): 'train' or 'val'. Defaults to 'val' (all six Track 3A tasks).
        crop_size (int): Side of the resized crop. Defaults to 64.
        min_area (int): Smallest object area kept. Defaults to 1024.
        remove_occluded (bool): Drop ``occluded == 0`` objects. Defaults to True.
        cache_dir (str, optional): A crop cache written by
            ``tools/dataset_converters/soda10m_crops.py``. Defaults to None.
        pipeline (list): mm transforms. Defaults to ``[PackInputs]``-free (the scenario
            gives it).
    """

    METAINFO = dict(classes=CLASSES)

    def __init__(self, data_root: str, split: str = 'val', crop_size: int = 64,
                 min_area: int = 1024, remove_occluded: bool = True,
                 cache_dir: Optional[str] = None, pipeline: Sequence = (), **kwargs):
        if split not in ('train', 'val'):
            raise ValueError(f"SODA10M split must be 'train' or 'val', got {split!r} (the "
                             "test set of Track 3A comes as the challenge's pickles).")
        self.split, self.crop_size = split, int(crop_size)
        self.min_area, self.remove_occluded = min_area, remove_occluded
        self.cache_dir = cache_dir
        kwargs.setdefault('serialize_data', False)
        super().__init__(data_root=data_root, pipeline=list(pipeline), **kwargs)

    @property
    def ann_file_path(self) -> str:
        return osp.join(self.data_root, 'annotations', f'instance_{self.split}.json')

    def load_data_list(self) -> List[dict]:
        path = self.ann_file_path
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'SODA10M annotations "{path}" do not exist: data_root must be the '
                'SSLAD-2D/labeled folder (annotations/instance_{train,val}.json, train/, val/).')
        with open(path) as f:
            data = json.load(f)
        images: Dict[int, dict] = {img['id']: dict(img) for img in data['images']}
        for image in images.values():
            missing = [k for k in TIMESTAMP_FIELDS if k not in image]
            if missing:
                raise ValueError(
                    f'SODA10M annotations "{path}": image {image.get("id")} has no '
                    f'{", ".join(missing)}. Track 3A needs the timestamped annotations '
                    '(images with date, time, period and file_name_old): replace '
                    f'annotations/instance_{self.split}.json with the timestamped version '
                    'the challenge / the solution\'s README provides.')
        correct_image_fields(list(images.values()), self.split)
        out = []
        for ann in data['annotations']:
            if not keep_object(ann, self.min_area, self.remove_occluded):
                continue
            if ann['category_id'] not in range(1, len(CLASSES)):
                raise ValueError(
                    f'SODA10M annotations "{path}": annotation {ann.get("id")} has '
                    f'category_id {ann["category_id"]!r}; Track 3A knows 1..6 '
                    f'({", ".join(CLASSES[1:])}). Is this a SODA10M Track 3A file?')
            if ann['image_id'] not in images:
                raise ValueError(f'SODA10M annotations "{path}": annotation {ann.get("id")} '
                                 f'refers to image {ann["image_id"]}, which is not listed.')
            image = images[ann['image_id']]
            video_id, seq_id = video_and_sequence(image)
            out.append(dict(
                obj_id=ann['id'], image_id=ann['image_id'], bbox=list(ann['bbox']),
                gt_label=int(ann['category_id']),
                img_path=osp.join(self.data_root, self.split, image['file_name']),
                date=image['date'], time=image['time'], period=image.get('period'),
                weather=image.get('weather'), city=image.get('city'),
                location=image.get('location'), video_id=video_id, seq_id=seq_id,
                timestamp=timestamp(image)))
        return out

    def get_data_info(self, idx: int) -> dict:
        info = dict(super().get_data_info(idx))
        cached = cache_file(self.cache_dir, self.split, info['obj_id']) if self.cache_dir \
            else None
        if cached and osp.isfile(cached):
            from PIL import Image
            with Image.open(cached) as img:
                info['img'] = np.asarray(img.convert('RGB'), dtype=np.uint8)
        else:
            info['img'] = crop_object(info['img_path'], info['bbox'], self.crop_size)
        info['img_shape'] = info['ori_shape'] = info['img'].shape[:2]
        info['timestamp'] = info['timestamp'].isoformat()
        return info

    def get_gt_labels(self) -> np.ndarray:
        return np.array([d['gt_label'] for d in self.data_list], dtype=np.int64)
