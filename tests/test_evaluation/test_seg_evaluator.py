"""SegStreamEvaluator: mIoU of base / new / all seen classes, computed by hand."""
import pytest
import torch

from clbox.evaluation import SegStreamEvaluator


class FakeAlgorithm:
    """Returns fixed predictions; classes 0-2 from step 0, 3 from step 1."""

    def __init__(self, step, preds):
        self.experience_index = step
        self.seen_classes = [0, 1, 2] if step == 0 else [0, 1, 2, 3]
        self.current_classes = [0, 1, 2] if step == 0 else [3]
        self.step_classes = {'0': [0, 1, 2], '1': [3]}
        self.preds = preds

    def predict_segmentation(self, data):
        return [self.preds[p] for p in data['paths']], data['labels'], data['paths']


def test_miou_groups_by_hand():
    label = torch.tensor([[0, 1, 3, 255]])
    pred = torch.tensor([[0, 1, 0, 2]])
    ev = SegStreamEvaluator()
    ev.reset(2, 4)
    alg = FakeAlgorithm(1, {'a': pred})
    ev.process(alg, dict(paths=['a'], labels=[label]), 0)
    ev.process(alg, dict(paths=['a'], labels=[label]), 1)  # same image: counted once
    out = ev.compute()
    # class 0: inter 1, union 2 -> 50; class 1: 100; class 2: never present -> NaN; class 3: 0
    assert out['details']['per_class_iou'] == [50.0, 100.0, None, 0.0]
    assert out['metrics']['mIoU_base'] == pytest.approx(75.0)
    assert out['metrics']['mIoU_new'] == pytest.approx(0.0)
    assert out['metrics']['mIoU_all'] == pytest.approx(50.0)
    assert out['row'] == pytest.approx([75.0, 0.0])


def test_unseen_classes_are_ignored_at_step_0():
    label = torch.tensor([[0, 1, 3]])
    pred = torch.tensor([[0, 1, 0]])
    ev = SegStreamEvaluator()
    ev.reset(2, 4)
    alg = FakeAlgorithm(0, {'a': pred})
    ev.process(alg, dict(paths=['a'], labels=[label]), 0)
    ev.process(alg, dict(paths=['b'], labels=[label]), 1)  # future step: skipped
    out = ev.compute()
    assert out['metrics']['mIoU_all'] == pytest.approx(100.0)  # pixel of class 3 ignored
    assert 'mIoU_new' not in out['metrics'] and out['row'] == [100.0, 0.0]
    ev = SegStreamEvaluator(unseen='background')
    ev.reset(2, 4)
    ev.process(alg, dict(paths=['a'], labels=[label]), 0)
    assert ev.compute()['details']['per_class_iou'][0] == pytest.approx(100.0)
