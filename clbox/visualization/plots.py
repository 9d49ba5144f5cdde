"""Plots of the accuracy matrix and of accuracy along the stream (matplotlib, Agg)."""
from typing import List, Optional, Sequence

import numpy as np


def _pyplot():
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    return plt


def plot_accuracy_matrix(matrix: Sequence[Sequence[float]], path: str,
                         title: str = 'Accuracy matrix R[i][j] (%)') -> None:
    """Heat map of ``R[i][j]``: rows are training experiences, columns test experiences."""
    plt = _pyplot()
    R = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * R.shape[1], 1.0 + 0.5 * R.shape[0]))
    im = ax.imshow(R, vmin=0, vmax=100, cmap='viridis')
    for (i, j), v in np.ndenumerate(R):
        ax.text(j, i, f'{v:.0f}', ha='center', va='center',
                color='white' if v < 60 else 'black', fontsize=8)
    ax.set_xlabel('test experience j')
    ax.set_ylabel('after training experience i')
    ax.set_xticks(range(R.shape[1]))
    ax.set_yticks(range(R.shape[0]))
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_accuracy_curve(matrix: Sequence[Sequence[float]], path: str,
                        seen_only: bool = True) -> None:
    """Average accuracy after each experience, plus one line per test experience.

    Args:
        matrix: The accuracy matrix rows so far.
        path (str): PNG to write.
        seen_only (bool): Average over the test experiences seen so far (columns
            ``<= i``) when the matrix is square-ish; else over all. Defaults to True.
    """
    plt = _pyplot()
    R = np.asarray(matrix, dtype=float)
    steps = np.arange(R.shape[0])
    fig, ax = plt.subplots(figsize=(6, 4))
    for j in range(R.shape[1]):
        ax.plot(steps, R[:, j], lw=0.8, alpha=0.6, label=f'test exp {j}')
    avg_all = R.mean(1)
    ax.plot(steps, avg_all, 'k-o', lw=2, label='average (all)')
    if seen_only and R.shape[1] >= R.shape[0] > 1:
        avg_seen = [R[i, :i + 1].mean() for i in range(R.shape[0])]
        ax.plot(steps, avg_seen, 'r--s', lw=2, label='average (seen)')
    ax.set_xlabel('after training experience')
    ax.set_ylabel('accuracy (%)')
    ax.set_ylim(0, 100)
    ax.set_xticks(steps)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_confusion_matrix(confusion: Sequence[Sequence[int]], path: str,
                          classes: Optional[List[str]] = None,
                          title: str = 'Confusion matrix after the last experience') -> None:
    """Row-normalised confusion matrix (true class by row), with its title and a colorbar
    (the share of each true class predicted as each class)."""
    plt = _pyplot()
    C = np.asarray(confusion, dtype=float)
    norm = C / np.maximum(C.sum(1, keepdims=True), 1)
    n = C.shape[0]
    fig, ax = plt.subplots(figsize=(2.8 + 0.35 * n, 2.3 + 0.35 * n))
    im = ax.imshow(norm, vmin=0, vmax=1, cmap='Blues')
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, label='share of the true class')
    names = list(classes or [])
    # a head may have more outputs than the scenario has class names: number the rest
    ticks = [str(names[i]) if i < len(names) else str(i) for i in range(n)]
    ax.set_xticks(range(n))
    ax.set_xticklabels(ticks, rotation=90, fontsize=6)
    ax.set_yticks(range(n))
    ax.set_yticklabels(ticks, fontsize=6)
    ax.set_xlabel('predicted')
    ax.set_ylabel('true')
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _save(fig, path: str) -> None:
    """Write a PNG atomically (a reader sees the old image or the new one)."""
    from clbox.engine.checkpoint_io import atomic_replace
    atomic_replace(path, lambda tmp: fig.savefig(tmp, dpi=100, format='png'))


def plot_probe_series(results: dict, path: str) -> None:
    """Linear-probe top-1 along the stream (one point per checkpoint), with the top-1 of
    each class group when there are groups (``tools/linear_probe.py``'s results).

    Args:
        results (dict): ``probe_results.json`` content: ``checkpoints`` with
            ``stream_fraction`` (or None: plotted in checkpoint order), ``top1``, ``groups``.
        path (str): PNG to write.
    """
    plt = _pyplot()
    entries = results['checkpoints']
    fractions = [e.get('stream_fraction') for e in entries]
    x = [100 * f for f in fractions] if all(f is not None for f in fractions) \
        else list(range(len(entries)))
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in (entries[0].get('groups') or {}):
        ax.plot(x, [e['groups'][name] if e['groups'][name] is not None else np.nan
                    for e in entries], lw=1, marker='.', alpha=0.7, label=name)
    ax.plot(x, [e['top1'] for e in entries], 'k-o', lw=2, label='top-1 (all classes)')
    ax.set_xlabel('stream position (% of updates)' if x and fractions[0] is not None
                  else 'checkpoint')
    ax.set_ylabel('linear probe top-1 (%)')
    ax.set_title('Linear probe along the stream', fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
