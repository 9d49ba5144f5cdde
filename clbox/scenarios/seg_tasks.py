"""Class splits of the continual semantic segmentation protocol.

Each task maps a step index to the raw class ids introduced at that step; step 0 includes the
background (0). The tables are the protocol of MiB (Cermelli et al., CVPR 2020,
arXiv:2002.00718, ``tasks.py`` of github.com/fcdl94/MiB) and PLOP (Douillard et al., CVPR 2021,
arXiv:2011.11390, ``tasks.py`` of github.com/arthurdouillard/CVPR2021_PLOP):

* VOC: ``19-1``, ``15-5``, ``15-5s`` (= PLOP's ``15-1``: 15 classes then 5 steps of one),
  ``10-1`` (PLOP).
* ADE20K (raw ids 0..150, 0 = "other", used as background): ``100-50``, ``100-10``,
  ``100-5`` (PLOP), ``50`` (50-50-50) and MiB's alternative class orders ``100-50b``,
  ``100-10b``, ``50b``.
"""
from typing import Dict, List, Sequence, Union

TaskTable = Dict[int, List[int]]


def _steps(base: int, size: int, total: int) -> TaskTable:
    """``{0: [0..base], 1: [base+1 .. base+size], ...}`` up to ``total`` (inclusive)."""
    table = {0: list(range(0, base + 1))}
    start = base + 1
    while start <= total:
        table[len(table)] = list(range(start, min(start + size, total + 1)))
        start += size
    return table


# MiB tasks.py: the "b" order of ADE20K 100-50 (step 0 = background + 100 classes).
_ADE_B_BASE = [
    0, 1, 3, 5, 6, 8, 9, 10, 12, 13, 14, 18, 19, 21, 22, 23, 24, 25, 26, 27, 28, 29, 31, 32,
    33, 34, 36, 38, 39, 40, 42, 43, 44, 45, 46, 47, 48, 49, 53, 54, 55, 56, 57, 58, 60, 61, 62,
    63, 69, 70, 71, 74, 75, 76, 77, 80, 81, 82, 84, 86, 87, 90, 91, 93, 95, 96, 99, 100, 101,
    103, 104, 105, 106, 107, 109, 113, 116, 117, 119, 120, 121, 123, 125, 126, 128, 129, 130,
    131, 132, 133, 134, 135, 136, 140, 142, 143, 144, 147, 148, 149, 150]
_ADE_B_NEW = [
    2, 4, 7, 11, 15, 16, 17, 20, 30, 35, 37, 41, 50, 51, 52, 59, 64, 65, 66, 67, 68, 72, 73,
    78, 79, 83, 85, 88, 89, 92, 94, 97, 98, 102, 108, 110, 111, 112, 114, 115, 118, 122, 124,
    127, 137, 138, 139, 141, 145, 146]

VOC_TASKS: Dict[str, TaskTable] = {
    'offline': {0: list(range(21))},
    '19-1': {0: list(range(20)), 1: [20]},
    '15-5': {0: list(range(16)), 1: [16, 17, 18, 19, 20]},
    '15-5s': _steps(15, 1, 20),
    '15-1': _steps(15, 1, 20),
    '10-1': _steps(10, 1, 20),
}

ADE_TASKS: Dict[str, TaskTable] = {
    'offline': {0: list(range(151))},
    '100-50': _steps(100, 50, 150),
    '100-10': _steps(100, 10, 150),
    '100-5': _steps(100, 5, 150),
    '50': _steps(50, 50, 150),
    '100-50b': {0: _ADE_B_BASE, 1: _ADE_B_NEW},
    '100-10b': {0: _ADE_B_BASE,
                1: [11, 16, 50, 64, 66, 73, 89, 92, 145, 146],
                2: [30, 37, 51, 52, 72, 85, 98, 114, 115, 138],
                3: [2, 35, 65, 97, 110, 111, 112, 118, 124, 141],
                4: [4, 7, 15, 41, 67, 78, 79, 88, 108, 139],
                5: [17, 20, 59, 68, 83, 94, 102, 122, 127, 137]},
    '50b': {0: [0, 1, 9, 14, 18, 22, 24, 25, 27, 28, 29, 32, 38, 42, 45, 46, 47, 48, 49, 54,
                56, 58, 61, 62, 63, 69, 74, 75, 76, 77, 81, 82, 84, 90, 93, 96, 100, 103, 104,
                109, 117, 119, 121, 123, 128, 129, 130, 134, 135, 136, 144],
            1: [3, 5, 6, 8, 10, 12, 13, 19, 21, 23, 26, 31, 33, 34, 36, 39, 40, 43, 44, 53, 55,
                57, 60, 70, 71, 80, 86, 87, 91, 95, 99, 101, 105, 106, 107, 113, 116, 120, 125,
                126, 131, 132, 133, 140, 142, 143, 147, 148, 149, 150],
            2: _ADE_B_NEW},
}


def parse_task(task: Union[str, Dict, Sequence], num_classes: int,
               known: Dict[str, TaskTable] = None) -> TaskTable:
    """Turn a task name or table into ``{step: [raw class ids]}`` and check it.

    Args:
        task (str | dict | list): A name from ``known`` (``'15-5s'``), a generic
            ``'<base>-<size>'`` string (base classes then steps of ``size``), a dict
            ``{step: ids}`` or a list of id lists.
        num_classes (int): Number of classes including the background.
        known (dict, optional): Named tables to look ``task`` up in. Defaults to None.

    Raises:
        ValueError: If the name is unknown or the table is not a partition of
            ``range(num_classes)`` with the background in step 0.
    """
    if isinstance(task, str):
        if known and task in known:
            table = known[task]
        else:
            try:
                base, size = (int(x) for x in task.split('-'))
            except ValueError:
                names = ', '.join(sorted(known)) if known else 'none'
                raise ValueError(f"unknown segmentation task '{task}': use one of {names} or "
                                 "'<base>-<size>' (e.g. '2-2').") from None
            table = _steps(base, size, num_classes - 1)
    elif isinstance(task, dict):
        table = {int(k): list(v) for k, v in task.items()}
    else:
        table = {i: list(v) for i, v in enumerate(task)}
    ids = [c for step in sorted(table) for c in table[step]]
    if sorted(table) != list(range(len(table))):
        raise ValueError(f'task steps must be 0..{len(table) - 1}, got {sorted(table)}.')
    if 0 not in table[0]:
        raise ValueError('step 0 of a segmentation task must contain the background (0).')
    if sorted(ids) != list(range(num_classes)) and len(table) > 0:
        extra = sorted(set(ids) - set(range(num_classes)))
        dup = sorted({c for c in ids if ids.count(c) > 1})
        raise ValueError(f'task steps must split range({num_classes}) exactly once: '
                         f'outside={extra}, repeated={dup}, missing='
                         f'{sorted(set(range(num_classes)) - set(ids))}.')
    return {k: list(v) for k, v in table.items()}
