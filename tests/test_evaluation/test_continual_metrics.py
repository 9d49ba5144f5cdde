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
