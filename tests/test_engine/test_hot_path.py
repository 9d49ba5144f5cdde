"""The engine's per-iteration shortcuts do what mmengine's general code does."""
import copy
import random

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer, MessageHub

from clbox.algorithms.base import NonFiniteLossError
from clbox.engine.message_hub import AppendHistoryBuffer, ContinualMessageHub
from clbox.engine.utils import unwrap
from clbox.registry import HOOKS
from helpers import build_runner, tiny_cfg


@pytest.mark.parametrize('max_length', [1, 2, 7, 1000])
def test_append_history_buffer_holds_what_history_buffer_holds(max_length):
    rng = random.Random(max_length)
    plain, fast = HistoryBuffer(max_length=max_length), None
    plain.update(3)
    fast = AppendHistoryBuffer.from_buffer(plain)
    for i in range(3 * max_length + 50):
        value = rng.randint(0, 9) if i < 20 else rng.choice([rng.random(), rng.randint(0, 9)])
        count = rng.choice([1, 2])
        plain.update(value, count)
        fast.update(value, count)
        assert fast._log_history.dtype == plain._log_history.dtype
        assert np.array_equal(fast._log_history, plain._log_history)
        assert np.array_equal(fast._count_history, plain._count_history)
        for stat in ('mean', 'current', 'max', 'min'):
            assert fast.statistics(stat) == plain.statistics(stat)
    saved = copy.deepcopy(fast)
    assert type(saved) is HistoryBuffer
    assert np.array_equal(saved._log_history, plain._log_history)
    with pytest.raises(TypeError):
        fast.update('1.0')


@HOOKS.register_module(force=True)
class _InnerIterHook(Hook):
    """Overrides only mmengine's inner ``_after_iter``."""

    def __init__(self):
        self.calls = 0

    def _after_iter(self, runner, batch_idx, data_batch=None, outputs=None, mode='train'):
        if mode == 'train':
            self.calls += 1


class _LateHook(Hook):
    def __init__(self):
        self.calls = 0

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.calls += 1


@HOOKS.register_module(force=True)
class _RegistersLateHook(Hook):
    """Adds a hook once training runs (the cache of hook methods must see it)."""

    def before_train_epoch(self, runner):
        if not any(isinstance(h, _LateHook) for h in runner.hooks):
            runner.register_hook(_LateHook())


def test_hooks_get_every_call_mmengine_would_make(tmp_path):
    cfg = tiny_cfg(tmp_path, num_experiences=2, epochs=2,
                   custom_hooks=[dict(type='_InnerIterHook'), dict(type='_RegistersLateHook')])
    runner = build_runner(cfg)
    runner.train()
    inner = next(h for h in runner.hooks if isinstance(h, _InnerIterHook))
    late = next(h for h in runner.hooks if isinstance(h, _LateHook))
    assert inner.calls == runner.train_loop.iter
    assert late.calls == runner.train_loop.iter
    assert isinstance(runner.message_hub, ContinualMessageHub)
    assert MessageHub.get_current_instance() is runner.message_hub
    assert type(runner.message_hub.get_scalar('train/loss')) is AppendHistoryBuffer
    assert runner.message_hub.get_scalar('train/loss').current() > 0


def test_one_scalar_loss_is_logged_once_and_checked():
    from clbox.algorithms.base import ContinualAlgorithm
    parse = ContinualAlgorithm.parse_losses
    loss = torch.tensor(2.5, requires_grad=True)
    total, log_vars = parse(None, dict(loss_cls=loss))
    assert total is loss and dict(log_vars) == dict(loss=2.5, loss_cls=2.5)
    total, log_vars = parse(None, dict(loss_a=torch.tensor(1.0), loss_b=torch.tensor(2.0),
                                       acc=torch.tensor(0.5)))
    assert float(total) == 3.0 and dict(log_vars) == dict(loss=3.0, loss_a=1.0, loss_b=2.0,
                                                          acc=0.5)
    with pytest.raises(NonFiniteLossError, match='nan'):
        parse(None, dict(loss=torch.tensor(float('nan'))))
    with pytest.raises(NonFiniteLossError, match='inf'):
        parse(None, dict(loss_a=torch.tensor(1.0), loss_b=torch.tensor(float('inf'))))


def test_fast_classifier_loss_equals_mmpretrain_head_loss(tmp_path):
    from clbox.scenarios.batched import fetch_batch
    runner = build_runner(tiny_cfg(tmp_path, num_experiences=2,
                                   **{'model.model.head.cal_acc': True}))
    algorithm = unwrap(runner.model)
    dataset = runner.scenario.train_stream[0].dataset
    batch = fetch_batch(dataset, list(range(12)))
    data = algorithm.preprocess(batch, True)
    fast = algorithm.loss(data['inputs'], data['data_samples'])
    slow = algorithm.model.loss(data['inputs'], data['data_samples'].to_data_samples())
    assert fast.keys() == slow.keys() and 'accuracy_top-1' in fast
    for key in fast:
        assert torch.equal(torch.as_tensor(fast[key]), torch.as_tensor(slow[key])), key


@pytest.mark.parametrize('kwargs', [dict(), dict(loss_weight=0.7),
                                    dict(class_weight=[1.0, 2.0, 0.5, 1.0]),
                                    dict(label_smooth_val=0.1, type='LabelSmoothLoss')])
def test_written_out_cross_entropy_equals_mmpretrain_loss(kwargs):
    from clbox.algorithms.base import _batch_mean_loss
    from clbox.registry import MODELS
    kwargs = dict(kwargs)
    loss_module = MODELS.build(dict(type=kwargs.pop('type', 'CrossEntropyLoss'), **kwargs))
    scores = torch.randn(9, 4, requires_grad=True)
    labels = torch.randint(0, 4, (9,))
    fast = _batch_mean_loss(loss_module, scores, labels)
    (g_fast,) = torch.autograd.grad(fast, scores)
    slow = loss_module(scores, labels, avg_factor=9)
    (g_slow,) = torch.autograd.grad(slow, scores)
    assert torch.equal(fast, slow) and torch.equal(g_fast, g_slow)
