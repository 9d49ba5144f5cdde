"""Continual metrics computed from the accuracy matrix.

``R[i][j]`` is the accuracy on test experience ``j`` after training on experience ``i``
(Lopez-Paz & Ranzato, "Gradient Episodic Memory", NeurIPS 2017, Sec. 4). With ``T`` rows:

* average accuracy ``ACC = mean_j R[T-1][j]``
* backward transfer ``BWT = mean_{j<T-1} (R[T-1][j] - R[j][j])``
* forward transfer ``FWT = mean_{j>0} (R[j-1][j] - b[j])`` with ``b`` the accuracies of the
  model before any training
* average forgetting (Chaudhry et al., RWalk, ECCV 2018, Eq. 3):
  ``F = mean_{j<T-1} max_{l<T-1} (R[l][j] - R[T-1][j])``
"""
from typing import Dict, Optional, Sequence

import numpy as np


def _matrix(rows: Sequence[Sequence[float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


def average_accuracy(rows) -> float:
    """Mean accuracy over test experiences after the last training experience."""
    return float(np.mean(_matrix(rows)[-1]))


def backward_transfer(rows) -> Optional[float]:
    """GEM's BWT; None until two experiences are done or when the matrix is not square."""
    R = _matrix(rows)
    t = R.shape[0]
    if t < 2 or R.shape[1] < t:
        return None
    return float(np.mean([R[-1, j] - R[j, j] for j in range(t - 1)]))


def forward_transfer(rows, initial: Optional[Sequence[float]]) -> Optional[float]:
    """GEM's FWT against the accuracies ``initial`` of the untrained model."""
    R = _matrix(rows)
    t = R.shape[0]
    if initial is None or t < 2 or R.shape[1] < t:
        return None
    b = np.asarray(initial, dtype=np.float64)
    return float(np.mean([R[j - 1, j] - b[j] for j in range(1, t)]))


def average_forgetting(rows) -> Optional[float]:
    """RWalk's average forgetting over all but the last test experience seen."""
    R = _matrix(rows)
    t = R.shape[0]
    if t < 2:
        return None
    cols = range(min(t - 1, R.shape[1]))
    return float(np.mean([np.max(R[:t - 1, j]) - R[-1, j] for j in cols])) if cols else None


def forgetting_per_experience(rows) -> list:
    """Each test experience's forgetting after the last row: ``max_{l<T-1} R[l][j] -
    R[T-1][j]`` (RWalk's, Eq. 3, the terms of :func:`average_forgetting`) for the
    experiences seen before the last one, None for the others. Avalanche's
    ``ExperienceForgetting`` takes ``R[j][j]`` (the accuracy right after training on ``j``)
    instead of the maximum; the two agree while accuracy only falls."""
    R = _matrix(rows)
    t = R.shape[0]
    return [float(np.max(R[:t - 1, j]) - R[-1, j]) if j < t - 1 else None
            for j in range(R.shape[1])]


def stream_metrics(rows, initial: Optional[Sequence[float]] = None) -> Dict[str, float]:
    """Every matrix-level metric that is defined for ``rows`` (None ones are left out)."""
    metrics = dict(average_accuracy=average_accuracy(rows),
                   backward_transfer=backward_transfer(rows),
                   forward_transfer=forward_transfer(rows, initial),
                   average_forgetting=average_forgetting(rows))
    return {k: v for k, v in metrics.items() if v is not None}


def summarize(matrix, initial_row=None, history=None) -> Dict[str, float]:
    """Stream metrics plus the last evaluation's metrics and AMCA.

    AMCA (average mean class accuracy, the SSLAD-2021 Track 3A metric) is the mean, over
    the evaluations after each experience, of the mean per-class accuracy on the test set.

    Args:
        matrix: Accuracy matrix rows so far.
        initial_row: Accuracies of the untrained model (for forward transfer).
        history (list[dict]): Per-experience ``{'metrics': {...}}`` records.
    """
    if not matrix:
        return {}
    out = stream_metrics(matrix, initial_row)
    history = history or []
    mca = [h['metrics']['mean_class_accuracy'] for h in history
           if 'mean_class_accuracy' in h.get('metrics', {})]
    if mca:
        out['amca'] = float(np.mean(mca))
    if history:
        out.update({f'last_{k}': v for k, v in history[-1].get('metrics', {}).items()})
    return out
