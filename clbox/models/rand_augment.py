"""The UDA-style RandAugment of PyPI ``randaugment`` 1.0.2, on PIL images.

The SSLAD 2021 Track 3A 3rd-place solution scores its memory with 12 passes, each through a
fresh ``randaugment.RandAugment()`` (``mrifkikurniawan/sslad`` @v4.3
``modules.RMSampler._init_augmentation``). That package no longer imports with NumPy >= 1.24
(it uses ``np.int``), so its behaviour is written here from its facts:

* 15 operations, each at magnitude index 1..9, each applied with probability 0.5; every
  call picks one ordered pair of (operation, magnitude) uniformly out of the 135 x 135;
* magnitudes index ``linspace`` ranges of 10 values: shear 0..0.3, translate 0..150/331 of
  the side, rotate 0..30 degrees, color / contrast / sharpness / brightness 0..0.9 (the
  factor is ``1 +- m``), posterize ``round(linspace(8, 4))`` bits, solarize threshold
  256..0, cutout ``round(linspace(0, 20))`` pixels;
* shear, translate and enhance factors take a random sign; rotate turns by ``+m`` only,
  with a gray (128) fill; shear is bicubic, translate nearest, fill (128, 128, 128);
  cutout pastes a (125, 122, 113) square of side ``2 (m // 2)`` at a uniform centre,
  clipped to the image.

Randomness comes from the ``random.Random`` passed in (the package used the global
``random`` and ``np.random``), so a checkpoint can carry it.
"""
import random
from typing import Optional

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

OPERATIONS = ('Invert', 'Cutout', 'Sharpness', 'AutoContrast', 'Posterize', 'ShearX',
              'TranslateX', 'TranslateY', 'ShearY', 'Rotate', 'Equalize', 'Contrast', 'Color',
              'Solarize', 'Brightness')
FILL = (128, 128, 128)
CUTOUT_FILL = (125, 122, 113)
_RANGES = {
    'shearx': np.linspace(0, 0.3, 10), 'sheary': np.linspace(0, 0.3, 10),
    'translatex': np.linspace(0, 150 / 331, 10), 'translatey': np.linspace(0, 150 / 331, 10),
    'rotate': np.linspace(0, 30, 10), 'color': np.linspace(0.0, 0.9, 10),
    'posterize': np.round(np.linspace(8, 4, 10), 0).astype(int),
    'solarize': np.linspace(256, 0, 10), 'contrast': np.linspace(0.0, 0.9, 10),
    'sharpness': np.linspace(0.0, 0.9, 10), 'brightness': np.linspace(0.0, 0.9, 10),
    'autocontrast': [0] * 10, 'equalize': [0] * 10, 'invert': [0] * 10,
    'cutout': np.round(np.linspace(0, 20, 10), 0).astype(int),
}


def _cutout(img: Image.Image, size: int, rng: random.Random) -> Image.Image:
    img = img.copy()
    width, height = img.size
    cx, cy = rng.randrange(width), rng.randrange(height)
    half = int(size) // 2
    x0, y0 = max(0, cx - half), max(0, cy - half)
    x1, y1 = min(width, cx + half), min(height, cy + half)
    if x1 > x0 and y1 > y0:
        img.paste(CUTOUT_FILL, (x0, y0, x1, y1))
    return img


def apply_operation(img: Image.Image, name: str, magnitude_index: int,
                    rng: random.Random) -> Image.Image:
    """One operation at one magnitude index (0..9) on an RGB image."""
    key = name.lower()
    m = _RANGES[key][magnitude_index]
    sign = (lambda: rng.choice([-1, 1]))
    affine = Image.Transform.AFFINE
    if key == 'shearx':
        return img.transform(img.size, affine, (1, m * sign(), 0, 0, 1, 0),
                             Image.Resampling.BICUBIC, fillcolor=FILL)
    if key == 'sheary':
        return img.transform(img.size, affine, (1, 0, 0, m * sign(), 1, 0),
                             Image.Resampling.BICUBIC, fillcolor=FILL)
    if key == 'translatex':
        return img.transform(img.size, affine, (1, 0, m * img.size[0] * sign(), 0, 1, 0),
                             fillcolor=FILL)
    if key == 'translatey':
        return img.transform(img.size, affine, (1, 0, 0, 0, 1, m * img.size[1] * sign()),
                             fillcolor=FILL)
    if key == 'rotate':
        rot = img.convert('RGBA').rotate(m)
        return Image.composite(rot, Image.new('RGBA', rot.size, (128,) * 4),
                               rot).convert(img.mode)
    enhancers = dict(color=ImageEnhance.Color, contrast=ImageEnhance.Contrast,
                     sharpness=ImageEnhance.Sharpness, brightness=ImageEnhance.Brightness)
    if key in enhancers:
        return enhancers[key](img).enhance(1 + m * sign())
    if key == 'posterize':
        return ImageOps.posterize(img, int(m))
    if key == 'solarize':
        return ImageOps.solarize(img, m)
    if key == 'autocontrast':
        return ImageOps.autocontrast(img)
    if key == 'equalize':
        return ImageOps.equalize(img)
    if key == 'invert':
        return ImageOps.invert(img)
    if key == 'cutout':
        return _cutout(img, m, rng)
    raise KeyError(f'unknown RandAugment operation {name!r}; known: {", ".join(OPERATIONS)}.')


class RandAugmentPair:
    """Per call: a random ordered pair of (operation, magnitude 1..9), each applied with
    probability 0.5.

    Args:
        rng (random.Random, optional): The randomness. Defaults to a new unseeded one.
    """

    def __init__(self, rng: Optional[random.Random] = None):
        self.rng = rng if rng is not None else random.Random()
        self.ops = [(name, k) for name in OPERATIONS for k in range(1, 10)]

    def __call__(self, img: Image.Image) -> Image.Image:
        n = len(self.ops)
        pick = self.rng.randint(0, n * n - 1)
        for name, k in (self.ops[pick // n], self.ops[pick % n]):
            if self.rng.random() < 0.5:
                img = apply_operation(img, name, k, self.rng)
        return img
