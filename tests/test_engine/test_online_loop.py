"""The online loop: one pass, num_updates per incoming batch, buffer mixing."""
import pytest

from helpers import build_runner, results, tiny_cfg


def _online_cfg(tmp_path, boundaries, num_updates=2):
    cfg = tiny_cfg(tmp_path, dict(type='ER', buffer=dict(type='ReservoirBuffer', size=40)))
    inner = cfg.scenario
    cfg.scenario = dict(type='OnlineStream', scenario=inner, batch_size=16,
                        boundaries=boundaries)
    cfg.train_cfg = dict(type='OnlineTrainLoop', num_updates=num_updates)
    return cfg


@pytest.mark.parametrize('boundaries', ['given', 'hidden'])
def test_online_single_pass_with_updates_and_buffer(tmp_path, boundaries):
    runner = build_runner(_online_cfg(tmp_path, boundaries))
    runner.train()
    loop = runner.train_loop
    scenario = runner.scenario
    batches = sum(-(-len(e) // 16) for e in scenario.train_stream)
    assert loop.iter == 2 * batches  # num_updates steps per incoming batch, one pass
    assert loop.images_seen == 2 * sum(len(e) for e in scenario.train_stream)
    algo = runner.model
    assert len(algo.buffer) == 40
    experiences = set(algo.buffer.get_all()['experience'].tolist())
    if boundaries == 'hidden':
        assert experiences == {0}  # never told that the experience changed
    else:
        assert experiences == {0, 1, 2}
    assert len(results(tmp_path)['accuracy_matrix']) == 3  # evaluated at every boundary
