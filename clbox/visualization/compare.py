"""Compare several runs: read their ``results.json``, draw the average-accuracy curves in
one PNG and tabulate the final metrics (``tools/analysis_tools/compare_runs.py``)."""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from .plots import _pyplot, _save

# column order of the table: the stream metrics first, then whatever else is summarised
_FIRST = ('average_accuracy', 'average_forgetting', 'backward_transfer', 'forward_transfer',
          'amca')


def load_run(work_dir: str, name: Optional[str] = None) -> dict:
    """One run's ``results.json`` (written by ``ContinualResultsHook``).

    Args:
        work_dir (str): The run's work dir, or the path of a ``results.json``.
        name (str, optional): Label of the run. Defaults to the folder's name.

    Returns:
        dict: ``name``, ``path``, ``matrix`` (list of rows), ``metrics`` (the summary) and
        ``experiences_done``.

    Raises:
        FileNotFoundError: No ``results.json`` in ``work_dir``.
        ValueError: The file is not JSON or has no accuracy matrix.
    """
    path = work_dir if work_dir.endswith('.json') else osp.join(work_dir, 'results.json')
    folder = osp.dirname(osp.abspath(path))
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'"{folder}" has no results.json: pass the work dir of a run trained with '
            f'tools/train.py (ContinualResultsHook writes results.json after each '
            f'experience).')
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'"{path}" is not valid JSON ({e}).') from e
    matrix = data.get('accuracy_matrix') if isinstance(data, dict) else None
    if not matrix:
        raise ValueError(
            f'"{path}" has no accuracy matrix (key "accuracy_matrix" missing or empty): '
            f'the run in "{folder}" finished no experience yet.')
    return dict(name=name or osp.basename(folder.rstrip('/')), path=path,
                matrix=[list(map(float, row)) for row in matrix],
                metrics=dict(data.get('metrics') or {}),
                experiences_done=data.get('experiences_done', len(matrix)))


def average_curve(matrix: Sequence[Sequence[float]]) -> List[float]:
    """Average accuracy after each experience, over the test experiences seen so far
    (columns ``<= i``) when the matrix has at least as many columns as rows (the curve
    ``plot_accuracy_curve`` draws as 'average (seen)'), else over all columns. For a
    finished class-incremental run the last point is the final average accuracy.

    Args:
        matrix: Accuracy matrix rows ``R[i][j]``.

    Returns:
        list[float]: One value per row.
    """
    R = np.asarray(matrix, dtype=float).reshape(len(matrix), -1)
    if R.shape[1] >= R.shape[0]:
        return [float(R[i, :i + 1].mean()) for i in range(R.shape[0])]
    return [float(v) for v in R.mean(1)]


def metric_columns(runs: Sequence[dict]) -> List[str]:
    """The table's metric columns: the stream metrics, then every other summarised key."""
    present = []
    for run in runs:
        present += [k for k in run['metrics'] if k not in present]
    return [k for k in _FIRST if k in present] + sorted(k for k in present if k not in _FIRST)


def markdown_table(runs: Sequence[dict], digits: int = 2) -> str:
    """Markdown table: one row per run, the experiences done and every summarised metric
    (``-`` where a run lacks one).

    Args:
        runs (list[dict]): :func:`load_run` results.
        digits (int): Decimals. Defaults to 2.

    Returns:
        str: The table, ending with a newline.
    """
    columns = metric_columns(runs)
    lines = ['| run | experiences | ' + ' | '.join(columns) + ' |',
             '|' + '---|' * (len(columns) + 2)]
    for run in runs:
        cells = []
        for k in columns:
            v = run['metrics'].get(k)
            cells.append('-' if v is None else
                         f'{v:.{digits}f}' if isinstance(v, (int, float)) else str(v))
        lines.append(f"| {run['name']} | {run['experiences_done']} | " + ' | '.join(cells)
                     + ' |')
    return '\n'.join(lines) + '\n'


def plot_runs(runs: Sequence[dict], path: str,
              title: str = 'Average accuracy along the stream') -> None:
    """One PNG with each run's average-accuracy curve (:func:`average_curve`).

    Args:
        runs (list[dict]): :func:`load_run` results.
        path (str): PNG to write (atomically).
        title (str): Figure title. Defaults to 'Average accuracy along the stream'.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    longest = 0
    for run in runs:
        curve = average_curve(run['matrix'])
        longest = max(longest, len(curve))
        ax.plot(range(len(curve)), curve, '-o', lw=1.5, ms=4, label=run['name'])
    ax.set_xlabel('after training experience')
    ax.set_ylabel('average accuracy, seen experiences (%)')
    ax.set_ylim(0, 100)
    ax.set_xticks(range(longest))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def compare_runs(work_dirs: Sequence[str], out: str,
                 names: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """Read every run, write ``out.png`` (curves) and ``out.md`` (table).

    Args:
        work_dirs (list[str]): Run work dirs.
        out (str): Output prefix (``.png`` / ``.md`` appended).
        names (list[str], optional): Labels, one per work dir. Defaults to the folder names.

    Returns:
        dict: ``png`` and ``md`` paths and the ``table`` text.

    Raises:
        ValueError: ``names`` does not have one label per work dir.
    """
    from clbox.engine.utils import atomic_write
    if names is not None and len(names) != len(work_dirs):
        raise ValueError(f'--names gives {len(names)} labels for {len(work_dirs)} work dirs: '
                         f'pass one label per work dir.')
    runs = [load_run(d, names[i] if names else None) for i, d in enumerate(work_dirs)]
    table = markdown_table(runs)
    png, md = f'{out}.png', f'{out}.md'
    folder = osp.dirname(osp.abspath(png))
    if not osp.isdir(folder):
        raise FileNotFoundError(f'--out {out}: folder "{folder}" does not exist; create it '
                                f'or pick another prefix.')
    plot_runs(runs, png)
    atomic_write(md, lambda f: f.write(table))
    return dict(png=png, md=md, table=table)
