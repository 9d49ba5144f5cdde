"""Segmentation overlays of the test stream (``tools/test.py --show-dir DIR``).

:class:`SegOverlayWriter` wraps a :class:`~clbox.evaluation.SegStreamEvaluator`: for each
test batch it asks the algorithm for its predictions once, hands them to the wrapped
evaluator (whose metrics are unchanged) and writes one PNG per image: the image, the
ground truth over it and the prediction over it, side by side (mmseg's ``--show-dir`` draws
the same two overlays). Files go to ``DIR/experience_<t>/<image name>.png``, ``t`` the
test experience; each is written whole through a temporary file.
"""
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np

from clbox.registry import EVALUATORS
from .classification import BaseStreamEvaluator
from .segmentation import SegStreamEvaluator


def default_palette(num_classes: int = 256) -> np.ndarray:
    """(num_classes, 3) RGB colours: the PASCAL VOC bit-interleaved palette (background
    black, class 1 dark red, ...), which VOC label PNGs use."""
    palette = np.zeros((num_classes, 3), dtype=np.uint8)
    for c in range(num_classes):
        value, bit = c, 7
        while value:
            for channel in range(3):
                palette[c, channel] |= ((value >> channel) & 1) << bit
            value >>= 3
            bit -= 1
    return palette


def overlay(image: np.ndarray, mask: np.ndarray, palette: np.ndarray,
            alpha: float = 0.5, ignore_index: int = 255) -> np.ndarray:
    """``image`` (H, W, 3 RGB uint8) blended with the colours of ``mask`` (H, W class ids);
    ``ignore_index`` pixels keep the image."""
    colours = palette[np.clip(mask, 0, len(palette) - 1)].astype(np.float32)
    out = image.astype(np.float32)
    keep = mask == ignore_index
    blended = (1 - alpha) * out + alpha * colours
    blended[keep] = out[keep]
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


class _Predicted:
    """Stands in for the algorithm: its attributes, with this batch's predictions."""

    def __init__(self, algorithm, predictions):
        self._algorithm, self._predictions = algorithm, predictions

    def predict_segmentation(self, data):
        return self._predictions

    def __getattr__(self, name):
        return getattr(self._algorithm, name)


@EVALUATORS.register_module()
class SegOverlayWriter(BaseStreamEvaluator):
    """Write prediction and ground-truth overlays while evaluating.

    Args:
        evaluator (dict | SegStreamEvaluator): The evaluator whose metrics are reported.
        show_dir (str): Folder of the PNGs (created).
        palette (Sequence, optional): RGB colour per class. Defaults to the dataset's
            ``palette`` metainfo when the test set has one, else :func:`default_palette`.
        alpha (float): Opacity of the class colours. Defaults to 0.5.

    Raises:
        ValueError: ``evaluator`` is not a segmentation evaluator.
    """

    def __init__(self, evaluator, show_dir: str, palette: Optional[Sequence] = None,
                 alpha: float = 0.5):
        self.evaluator = EVALUATORS.build(evaluator) if isinstance(evaluator, dict) \
            else evaluator
        if not isinstance(self.evaluator, SegStreamEvaluator):
            raise ValueError(
                f'--show-dir draws segmentation overlays; the config\'s test_evaluator is '
                f'{type(self.evaluator).__name__}, not a SegStreamEvaluator (for '
                f'classification use --out FILE.json for the per-sample predictions).')
        self.show_dir = show_dir
        self.palette = None if palette is None else np.asarray(palette, dtype=np.uint8)
        self.alpha = float(alpha)
        self.written = 0

    def reset(self, num_experiences: int, num_classes: int) -> None:
        self.evaluator.reset(num_experiences, num_classes)
        self.written = 0

    def process(self, algorithm, data: dict, experience_index: int) -> None:
        if experience_index > int(getattr(algorithm, 'experience_index', 0)):
            return self.evaluator.process(algorithm, data, experience_index)
        predictions = algorithm.predict_segmentation(data)
        self.evaluator.process(_Predicted(algorithm, predictions), data, experience_index)
        folder = osp.join(self.show_dir, f'experience_{experience_index}')
        os.makedirs(folder, exist_ok=True)
        for pred, label, path in zip(*predictions):
            self._write(folder, pred.cpu().numpy(), label.cpu().numpy(), path)

    def _palette(self, num: int) -> np.ndarray:
        if self.palette is not None:
            if len(self.palette) < num:
                raise ValueError(f'SegOverlayWriter: the palette has {len(self.palette)} '
                                 f'colours, the predictions need {num}; give one RGB '
                                 f'colour per class.')
            return self.palette
        return default_palette(256)

    def _write(self, folder: str, pred: np.ndarray, label: np.ndarray, path: str) -> None:
        import cv2

        from clbox.engine.utils import atomic_write
        image = cv2.imread(path, cv2.IMREAD_COLOR) if path else None
        if image is None:
            raise FileNotFoundError(f'--show-dir: cannot read the test image "{path}" to '
                                    f'draw on (the data sample\'s img_path).')
        image = image[..., ::-1]
        if image.shape[:2] != pred.shape:
            raise ValueError(f'--show-dir: prediction {pred.shape} and image '
                             f'{image.shape[:2]} of "{path}" differ in size.')
        palette = self._palette(int(max(pred.max(initial=0), 0)) + 1)
        ignore = self.evaluator.ignore_index
        panel = np.concatenate([image, overlay(image, label, palette, self.alpha, ignore),
                                overlay(image, pred, palette, self.alpha, ignore)], axis=1)
        ok, png = cv2.imencode('.png', np.ascontiguousarray(panel[..., ::-1]))
        name = osp.splitext(osp.basename(path))[0] + '.png'
        atomic_write(osp.join(folder, name), lambda f: f.write(png.tobytes()), mode='wb')
        self.written += 1

    def compute(self) -> dict:
        return self.evaluator.compute()
