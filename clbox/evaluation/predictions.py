"""Per-sample predictions of the test stream (``tools/test.py --out FILE``).

:class:`PredictionWriter` wraps a classification stream evaluator: for every test batch it
asks the algorithm for its scores once, records one line per sample, and hands the same
scores to the wrapped evaluator, whose metrics are unchanged. ``compute`` writes the
records atomically as JSON or CSV (by the file's extension; nothing is pickled).
"""
import csv
import json
import os.path as osp
from typing import List

import numpy as np

from clbox.registry import EVALUATORS
from .classification import BaseStreamEvaluator, ClsStreamEvaluator

FORMATS = ('.json', '.csv')


def check_out_path(path: str) -> str:
    """The format of ``path`` ('json' or 'csv') from its extension.

    Args:
        path (str): Output file.

    Returns:
        str: 'json' or 'csv'.

    Raises:
        ValueError: Another extension (``.pkl`` is refused: predictions are never pickled).
        FileNotFoundError: The folder of ``path`` does not exist.
    """
    ext = osp.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise ValueError(f'--out "{path}": the extension must be .json or .csv (got '
                         f'"{ext or "none"}"); predictions are never pickled.')
    folder = osp.dirname(osp.abspath(path))
    if not osp.isdir(folder):
        raise FileNotFoundError(f'--out "{path}": folder "{folder}" does not exist; create '
                                f'it first.')
    return ext[1:]


class _Scored:
    """Stands in for the algorithm: returns the scores already computed for the batch."""

    def __init__(self, scores, labels):
        self._out = (scores, labels)

    def predict_scores(self, data):
        return self._out


@EVALUATORS.register_module()
class PredictionWriter(BaseStreamEvaluator):
    """Record each test sample's prediction and write them when the stream is evaluated.

    One record per sample: ``experience`` (test experience index), ``sample_index`` (its
    index in that experience's dataset: the test loaders do not shuffle), ``pred_label``
    (top-1 class), ``gt_label`` and ``scores`` (the algorithm's ``predict_scores`` output
    for that sample, one value per head output: logits for most methods, rounded to 6
    decimals). CSV files have the columns ``experience, sample_index, pred_label,
    gt_label, score_0, ..., score_{C-1}``; JSON files hold ``{'num_classes', 'records'}``.

    Args:
        evaluator (dict | ClsStreamEvaluator): The evaluator whose metrics are reported.
        out (str): ``.json`` or ``.csv`` file to write.

    Raises:
        ValueError: ``out`` has another extension, or ``evaluator`` is not a
            classification evaluator.
    """

    def __init__(self, evaluator, out: str):
        self.format = check_out_path(out)
        self.out = out
        self.evaluator = EVALUATORS.build(evaluator) if isinstance(evaluator, dict) \
            else evaluator
        if not isinstance(self.evaluator, ClsStreamEvaluator):
            raise ValueError(
                f'--out writes classification predictions; the config\'s test_evaluator is '
                f'{type(self.evaluator).__name__}, not a ClsStreamEvaluator.')
        self.records: List[dict] = []

    def reset(self, num_experiences: int, num_classes: int) -> None:
        self.evaluator.reset(num_experiences, num_classes)
        self.records = []
        self._seen = [0] * num_experiences

    def process(self, algorithm, data: dict, experience_index: int) -> None:
        scores, labels = algorithm.predict_scores(data)
        self.evaluator.process(_Scored(scores, labels), data, experience_index)
        values = scores.detach().float().cpu().numpy()
        preds = values.argmax(1)
        rounded = np.round(values.astype(np.float64), 6)  # no float32 digits noise
        gts = labels.cpu().numpy()
        start = self._seen[experience_index]
        for i in range(len(gts)):
            self.records.append(dict(experience=experience_index, sample_index=start + i,
                                     pred_label=int(preds[i]), gt_label=int(gts[i]),
                                     scores=rounded[i].tolist()))
        self._seen[experience_index] = start + len(gts)

    def compute(self) -> dict:
        from mmengine.dist import get_world_size
        if get_world_size() > 1:
            raise RuntimeError('PredictionWriter (tools/test.py --out) collects the '
                               'predictions of one process: run it without a launcher.')
        result = self.evaluator.compute()
        self.write()
        return result

    def write(self) -> None:
        """Write the records to ``out`` atomically."""
        from clbox.engine.utils import atomic_write
        num_classes = max((len(r['scores']) for r in self.records), default=0)
        if self.format == 'json':
            atomic_write(self.out, lambda f: json.dump(
                dict(num_classes=num_classes, records=self.records), f))
            return

        def _csv(f):
            writer = csv.writer(f, lineterminator='\n')
            writer.writerow(['experience', 'sample_index', 'pred_label', 'gt_label']
                            + [f'score_{c}' for c in range(num_classes)])
            for r in self.records:
                writer.writerow([r['experience'], r['sample_index'], r['pred_label'],
                                 r['gt_label']] + r['scores'])
        atomic_write(self.out, _csv)
