"""Replay with fresh views: the buffer keeps samples un-augmented (observe_pipeline) and
every draw is re-augmented on the batch (replay_augments)."""
import numpy as np
import torch

from clbox.engine.utils import unwrap
from helpers import build_runner, tiny_cfg

FLIP = [dict(type='RandomFlip', prob=1.0, direction='horizontal'), dict(type='PackInputs')]


def _er(tmp_path, **method):
    cfg = tiny_cfg(tmp_path, dict(type='ER', buffer=dict(type='ReservoirBuffer', size=40),
                                  **method), num_experiences=2)
    cfg.scenario.train.pipeline = FLIP  # a training "augmentation" easy to recognise
    runner = build_runner(cfg)
    runner.train()
    return runner


def _stored_views(runner):
    algorithm = unwrap(runner.model)
    images = runner.scenario.train_stream[0].dataset.images  # every raw digit, N x 8 x 8 x 1
    raw = {img.tobytes() for img in np.concatenate(
        [e.dataset.images for e in runner.scenario.train_stream])}
    flipped = {img[:, ::-1].copy().tobytes() for img in np.concatenate(
        [e.dataset.images for e in runner.scenario.train_stream])}
    stored = algorithm.buffer.get_all()['inputs'].permute(0, 2, 3, 1).numpy()
    assert len(stored) == 40 and images.ndim == 4
    return ([s.tobytes() in raw for s in stored], [s.tobytes() in flipped for s in stored])


def test_buffer_keeps_the_training_view_by_default(tmp_path):
    runner = _er(tmp_path)
    _, flipped = _stored_views(runner)
    assert all(flipped)


def test_observe_pipeline_stores_samples_unaugmented(tmp_path):
    runner = _er(tmp_path, observe_pipeline=[dict(type='PackInputs')])
    raw, _ = _stored_views(runner)
    assert all(raw)


def test_replay_augments_give_a_new_view_per_draw(tmp_path):
    runner = _er(tmp_path, observe_pipeline=[dict(type='PackInputs')],
                 replay_augments=[dict(type='BatchRandomCrop', size=8, padding=2)])
    algorithm = unwrap(runner.model)
    stored = algorithm.buffer.get_all()['inputs']
    first = algorithm.preprocess_replay(stored)
    second = algorithm.preprocess_replay(stored)
    plain = algorithm.preprocess_replay(stored, training=False)
    assert first.shape == plain.shape == stored.shape
    assert not torch.equal(first, second)
    changed = (first != plain).flatten(1).any(1)
    assert changed.float().mean() > 0.5  # most samples got another crop
