"""Batched augmentations: per-sample parameters, and each sample's result equal to the
single-image transform with those parameters (torchvision's functional ops)."""
import math

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF

from clbox.models.augments import (BatchAugments, BatchColorJitter, BatchGaussianBlur,
                                   BatchRandomCrop, BatchRandomFlip, BatchRandomGrayscale,
                                   BatchRandomResizedCrop, _shift_hue, resized_crops)


def _images(b=16, c=3, h=12, w=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, c, h, w), generator=g, dtype=torch.uint8)


def test_flip_is_per_sample():
    x = _images().float()
    torch.manual_seed(0)
    out = BatchRandomFlip(0.5)(x)
    flipped = [bool(torch.equal(o, i.flip(2))) for o, i in zip(out, x)]
    kept = [bool(torch.equal(o, i)) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 0 < sum(flipped) < len(x)
    assert torch.equal(BatchRandomFlip(1.0, 'vertical')(x), x.flip(2 + 0))


def test_random_crop_takes_one_window_of_the_padded_image_per_sample():
    x = _images().float()
    torch.manual_seed(1)
    out = BatchRandomCrop((12, 10), padding=3)(x)
    padded = F.pad(x, [3] * 4)
    offsets = set()
    for o, p in zip(out, padded):
        hits = [(t, l) for t in range(7) for l in range(7)
                if torch.equal(p[:, t:t + 12, l:l + 10], o)]
        assert hits
        offsets.add(hits[0])
    assert len(offsets) > 3


def test_resized_crop_of_a_box_equals_crop_then_bilinear_resize():
    x = _images(b=2, h=20, w=16).float()
    boxes = torch.tensor([[2., 3., 8., 6.], [0., 0., 20., 16.]])
    out = resized_crops(x, boxes, (16, 12))
    want = F.interpolate(x[:1, :, 2:10, 3:9], size=(16, 12), mode='bilinear',
                         align_corners=False)
    assert torch.allclose(out[:1], want, atol=1e-3)
    same = resized_crops(x[1:], boxes[1:], (20, 16))
    assert torch.allclose(same, x[1:], atol=1e-3)


def test_random_resized_crop_boxes_follow_torchvision_rules():
    torch.manual_seed(2)
    aug = BatchRandomResizedCrop(8, scale=(0.2, 0.9), ratio=(0.5, 2.0))
    boxes = aug.boxes(500, 30, 40)
    top, left, h, w = boxes.unbind(1)
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + h <= 30).all() and (left + w <= 40).all()
    area = h * w / (30 * 40)
    # rounding of sqrt(area * ratio) moves the area a little outside the range
    assert area.min() > 0.15 and area.max() < 0.95
    assert (w / h).min() > 0.4 and (w / h).max() < 2.3
    assert len(set(map(tuple, boxes.tolist()))) > 400
    # no crop of that area fits in 10 tries: the central crop with the ratio clamped
    fallback = BatchRandomResizedCrop(4, scale=(5.0, 6.0), ratio=(1.0, 1.0)).boxes(3, 10, 20)
    assert fallback.tolist() == [[0., 5., 10., 10.]] * 3
    assert aug(_images(b=4, h=30, w=40)).shape == (4, 3, 8, 8)


def test_color_jitter_brightness_contrast_saturation_match_torchvision():
    x = _images(b=6).float()
    for kw, fn in ((dict(brightness=0.4), TF.adjust_brightness),
                   (dict(contrast=0.4), TF.adjust_contrast),
                   (dict(saturation=0.4), TF.adjust_saturation)):
        torch.manual_seed(3)
        out = BatchColorJitter(**kw)(x)
        # the draws the module makes: who is jittered, the order, then the factors
        torch.manual_seed(3)
        torch.rand(6)
        torch.randperm(4)
        factors = 0.6 + 0.8 * torch.rand(6)
        for o, i, f in zip(out, x, factors.tolist()):
            assert torch.allclose(o, fn(i / 255, f) * 255, atol=1e-3), (kw, f)
        assert len({round(f, 3) for f in factors.tolist()}) == 6


def test_hue_shift_matches_torchvision():
    x = _images(b=4).float() / 255
    for shift in (0.0, 0.1, -0.27, 0.5):
        got = _shift_hue(x, torch.full((4,), shift))
        want = torch.stack([TF.adjust_hue(i, shift) for i in x])
        assert torch.allclose(got, want, atol=1e-4), shift


def test_grayscale_and_blur_match_torchvision():
    x = _images(b=8, h=9, w=11).float()
    torch.manual_seed(4)
    out = BatchRandomGrayscale(0.5)(x)
    gray = [bool(torch.allclose(o, TF.rgb_to_grayscale(i, 3), atol=1e-3)) for o, i in zip(out, x)]
    assert 0 < sum(gray) < 8
    assert all(g or torch.equal(o, i) for g, o, i in zip(gray, out, x))
    blur = BatchGaussianBlur(5, sigma=(1.3, 1.3))(x)
    assert torch.allclose(blur, TF.gaussian_blur(x, [5, 5], [1.3, 1.3]), atol=1e-3)


def test_sequence_from_config_and_bad_arguments():
    aug = BatchAugments([dict(type='BatchRandomCrop', size=8, padding=2),
                         dict(type='BatchRandomFlip')])
    out = aug(_images(b=5, h=8, w=8))
    assert out.dtype == torch.float32 and out.shape == (5, 3, 8, 8)
    with pytest.raises(ValueError, match='direction'):
        BatchRandomFlip(direction='diagonal')
    with pytest.raises(ValueError, match='larger'):
        BatchRandomCrop(20)(_images(h=8, w=8).float())
    with pytest.raises(ValueError, match='odd'):
        BatchGaussianBlur(4)
    with pytest.raises(ValueError, match='hue'):
        BatchColorJitter(hue=0.7)
    assert math.isclose(BatchColorJitter(brightness=0.0)(_images().float()).sum().item(),
                        _images().float().sum().item())
