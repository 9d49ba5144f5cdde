"""Every registered continual method trains two experiences on a tiny scenario."""
import pytest

import clbox.algorithms  # noqa: F401
from clbox.algorithms.base import ContinualAlgorithm
from clbox.registry import MODELS
from helpers import build_runner, results, tiny_cfg

CLASSIFICATION = sorted(
    name for name, cls in MODELS.module_dict.items()
    if isinstance(cls, type) and issubclass(cls, ContinualAlgorithm)
    and not name.startswith('_') and getattr(cls, 'task', 'classification') == 'classification')


def test_the_foundation_methods_are_registered():
    assert {'Naive', 'Joint', 'ER', 'LwF', 'EWC'} <= set(CLASSIFICATION)


@pytest.mark.parametrize('name', CLASSIFICATION)
def test_method_trains_two_experiences(tmp_path, name):
    cls = MODELS.get(name)
    method = dict(type=name, **getattr(cls, 'smoke_test_args', {}))
    runner = build_runner(tiny_cfg(tmp_path, method, num_experiences=2, epochs=3))
    runner.train()
    matrix = results(tmp_path)['accuracy_matrix']
    assert len(matrix) == 2 and all(len(row) == 2 for row in matrix)
    # it learned its first experience (chance is 20% over 5 classes)
    assert matrix[0][0] > 50
