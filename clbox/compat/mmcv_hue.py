"""mmcv's ``adjust_hue`` under NumPy 2 (a third incompatibility of the verified stack).

``mmcv.image.photometric.adjust_hue`` shifts the hue channel by ``np.uint8(hue_factor *
255)``. NumPy 1 wrapped a negative value modulo 256; NumPy >= 2 raises ``OverflowError``
("Python integer -12 out of bounds for uint8"), so mmpretrain's ``ColorJitter`` with a
``hue`` range (SimSiam's 0.1, MoCo's, ...) fails on about half of its draws.
:func:`adjust_hue` is the same operation with the wrap written out (the shift is the
integer part of ``hue_factor * 255``, modulo 256, as NumPy 1 computed it), installed in
place of mmcv's by :func:`install_adjust_hue_fix`.
"""
import numpy as np


def adjust_hue(img: np.ndarray, hue_factor: float, backend=None) -> np.ndarray:
    """Shift the hue of a BGR image cyclically by ``hue_factor`` of a full turn.

    Args:
        img (np.ndarray): (H, W, 3) BGR image (or (H, W)).
        hue_factor (float): In ``[-0.5, 0.5]``.
        backend (str, optional): 'cv2' or 'pillow'; None uses mmcv's image backend.

    Returns:
        np.ndarray: The adjusted image, of ``img``'s dtype.
    """
    import cv2
    import mmcv.image.photometric as photometric
    from PIL import Image
    backend = backend or photometric.imread_backend
    if backend not in ('cv2', 'pillow'):
        raise ValueError(f"backend: {backend} is not supported. Supported backends are "
                         "'cv2', 'pillow'")
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not (isinstance(img, np.ndarray) and img.ndim in (2, 3)):
        raise TypeError('img should be ndarray with dim=[2 or 3].')
    shift = np.uint8(int(hue_factor * 255) % 256)
    if backend == 'pillow':
        if img.dtype != np.uint8:
            raise TypeError('the pillow backend of adjust_hue needs a uint8 image.')
        rgb = Image.fromarray(np.ascontiguousarray(img[..., ::-1]), mode='RGB')
        h, s, v = rgb.convert('HSV').split()
        hue = np.array(h, dtype=np.uint8)
        with np.errstate(over='ignore'):
            hue += shift
        out = Image.merge('HSV', (Image.fromarray(hue, 'L'), s, v)).convert('RGB')
        return np.array(out, dtype=img.dtype)[..., ::-1]
    dtype = img.dtype
    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    h, s, v = cv2.split(hsv)
    h = h.astype(np.uint8)
    with np.errstate(over='ignore'):
        h += shift
    return cv2.cvtColor(cv2.merge([h, s, v]), cv2.COLOR_HSV2BGR_FULL).astype(dtype)


def install_adjust_hue_fix() -> None:
    """Replace mmcv's ``adjust_hue`` (``mmcv``, ``mmcv.image``, ``mmcv.image.photometric``)
    when NumPy raises on its negative shifts; a no-op under NumPy 1."""
    try:
        np.uint8(-12)
        return
    except OverflowError:
        pass
    import mmcv
    import mmcv.image
    import mmcv.image.photometric
    for module in (mmcv, mmcv.image, mmcv.image.photometric):
        module.adjust_hue = adjust_hue
