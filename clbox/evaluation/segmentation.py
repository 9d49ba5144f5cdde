"""Continual segmentation metrics: mIoU on base, new and all seen classes after each step."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmseg.evaluation.metrics import IoUMetric

from clbox.dist import gather_objects, world
from clbox.registry import EVALUATORS
from .classification import BaseStreamEvaluator


def iou_from_areas(intersect: np.ndarray, union: np.ndarray) -> np.ndarray:
    """Per-class IoU in percent; NaN where the class is absent from labels and predictions."""
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(union > 0, 100.0 * intersect / np.maximum(union, 1), np.nan)


def mean_iou(iou: np.ndarray, classes: Sequence[int]) -> Optional[float]:
    """Mean of ``iou`` over ``classes`` ignoring NaN; None when nothing is defined."""
    values = iou[list(classes)] if len(classes) else np.array([])
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else None


@EVALUATORS.register_module()
class SegStreamEvaluator(BaseStreamEvaluator):
    """mIoU after a step, the MiB/PLOP way.

    The test set of step ``t`` is the union of test experiences ``0..t`` (each image once,
    by path); pixels of classes not seen yet are ignored (MiB) or counted as background
    (``unseen='background'``, PLOP's code). Predictions are over the seen classes (the
    algorithm's ``predict_segmentation``). Per-class IoU uses mmseg's
    ``IoUMetric.intersect_and_union``.

    ``metrics``: ``mIoU_base`` (step-0 classes, background included: the papers' "0-15"),
    ``mIoU_new`` (classes added after step 0: "16-20"; absent at step 0), ``mIoU_current``
    (this step's classes), ``mIoU_all`` (every seen class) and ``mIoU_old`` (classes seen
    before this step; absent at step 0). ``row[i]`` is the mIoU of step ``i``'s classes
    (0 for steps not reached). ``details`` holds per-class IoU by class index.

    Args:
        unseen (str): 'ignore' or 'background'. Defaults to 'ignore'.
        ignore_index (int): Defaults to 255.
    """

    def __init__(self, unseen: str = 'ignore', ignore_index: int = 255):
        if unseen not in ('ignore', 'background'):
            raise ValueError(f"unseen must be 'ignore' or 'background', got {unseen!r}.")
        self.unseen = unseen
        self.ignore_index = ignore_index

    def reset(self, num_experiences: int, num_classes: int) -> None:
        self.num_experiences, self.num_classes = num_experiences, num_classes
        self._intersect = np.zeros(num_classes)
        self._union = np.zeros(num_classes)
        self._label_area = np.zeros(num_classes)
        self._per_image: Dict[str, np.ndarray] = {}   # path -> (intersect, union, area)
        self._unnamed = np.zeros((3, num_classes))   # images without a path
        self._seen: List[int] = []
        self._current: List[int] = []
        self._step = 0
        self._by_step: Dict[int, List[int]] = {}

    def process(self, algorithm, data: dict, experience_index: int) -> None:
        self._step = int(getattr(algorithm, 'experience_index', 0))
        self._by_step = {int(k): list(v) for k, v in
                         getattr(algorithm, 'step_classes', {}).items()}
        self._seen = sorted(set(algorithm.seen_classes) | set(algorithm.current_classes))
        self._current = list(algorithm.current_classes)
        if experience_index > self._step:
            return  # a future step: MiB does not test on it yet
        preds, labels, paths = algorithm.predict_segmentation(data)
        seen = torch.zeros(256, dtype=torch.bool)
        seen[self._seen] = True
        for pred, label, path in zip(preds, labels, paths):
            if path and path in self._per_image:
                continue
            label = label.cpu().clone()
            unseen = ~seen[label.clamp(0, 255)] & (label != self.ignore_index)
            label[unseen] = 0 if self.unseen == 'background' else self.ignore_index
            inter, union, _, area = IoUMetric.intersect_and_union(
                pred.cpu(), label, self.num_classes, self.ignore_index)
            areas = np.stack([inter.numpy(), union.numpy(), area.numpy()])
            if path:
                self._per_image[path] = areas
            else:
                self._unnamed += areas

    def _totals(self) -> np.ndarray:
        """(intersect, union, label area) summed over images, each image once over all
        ranks: the test experiences of an overlapped protocol share images, and two
        ranks may hold the same image in different experiences."""
        per_image, unnamed = self._per_image, self._unnamed
        if world()[1] > 1:
            merged = {}
            unnamed = np.zeros_like(self._unnamed)
            for images, rest in gather_objects((self._per_image, self._unnamed)):
                for path, areas in images.items():
                    merged.setdefault(path, areas)
                unnamed = unnamed + rest
            per_image = merged
        total = unnamed.copy()
        for areas in per_image.values():
            total += areas
        return total

    def compute(self) -> dict:
        self._intersect, self._union, self._label_area = self._totals()
        iou = iou_from_areas(self._intersect, self._union)
        step_classes = dict(sorted(self._by_step.items()))
        row = []
        for i in range(self.num_experiences):
            value = mean_iou(iou, step_classes.get(i, [])) if i <= self._step else None
            row.append(value if value is not None else 0.0)
        base = step_classes.get(0, [])
        current = self._current
        groups = dict(mIoU_all=self._seen, mIoU_base=base,
                      mIoU_new=[c for c in self._seen if c not in base],
                      mIoU_current=current,
                      mIoU_old=[c for c in self._seen if c not in current])
        metrics = {}
        for name, classes in groups.items():
            value = mean_iou(iou, classes)
            if value is not None and (name not in ('mIoU_new', 'mIoU_old') or self._step > 0):
                metrics[name] = value
        acc = self._intersect[self._seen].sum() / max(self._label_area[self._seen].sum(), 1)
        metrics['aAcc'] = 100.0 * float(acc)
        return dict(row=row, metrics=metrics,
                    details=dict(per_class_iou=[None if np.isnan(v) else float(v)
                                                for v in iou],
                                 classes_by_step={str(k): v for k, v in step_classes.items()}))
