"""TrainAccuracyHook: training accuracy per minibatch and per epoch (issue 14 item 3)."""
import glob
import json
import os.path as osp
from types import SimpleNamespace

import pytest
import torch

from clbox.engine.hooks.train_accuracy import TrainAccuracyHook, classification_head
from clbox.engine.utils import unwrap
from helpers import build_runner, results, tiny_cfg


def _mlp_cfg(tmp_path, method='Naive', lr=0.0, epochs=2):
    cfg = tiny_cfg(tmp_path, dict(type=method), num_experiences=2, epochs=epochs)
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type='TrainAccuracyHook')]
    cfg.default_hooks.logger.interval = 1
    cfg.optim_wrapper.optimizer.lr = lr
    return cfg


def _use_mlp(cfg, runner_cls_inputs):
    cfg.model.model.backbone = dict(type='MLP', in_channels=runner_cls_inputs,
                                    hidden_channels=[16], dropout=0.0)
    cfg.model.model.head.in_channels = 16
    cfg.model.model.neck = None


def _input_size():
    from clbox.registry import DATASETS
    import clbox
    clbox.init_scope()
    ds = DATASETS.build(dict(type='Digits', split='train', pipeline=[dict(type='PackInputs')]))
    return int(ds[0]['inputs'].numel())


def _accuracy(algorithm, dataset):
    """Top-1 of the model on a dataset, computed here with a plain loop."""
    from mmengine.dataset import default_collate
    correct = 0
    algorithm.eval()
    with torch.no_grad():
        for start in range(0, len(dataset), 64):
            batch = default_collate([dataset[i] for i in range(start, min(start + 64,
                                                                          len(dataset)))])
            data = algorithm.preprocess(batch, False)
            labels = algorithm.labels(data['data_samples'])
            correct += int((algorithm.logits(data['inputs']).argmax(1) == labels).sum())
    return 100.0 * correct / len(dataset)


def test_epoch_accuracy_equals_the_model_accuracy_when_the_weights_stay(tmp_path):
    """lr 0 and an MLP (no BN, no dropout): every epoch's training accuracy is the fixed
    model's accuracy on the experience's training set; a weighting or reset bug breaks
    the equality."""
    cfg = _mlp_cfg(tmp_path)
    _use_mlp(cfg, _input_size())
    runner = build_runner(cfg)
    runner.train()
    algorithm = unwrap(runner.model)
    history = results(tmp_path)['history']
    assert len(history) == 2
    for exp, entry in zip(runner.scenario.train_stream, history):
        epochs = entry['details']['train_accuracy_per_epoch']
        expected = _accuracy(algorithm, exp.dataset)
        assert epochs == pytest.approx([expected, expected], abs=1e-6)
    # the minibatch values reached the visualizer beside the loss
    scalars = glob.glob(osp.join(str(tmp_path), '*', 'vis_data', 'scalars.json'))
    assert scalars
    with open(scalars[0]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    assert any('accuracy_top-1' in r for r in rows)
    assert any('train/epoch_accuracy' in r for r in rows)


def test_replay_methods_report_minibatch_accuracy(tmp_path):
    """ER computes its own loss (classification_loss on new + replayed samples): the head's
    cal_acc still reaches the logged outputs, and training raises the accuracy."""
    cfg = _mlp_cfg(tmp_path, method='ER', lr=0.05, epochs=3)
    cfg.model.buffer = dict(type='ReservoirBuffer', size=40)
    runner = build_runner(cfg)
    seen = []
    original = unwrap(runner.model).train_step

    def train_step(data, optim_wrapper):
        out = original(data, optim_wrapper)
        seen.append(out.get('accuracy_top-1'))
        return out
    unwrap(runner.model).train_step = train_step
    runner.train()
    assert seen and all(v is not None and 0 <= v <= 100 for v in seen)
    epochs = results(tmp_path)['history'][0]['details']['train_accuracy_per_epoch']
    assert len(epochs) == 3 and epochs[-1] > epochs[0]


def test_hook_state_travels_in_the_checkpoint():
    hook = TrainAccuracyHook()
    hook.epochs, hook._correct, hook._count = [50.0], 30.0, 40
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    other = TrainAccuracyHook()
    other.after_load_checkpoint(None, checkpoint)
    assert (other.epochs, other._correct, other._count) == ([50.0], 30.0, 40)


def test_hook_refuses_a_model_without_a_classification_head():
    with pytest.raises(TypeError, match='needs a classification model.*Remove the hook'):
        classification_head(SimpleNamespace(model=SimpleNamespace(head=torch.nn.Linear(2, 2))))
