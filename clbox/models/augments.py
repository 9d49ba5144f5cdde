"""Batched data augmentation with per-sample random parameters, on any device.

mm pipelines augment one sample at a time on the CPU, before the batch exists. Replayed
samples come from a buffer already as a tensor batch (on the GPU when there is one); these
modules augment such a batch in a few tensor operations, drawing fresh parameters for
every sample at every call, so a buffer can store each sample once un-augmented and
replay a new view each time (as Avalanche's replay does by re-reading its dataset).

Inputs are (B, C, H, W) images, uint8 or float in the 0..255 range of raw pixels (the
data preprocessor normalises afterwards); outputs are float. Random parameters are drawn
from torch's global CPU generator (checkpointed with the loop's RNG state, so a resumed
run replays the same views) and moved to the batch's device.

The geometry follows torchvision's transforms of the same names (crop sampling rules,
fallbacks); a resized crop is what ``F.interpolate(..., mode='bilinear')`` gives for that
crop (torchvision's tensor resize without antialiasing).
"""
import math
from typing import Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from clbox.registry import MODELS


def _uniform(low: float, high: float, n: int, device) -> torch.Tensor:
    return (low + (high - low) * torch.rand(n)).to(device)


def _pair(size) -> Tuple[int, int]:
    return (int(size), int(size)) if isinstance(size, (int, float)) else tuple(map(int, size))


@MODELS.register_module()
class BatchAugments(nn.Module):
    """A sequence of batched augmentations (a config list of the modules below).

    Args:
        augments (Sequence[dict | nn.Module]): The augmentations, applied in order.
    """

    def __init__(self, augments: Sequence[Union[dict, nn.Module]]):
        super().__init__()
        self.augments = nn.ModuleList(MODELS.build(a) if isinstance(a, dict) else a
                                      for a in augments)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = images.float()
        for augment in self.augments:
            images = augment(images)
        return images


@MODELS.register_module()
class BatchRandomFlip(nn.Module):
    """Flip each image horizontally with probability ``prob`` (torchvision's
    ``RandomHorizontalFlip``; ``direction='vertical'`` flips rows instead).

    Args:
        prob (float): Probability of a flip per sample. Defaults to 0.5.
        direction (str): 'horizontal' or 'vertical'. Defaults to 'horizontal'.
    """

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal'):
        super().__init__()
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f"BatchRandomFlip: direction must be 'horizontal' or "
                             f"'vertical', got {direction!r}.")
        self.prob, self.dim = float(prob), 3 if direction == 'horizontal' else 2

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        flip = (torch.rand(len(images)) < self.prob).to(images.device)
        return torch.where(flip[:, None, None, None], images.flip(self.dim), images)


@MODELS.register_module()
class BatchRandomCrop(nn.Module):
    """A random ``size`` crop of each image after zero padding by ``padding`` pixels on
    every side (torchvision's ``RandomCrop(size, padding)``, the CIFAR recipe).

    Args:
        size (int | tuple[int, int]): Output (height, width).
        padding (int): Padding on each side. Defaults to 0.
        pad_value (float): Value of padded pixels. Defaults to 0.
    """

    def __init__(self, size, padding: int = 0, pad_value: float = 0.):
        super().__init__()
        self.size, self.padding, self.pad_value = _pair(size), int(padding), float(pad_value)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, _, h, w = images.shape
        th, tw = self.size
        if self.padding:
            images = F.pad(images, [self.padding] * 4, value=self.pad_value)
            h, w = h + 2 * self.padding, w + 2 * self.padding
        if th > h or tw > w:
            raise ValueError(f'BatchRandomCrop: crop {self.size} is larger than the padded '
                             f'images ({h}, {w}).')
        top = (torch.rand(b) * (h - th + 1)).long().clamp_(max=h - th).to(images.device)
        left = (torch.rand(b) * (w - tw + 1)).long().clamp_(max=w - tw).to(images.device)
        rows = (top[:, None] + torch.arange(th, device=images.device))[:, None, :, None]
        cols = (left[:, None] + torch.arange(tw, device=images.device))[:, None, None, :]
        batch = torch.arange(b, device=images.device)[:, None, None, None]
        chans = torch.arange(images.size(1), device=images.device)[None, :, None, None]
        return images[batch, chans, rows, cols]


@MODELS.register_module()
class BatchRandomResizedCrop(nn.Module):
    """A crop of random area and aspect ratio of each image, resized to ``size``
    (torchvision's ``RandomResizedCrop``: up to 10 tries per sample to fit a crop of
    area ``scale`` and log-uniform ratio ``ratio``, else the central crop with the ratio
    clamped into range).

    Args:
        size (int | tuple[int, int]): Output (height, width).
        scale (tuple[float, float]): Range of the crop's area fraction.
            Defaults to (0.08, 1.0).
        ratio (tuple[float, float]): Range of the crop's width / height.
            Defaults to (3/4, 4/3).
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3. / 4., 4. / 3.)):
        super().__init__()
        if not (0 < scale[0] <= scale[1]) or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f'BatchRandomResizedCrop: scale {scale} and ratio {ratio} must '
                             'be increasing ranges of positive numbers.')
        self.size, self.scale, self.ratio = _pair(size), tuple(scale), tuple(ratio)

    def boxes(self, b: int, h: int, w: int) -> torch.Tensor:
        """(B, 4) crop boxes (top, left, height, width) in pixels, drawn as torchvision."""
        tries = 10
        area = h * w * (self.scale[0] + (self.scale[1] - self.scale[0])
                        * torch.rand(b, tries, dtype=torch.float64))
        log_r = (math.log(self.ratio[0]) + (math.log(self.ratio[1]) - math.log(self.ratio[0]))
                 * torch.rand(b, tries, dtype=torch.float64))
        aspect = torch.exp(log_r)
        cw = torch.sqrt(area * aspect).round()
        ch = torch.sqrt(area / aspect).round()
        fits = (cw > 0) & (cw <= w) & (ch > 0) & (ch <= h)
        first = torch.where(fits.any(1), fits.float().argmax(1), torch.full((b,), -1))
        # the central fallback, ratio clamped into range
        in_ratio = w / h
        if in_ratio < self.ratio[0]:
            fw, fh = w, int(round(w / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            fw, fh = int(round(h * self.ratio[1])), h
        else:
            fw, fh = w, h
        pick = first.clamp(min=0)[:, None]
        cw = torch.where(first >= 0, cw.gather(1, pick).squeeze(1), torch.tensor(float(fw)))
        ch = torch.where(first >= 0, ch.gather(1, pick).squeeze(1), torch.tensor(float(fh)))
        top = torch.where(first >= 0, (torch.rand(b, dtype=torch.float64) * (h - ch + 1))
                          .floor(), torch.tensor(float((h - fh) // 2)))
        left = torch.where(first >= 0, (torch.rand(b, dtype=torch.float64) * (w - cw + 1))
                           .floor(), torch.tensor(float((w - fw) // 2)))
        return torch.stack([top, left, ch, cw], 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, _, h, w = images.shape
        return resized_crops(images, self.boxes(b, h, w), self.size)


def resized_crops(images: torch.Tensor, boxes: torch.Tensor, size) -> torch.Tensor:
    """Crop box ``k`` (top, left, height, width in pixels) of image ``k`` and resize it to
    ``size`` bilinearly, as ``F.interpolate(crop, size, mode='bilinear',
    align_corners=False)`` of each crop does (sampling points clamped to the crop), in one
    ``grid_sample`` for the batch."""
    b, _, h, w = images.shape
    oh, ow = _pair(size)
    boxes = boxes.to(device=images.device, dtype=torch.float32)
    top, left, ch, cw = boxes.unbind(1)
    dev = images.device
    ys = top[:, None] + (torch.arange(oh, device=dev) + 0.5) * (ch / oh)[:, None] - 0.5
    xs = left[:, None] + (torch.arange(ow, device=dev) + 0.5) * (cw / ow)[:, None] - 0.5
    ys = torch.minimum(torch.maximum(ys, top[:, None]), (top + ch - 1)[:, None])
    xs = torch.minimum(torch.maximum(xs, left[:, None]), (left + cw - 1)[:, None])
    # pixel -> grid_sample's normalised coordinates (align_corners=False)
    gy = ((2 * ys + 1) / h - 1)[:, :, None].expand(b, oh, ow)
    gx = ((2 * xs + 1) / w - 1)[:, None, :].expand(b, oh, ow)
    grid = torch.stack([gx, gy], -1)
    return F.grid_sample(images.float(), grid, mode='bilinear', padding_mode='border',
                         align_corners=False)


def _gray(images: torch.Tensor) -> torch.Tensor:
    """Luma as torchvision's ``rgb_to_grayscale`` computes it (0.2989 R + 0.587 G +
    0.114 B), (B, 1, H, W)."""
    r, g, b = images.unbind(1)
    return (0.2989 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


@MODELS.register_module()
class BatchColorJitter(nn.Module):
    """Random brightness, contrast, saturation and hue per sample (torchvision's
    ``ColorJitter``: factors uniform in ``[max(0, 1 - x), 1 + x]``, hue shift in
    ``[-hue, hue]``; the four applied in one random order per batch).

    Args:
        brightness (float): Defaults to 0.
        contrast (float): Defaults to 0.
        saturation (float): Defaults to 0 (needs 3 channels when non-zero).
        hue (float): At most 0.5. Defaults to 0 (needs 3 channels when non-zero).
        prob (float): Probability of jittering a sample at all (torchvision's
            ``RandomApply``). Defaults to 1.
        max_value (float): Pixel range maximum. Defaults to 255.
    """

    def __init__(self, brightness: float = 0., contrast: float = 0., saturation: float = 0.,
                 hue: float = 0., prob: float = 1., max_value: float = 255.):
        super().__init__()
        if not 0 <= hue <= 0.5:
            raise ValueError(f'BatchColorJitter: hue must be in [0, 0.5], got {hue}.')
        self.brightness, self.contrast = float(brightness), float(contrast)
        self.saturation, self.hue = float(saturation), float(hue)
        self.prob, self.max_value = float(prob), float(max_value)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, dev = len(images), images.device
        apply = (torch.rand(b) < self.prob).to(dev)[:, None, None, None]
        out = images.float()
        for op in torch.randperm(4).tolist():
            if op == 0 and self.brightness:
                f = _uniform(max(0., 1 - self.brightness), 1 + self.brightness, b, dev)
                out = (out * f[:, None, None, None]).clamp(0, self.max_value)
            elif op == 1 and self.contrast:
                f = _uniform(max(0., 1 - self.contrast), 1 + self.contrast, b, dev)
                mean = (_gray(out) if out.size(1) == 3 else out).mean((1, 2, 3), keepdim=True)
                out = (f[:, None, None, None] * out + (1 - f[:, None, None, None]) * mean
                       ).clamp(0, self.max_value)
            elif op == 2 and self.saturation:
                f = _uniform(max(0., 1 - self.saturation), 1 + self.saturation, b, dev)
                out = (f[:, None, None, None] * out + (1 - f[:, None, None, None]) * _gray(out)
                       ).clamp(0, self.max_value)
            elif op == 3 and self.hue:
                shift = _uniform(-self.hue, self.hue, b, dev)
                out = _shift_hue(out / self.max_value, shift) * self.max_value
        return torch.where(apply, out, images.float())


def _shift_hue(rgb: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue of (B, 3, H, W) images in [0, 1] by ``shift`` (B,) turns."""
    r, g, b = rgb.unbind(1)
    maxc, _ = rgb.max(1)
    minc, _ = rgb.min(1)
    v = maxc
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / maxc.clamp(min=1e-12), torch.zeros_like(maxc))
    d = delta.clamp(min=1e-12)
    h = torch.where(maxc == r, (g - b) / d,
                    torch.where(maxc == g, 2.0 + (b - r) / d, 4.0 + (r - g) / d))
    h = torch.where(delta > 0, (h / 6.0) % 1.0, torch.zeros_like(h))
    h = (h + shift[:, None, None]) % 1.0
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.long() % 6
    choices = [torch.stack(c, 1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v),
                                           (t, p, v), (v, p, q))]
    out = torch.zeros_like(rgb)
    for k, c in enumerate(choices):
        out = torch.where((i == k)[:, None], c, out)
    return out


@MODELS.register_module()
class BatchRandomGrayscale(nn.Module):
    """Turn each RGB image gray with probability ``prob`` (torchvision's
    ``RandomGrayscale``: the luma copied to the 3 channels).

    Args:
        prob (float): Defaults to 0.1.
    """

    def __init__(self, prob: float = 0.1):
        super().__init__()
        self.prob = float(prob)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.size(1) != 3:
            return images
        gray = (torch.rand(len(images)) < self.prob).to(images.device)[:, None, None, None]
        return torch.where(gray, _gray(images.float()).expand_as(images), images.float())


@MODELS.register_module()
class BatchGaussianBlur(nn.Module):
    """Gaussian blur with a per-sample sigma uniform in ``sigma`` (torchvision's
    ``GaussianBlur``; reflect padding), applied with probability ``prob``.

    Args:
        kernel_size (int): Odd kernel size.
        sigma (tuple[float, float]): Range of sigma. Defaults to (0.1, 2.0).
        prob (float): Defaults to 1.
    """

    def __init__(self, kernel_size: int, sigma=(0.1, 2.0), prob: float = 1.):
        super().__init__()
        if kernel_size % 2 != 1 or kernel_size < 1:
            raise ValueError(f'BatchGaussianBlur: kernel_size must be odd and positive, got '
                             f'{kernel_size}.')
        self.kernel_size, self.sigma, self.prob = int(kernel_size), tuple(sigma), float(prob)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, c, h, w = images.shape
        dev = images.device
        sigma = _uniform(self.sigma[0], self.sigma[1], b, dev)
        half = (self.kernel_size - 1) / 2
        x = torch.linspace(-half, half, self.kernel_size, device=dev)
        k = torch.exp(-0.5 * (x[None] / sigma[:, None]) ** 2)
        k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)       # (B*C, K)
        pad = self.kernel_size // 2
        flat = images.float().reshape(1, b * c, h, w)
        flat = F.conv2d(F.pad(flat, (pad, pad, 0, 0), mode='reflect'), k[:, None, None, :],
                        groups=b * c)
        flat = F.conv2d(F.pad(flat, (0, 0, pad, pad), mode='reflect'), k[:, None, :, None],
                        groups=b * c)
        blurred = flat.reshape(b, c, h, w)
        apply = (torch.rand(b) < self.prob).to(dev)[:, None, None, None]
        return torch.where(apply, blurred, images.float())


@MODELS.register_module()
class BatchRandomRotation(nn.Module):
    """Rotate each image by an angle uniform in ``[-degrees, degrees]`` about its centre
    (torchvision's ``RandomRotation`` with its defaults: nearest-neighbour sampling, the
    same size, pixels from outside the image set to ``fill``). A positive angle turns
    the image counter-clockwise, as torchvision's does.

    Args:
        degrees (float): Largest angle in degrees.
        fill (float): Value of the uncovered pixels. Defaults to 0.
    """

    def __init__(self, degrees: float, fill: float = 0.):
        super().__init__()
        if degrees < 0:
            raise ValueError(f'BatchRandomRotation: degrees must be >= 0, got {degrees}.')
        self.degrees, self.fill = float(degrees), float(fill)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, _, h, w = images.shape
        dev = images.device
        angle = _uniform(-self.degrees, self.degrees, b, dev) * (math.pi / 180.)
        cos, sin = torch.cos(angle), torch.sin(angle)
        # output pixel (x, y) in normalised coordinates reads the input at R(-angle)(x, y);
        # the aspect ratio enters because normalised x and y have different pixel scales
        theta = torch.zeros(b, 2, 3, device=dev)
        theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * h / w
        theta[:, 1, 0], theta[:, 1, 1] = sin * w / h, cos
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        images = images.float()
        out = F.grid_sample(images - self.fill, grid, mode='nearest', padding_mode='zeros',
                            align_corners=False)
        return out + self.fill
