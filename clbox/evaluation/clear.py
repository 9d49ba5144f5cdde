"""The CLEAR benchmark's metrics, from the accuracy matrix.

Lin et al., "The CLEAR Benchmark: Continual LEArning on Real-World Imagery", NeurIPS 2021
Datasets and Benchmarks track (arXiv:2201.06289), Sec. 5, define them on the matrix
``R[i][j]`` = accuracy on test bucket ``j`` after training on bucket ``i`` (the same
definitions as Avalanche's ``CLEARMetric``, written by the CLEAR authors):

* in-domain accuracy: mean of the diagonal, ``R[i][i]``;
* next-domain accuracy: mean of the superdiagonal, ``R[i][i+1]`` (the streaming protocol's
  headline number: test on the near future);
* accuracy: mean of the diagonal and everything below it (buckets seen so far);
* backward transfer: mean of the strict lower triangle, ``R[i][j], j < i``;
* forward transfer: mean of the strict upper triangle, ``R[i][j], j > i``.

These are averages of accuracies, not differences: CLEAR's BwT/FwT differ from GEM's
(``clbox.evaluation.continual``), so they are reported under a ``clear/`` prefix. While the
stream runs the matrix has ``t`` rows and ``T >= t`` columns; every mean is then over the
cells defined so far, and a metric with no cell yet is left out.
"""
from typing import Dict, List, Sequence

import numpy as np


def _matrix(rows: Sequence[Sequence[float]]) -> np.ndarray:
    R = np.asarray(rows, dtype=np.float64)
    if R.ndim != 2 or R.shape[0] == 0:
        raise ValueError(f'the accuracy matrix must be a non-empty list of rows, got shape '
                         f'{R.shape}.')
    if R.shape[1] < R.shape[0]:
        raise ValueError(f'the accuracy matrix has {R.shape[0]} rows but only {R.shape[1]} '
                         'columns; CLEAR metrics need one test bucket per training bucket.')
    return R


def _mean(cells: List[float]):
    return float(np.mean(cells)) if cells else None


def in_domain(rows) -> float:
    """Mean of ``R[i][i]``."""
    R = _matrix(rows)
    return _mean([R[i, i] for i in range(R.shape[0])])


def next_domain(rows):
    """Mean of ``R[i][i+1]``; None before a next bucket exists."""
    R = _matrix(rows)
    return _mean([R[i, i + 1] for i in range(R.shape[0]) if i + 1 < R.shape[1]])


def seen_accuracy(rows) -> float:
    """Mean of ``R[i][j]`` for ``j <= i`` (CLEAR's "accuracy")."""
    R = _matrix(rows)
    return _mean([R[i, j] for i in range(R.shape[0]) for j in range(i + 1)])


def clear_backward_transfer(rows):
    """Mean of ``R[i][j]`` for ``j < i``; None after one bucket."""
    R = _matrix(rows)
    return _mean([R[i, j] for i in range(R.shape[0]) for j in range(i)])


def clear_forward_transfer(rows):
    """Mean of ``R[i][j]`` for ``j > i``; None when no future bucket exists."""
    R = _matrix(rows)
    return _mean([R[i, j] for i in range(R.shape[0]) for j in range(i + 1, R.shape[1])])


def clear_metrics(rows) -> Dict[str, float]:
    """Every CLEAR metric defined for ``rows``, keyed ``clear/<name>``.

    Args:
        rows (list[list[float]]): Accuracy matrix rows so far (percent).

    Returns:
        dict: ``clear/in_domain``, ``clear/next_domain``, ``clear/accuracy``,
        ``clear/backward_transfer``, ``clear/forward_transfer`` (those defined).
    """
    metrics = {'clear/in_domain': in_domain(rows), 'clear/next_domain': next_domain(rows),
               'clear/accuracy': seen_accuracy(rows),
               'clear/backward_transfer': clear_backward_transfer(rows),
               'clear/forward_transfer': clear_forward_transfer(rows)}
    return {k: v for k, v in metrics.items() if v is not None}
