"""Evaluation of a classifier on a whole test stream in one batched pass."""
from typing import Dict, List, Sequence

import numpy as np
import torch

from clbox.registry import EVALUATORS


class BaseStreamEvaluator:
    """Collects predictions over a test stream and turns them into one matrix row.

    The loops call :meth:`reset`, then :meth:`process` for every test batch (with the index
    of the test experience it belongs to), then :meth:`compute`. ``compute`` returns a dict
    with ``row`` (one score in [0, 100] per test experience: a row of the accuracy matrix),
    ``metrics`` (name -> float, logged as scalars) and ``details`` (arrays such as the
    confusion matrix, written to results but not logged as scalars).
    """

    def reset(self, num_experiences: int, num_classes: int) -> None:
        raise NotImplementedError

    def process(self, algorithm, data: dict, experience_index: int) -> None:
        raise NotImplementedError

    def compute(self) -> dict:
        raise NotImplementedError


@EVALUATORS.register_module()
class ClsStreamEvaluator(BaseStreamEvaluator):
    """Top-1 accuracy per test experience, top-k, per-class accuracy, mean class accuracy,
    the confusion matrix and the mean cross-entropy of the scores (``metrics['loss']`` over
    the stream, ``details['loss_per_experience']``), from one pass over the test stream.

    Args:
        topk (Sequence[int]): k values of top-k accuracy. Defaults to (1, 5).
    """

    def __init__(self, topk: Sequence[int] = (1, 5)):
        self.topk = tuple(topk)

    def reset(self, num_experiences: int, num_classes: int) -> None:
        self.num_experiences, self.num_classes = num_experiences, num_classes
        self._correct = np.zeros((len(self.topk), num_experiences), dtype=np.int64)
        self._count = np.zeros(num_experiences, dtype=np.int64)
        self._confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
        self._loss = np.zeros(num_experiences, dtype=np.float64)

    def process(self, algorithm, data: dict, experience_index: int) -> None:
        scores, labels = algorithm.predict_scores(data)
        if scores.size(1) > self.num_classes:  # the head may have more outputs than the
            self._grow(scores.size(1))          # classes present in the test stream
        maxk = min(max(self.topk), scores.size(1))
        top = scores.topk(maxk, dim=1).indices
        hits = top == labels[:, None]
        for i, k in enumerate(self.topk):
            self._correct[i, experience_index] += int(hits[:, :k].any(1).sum())
        self._count[experience_index] += len(labels)
        pred = top[:, 0].cpu().numpy()
        np.add.at(self._confusion, (labels.cpu().numpy(), pred), 1)
        self._loss[experience_index] += float(torch.nn.functional.cross_entropy(
            scores.float(), labels.long(), reduction='sum'))

    def _grow(self, num_classes: int) -> None:
        grown = np.zeros((num_classes, num_classes), dtype=np.int64)
        grown[:self.num_classes, :self.num_classes] = self._confusion
        self._confusion, self.num_classes = grown, num_classes

    def _sync(self) -> None:
        """Sum the counts of every rank (evaluation loaders split the stream without
        padding, so the sums are exact)."""
        from mmengine.dist import all_reduce, get_world_size
        if get_world_size() == 1:
            return
        for name in ('_correct', '_count', '_confusion', '_loss'):
            tensor = torch.from_numpy(getattr(self, name))
            all_reduce(tensor, op='sum')
            setattr(self, name, tensor.numpy())

    def compute(self) -> dict:
        self._sync()
        count = np.maximum(self._count, 1)
        row = (100.0 * self._correct[0] / count).tolist()
        total = max(int(self._count.sum()), 1)
        metrics: Dict[str, float] = {
            f'top{k}': 100.0 * float(self._correct[i].sum()) / total
            for i, k in enumerate(self.topk)}
        per_class_n = self._confusion.sum(1)
        present = per_class_n > 0
        per_class = np.full(self.num_classes, np.nan)
        per_class[present] = 100.0 * np.diag(self._confusion)[present] / per_class_n[present]
        metrics['mean_class_accuracy'] = float(np.nanmean(per_class)) if present.any() else 0.0
        metrics['loss'] = float(self._loss.sum()) / total      # mean cross-entropy
        return dict(row=row, metrics=metrics,
                    details=dict(per_class_accuracy=per_class.tolist(),
                                 confusion_matrix=self._confusion.tolist(),
                                 loss_per_experience=(self._loss / count).tolist()))
