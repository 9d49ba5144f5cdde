"""An embedded synthetic segmentation dataset: seeded shapes with pixel labels.

Class ``c`` (1..K) is drawn as a shape whose colour (hue ``(c - 1) / (K - 1)``) and form
(rectangle, ellipse, triangle: ``c % 3``) identify it, on a textured grey background (class
0). Shapes span 3/8 to 5/8 of the image side, so that a tiny network at output stride 4 learns
them within a few hundred SGD iterations (smaller ones left it predicting only background).
Shape outlines are labelled 255 (ignore), like VOC's object boundaries. The files are written once
in the VOC layout (``JPEGImages`` as PNG, ``SegmentationClassAug``,
``ImageSets/Segmentation/{train_aug,val}.txt``), so the same reader and pipelines as real VOC
run offline.
"""
import colorsys
import hashlib
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Optional

import numpy as np
from PIL import Image, ImageDraw

from clbox.registry import SCENARIOS
from .segmentation import SegIncremental

_DONE = '.clbox_synthetic_done'
#: Version of the drawing; part of the cache key so that a change never reuses old files.
_VERSION = 2


def _draw(rng: np.random.RandomState, num_classes: int, size: int, max_objects: int):
    """One (image HxWx3 uint8, label HxW uint8) pair."""
    base = rng.randint(60, 120)
    noise = rng.randint(-25, 26, (size, size, 1))
    img = np.clip(base + noise, 0, 255).repeat(3, 2).astype(np.uint8)
    image = Image.fromarray(img)
    label = Image.new('L', (size, size), 0)
    di, dl = ImageDraw.Draw(image), ImageDraw.Draw(label)
    for _ in range(rng.randint(1, max_objects + 1)):
        c = rng.randint(1, num_classes)
        r, g, b = colorsys.hsv_to_rgb((c - 1) / (num_classes - 1), 0.9, 0.95)
        color = tuple(int(255 * v) for v in (r, g, b))
        w, h = rng.randint(size * 3 // 8, size * 5 // 8 + 1, 2)
        x, y = rng.randint(0, size - w), rng.randint(0, size - h)
        box = [x, y, x + w, y + h]
        form = c % 3
        if form == 0:
            di.rectangle(box, fill=color)
            dl.rectangle(box, fill=int(c), outline=255)
        elif form == 1:
            di.ellipse(box, fill=color)
            dl.ellipse(box, fill=int(c), outline=255)
        else:
            tri = [(x, y + h), (x + w, y + h), (x + w // 2, y)]
            di.polygon(tri, fill=color)
            dl.polygon(tri, fill=int(c), outline=255)
    return np.asarray(image), np.asarray(label)


def make_synthetic_voc(root: str, num_classes: int = 5, num_train: int = 64,
                       num_test: int = 32, size: int = 32, max_objects: int = 3,
                       seed: int = 0) -> str:
    """Write the synthetic set in the VOC layout under ``root`` (once) and return ``root``.

    Args:
        root (str): Output folder (created).
        num_classes (int): Classes including background. Defaults to 5.
        num_train, num_test (int): Images per split. Default to 64 and 32.
        size (int): Image side in pixels. Defaults to 32.
        max_objects (int): Most shapes per image. Defaults to 3.
        seed (int): Seed; the splits draw from the independent streams ``[seed, 0]`` (train)
            and ``[seed, 1]`` (test), so no seed's test images are another seed's training
            images. Defaults to 0.
    """
    if num_classes < 2:
        raise ValueError(f'num_classes must be >= 2 (background + 1), got {num_classes}.')
    if osp.isfile(osp.join(root, _DONE)):
        return root
    # written in a private folder and renamed into place, so processes that build the
    # same set at once (the ranks of a distributed run) never read a half-written one
    os.makedirs(osp.dirname(osp.abspath(root)), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.' + osp.basename(root) + '-',
                           dir=osp.dirname(osp.abspath(root)))
    try:
        _write_synthetic_voc(tmp, num_classes, num_train, num_test, size, max_objects, seed)
        try:
            os.rename(tmp, root)
        except OSError:  # another process finished first (or a stale partial folder)
            if not osp.isfile(osp.join(root, _DONE)):
                shutil.rmtree(root, ignore_errors=True)
                os.rename(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _write_synthetic_voc(root, num_classes, num_train, num_test, size, max_objects, seed):
    for d in ('JPEGImages', 'SegmentationClassAug', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, d), exist_ok=True)
    for split, n, stream in (('train_aug', num_train, 0), ('val', num_test, 1)):
        rng = np.random.RandomState([seed, stream])
        ids = []
        for i in range(n):
            img, lab = _draw(rng, num_classes, size, max_objects)
            name = f'{split}_{i:05d}'
            Image.fromarray(img).save(osp.join(root, 'JPEGImages', name + '.png'))
            Image.fromarray(lab).save(osp.join(root, 'SegmentationClassAug', name + '.png'))
            ids.append(name)
        with open(osp.join(root, 'ImageSets/Segmentation', split + '.txt'), 'w') as f:
            f.write('\n'.join(ids) + '\n')
    with open(osp.join(root, _DONE), 'w') as f:
        json.dump(dict(version=_VERSION, num_classes=num_classes, num_train=num_train,
                       num_test=num_test, size=size, max_objects=max_objects, seed=seed), f)


@SCENARIOS.register_module()
class SyntheticSegIncremental(SegIncremental):
    """The MiB/PLOP protocol on the synthetic shapes set (runs offline in seconds).

    Args:
        task (str | dict): E.g. ``'2-2'`` (background + classes 1-2, then 3-4).
            Defaults to '2-2'.
        num_classes (int): Classes including background. Defaults to 5.
        data_root (str, optional): Where to write the files. Defaults to
            ``$CLBOX_CACHE`` or ``~/.cache/clbox``, under ``synthetic_seg/<hash>``.
        num_train, num_test, size, max_objects, seed: See :func:`make_synthetic_voc`.
        **kwargs: Passed to :class:`SegIncremental` (``overlap``, pipelines).
    """

    def __init__(self, task='2-2', num_classes: int = 5, data_root: Optional[str] = None,
                 num_train: int = 64, num_test: int = 32, size: int = 32,
                 max_objects: int = 3, seed: int = 0, **kwargs):
        params = dict(num_classes=num_classes, num_train=num_train, num_test=num_test,
                      size=size, max_objects=max_objects, seed=seed)
        if data_root is None:
            key = hashlib.md5(json.dumps(dict(params, version=_VERSION), sort_keys=True)
                              .encode()).hexdigest()[:10]
            cache = os.environ.get('CLBOX_CACHE', osp.expanduser('~/.cache/clbox'))
            data_root = osp.join(cache, 'synthetic_seg', key)
        make_synthetic_voc(data_root, **params)
        kwargs.setdefault('img_dir', 'JPEGImages')
        kwargs.setdefault('ann_dir', 'SegmentationClassAug')
        kwargs.setdefault('img_suffix', '.png')
        kwargs.setdefault('class_names', ['background'] + [f'shape{c}'
                                                           for c in range(1, num_classes)])
        super().__init__(data_root, task, num_classes=num_classes,
                         train_split='ImageSets/Segmentation/train_aug.txt',
                         test_split='ImageSets/Segmentation/val.txt', **kwargs)
