"""Continual metrics on a hand-written accuracy matrix."""
import pytest

from clbox.evaluation import (average_accuracy, average_forgetting, backward_transfer,
                              forward_transfer, summarize)

R = [[90, 10, 20],
     [60, 80, 30],
     [50, 70, 85]]
B = [10, 15, 25]


def test_matrix_metrics_by_hand():
    assert average_accuracy(R) == pytest.approx((50 + 70 + 85) / 3)
    assert backward_transfer(R) == pytest.approx(((50 - 90) + (70 - 80)) / 2)
    assert forward_transfer(R, B) == pytest.approx(((10 - 15) + (30 - 25)) / 2)
    assert average_forgetting(R) == pytest.approx(((90 - 50) + (80 - 70)) / 2)


def test_undefined_metrics_are_left_out():
    assert backward_transfer([[50, 0]]) is None
    assert forward_transfer(R, None) is None
    out = summarize([[50, 0]], None, [dict(metrics=dict(mean_class_accuracy=40.0))])
    assert out == dict(average_accuracy=25.0, amca=40.0, last_mean_class_accuracy=40.0)


def test_amca_is_mean_of_mean_class_accuracies():
    history = [dict(metrics=dict(mean_class_accuracy=v)) for v in (30.0, 50.0, 70.0)]
    assert summarize(R, B, history)['amca'] == pytest.approx(50.0)


def test_mean_class_accuracy_is_sslad_amca_per_point():
    """SSLAD Track 3A (Avalanche's StreamClassAccuracy, ../shared/specs/sslad-3a.md sec. 2):
    per evaluation point, the unweighted mean over the classes present in the pooled test
    set of the share of each class's samples whose argmax over the 7 logits is the class;
    AMCA the mean of those over the points."""
    import numpy as np
    import torch

    from clbox.evaluation import ClsStreamEvaluator

    class _Scores:
        def __init__(self, scores, labels):
            self.scores, self.labels = scores, labels

        def predict_scores(self, data):
            return self.scores[data], self.labels[data]

    g = torch.Generator().manual_seed(0)
    mcas = []
    for point in range(6):
        labels = torch.randint(1, 7, (300,), generator=g)
        labels[labels == 5] = 4                       # class 5 absent: not averaged
        scores = torch.randn(300, 7, generator=g)
        scores[torch.arange(300), labels] += 0.5 * point   # later points: better
        ev = ClsStreamEvaluator(topk=(1,))
        ev.reset(1, 7)
        for batch in torch.arange(300).split(64):      # batches of the pooled V1 + V2
            ev.process(_Scores(scores, labels), batch, 0)
        out = ev.compute()
        pred = scores.argmax(1)
        present = sorted(set(labels.tolist()))
        expected = np.mean([float((pred[labels == c] == c).float().mean()) for c in present])
        assert out['metrics']['mean_class_accuracy'] == pytest.approx(100 * expected)
        per_class = out['details']['per_class_accuracy']
        assert np.isnan(per_class[0]) and np.isnan(per_class[5])
        mcas.append(out['metrics']['mean_class_accuracy'])
    history = [dict(metrics=dict(mean_class_accuracy=m)) for m in mcas]
    summary = summarize([[0.0]] * 6, None, history)
    assert summary['amca'] == pytest.approx(np.mean(mcas))
    assert summary['last_mean_class_accuracy'] == mcas[-1]


def test_forgetting_per_experience_and_the_evaluator_loss():
    import math

    import torch

    from clbox.evaluation.classification import ClsStreamEvaluator
    from clbox.evaluation.continual import average_forgetting, forgetting_per_experience
    rows = [[90.0, 10.0, 0.0], [70.0, 80.0, 5.0], [60.0, 85.0, 75.0]]
    # exp 0: max(90, 70) - 60; exp 1: max(10, 80) - 85 (it improved); exp 2: not yet
    assert forgetting_per_experience(rows) == [30.0, -5.0, None]
    assert average_forgetting(rows) == 12.5
    assert forgetting_per_experience(rows[:1]) == [None, None, None]

    class Scores:
        def __init__(self, scores, labels):
            self.out = (scores, labels)

        def predict_scores(self, data):
            return self.out
    g = torch.Generator().manual_seed(0)
    evaluator = ClsStreamEvaluator(topk=(1, ))
    evaluator.reset(2, 4)
    batches = [(torch.randn(5, 4, generator=g), torch.randint(0, 4, (5, ), generator=g), j)
               for j in (0, 1, 1)]
    for scores, labels, j in batches:
        evaluator.process(Scores(scores, labels), {}, j)
    out = evaluator.compute()
    ce = {0: [], 1: []}
    for scores, labels, j in batches:
        for z, y in zip(scores.tolist(), labels.tolist()):
            ce[j].append(math.log(sum(math.exp(v) for v in z)) - z[y])
    assert out['details']['loss_per_experience'] == [
        pytest.approx(sum(ce[0]) / 5, rel=1e-5), pytest.approx(sum(ce[1]) / 10, rel=1e-5)]
    assert out['metrics']['loss'] == pytest.approx((sum(ce[0]) + sum(ce[1])) / 15, rel=1e-5)
