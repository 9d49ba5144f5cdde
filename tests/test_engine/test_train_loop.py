"""The experience-based loop end to end: outputs, resume, load_from, tools."""
import os.path as osp
import sys

import pytest
import torch
from mmengine.hooks import Hook

from clbox.algorithms import Naive
from clbox.registry import HOOKS, MODELS
from helpers import ROOT, build_runner, results, tiny_cfg


def test_run_writes_results_plots_and_checkpoints(tmp_path):
    cfg = tiny_cfg(tmp_path, dict(type='ER', buffer=dict(type='ClassBalancedBuffer', size=60)))
    build_runner(cfg).train()
    res = results(tmp_path)
    assert len(res['accuracy_matrix']) == 3 and all(len(r) == 3 for r in res['accuracy_matrix'])
    assert len(res['initial_accuracy']) == 3
    for key in ('average_accuracy', 'backward_transfer', 'forward_transfer',
                'average_forgetting', 'amca', 'last_top1', 'last_top5'):
        assert key in res['metrics'], key
    # the average accuracy is the mean of the last row, and the row is in [0, 100]
    last = res['accuracy_matrix'][-1]
    assert res['metrics']['average_accuracy'] == pytest.approx(sum(last) / 3)
    assert all(0 <= v <= 100 for v in last)
    assert res['images_per_s'] > 0 and res['wall_time_s'] > 0 and res['seed'] == 0
    # per-experience forgetting and the test-stream loss (Avalanche's metrics)
    assert len(res['forgetting_per_experience']) == 3
    assert res['forgetting_per_experience'][-1] is None
    assert res['metrics']['last_loss'] > 0
    assert len(res['history'][-1]['details']['loss_per_experience']) == 3
    assert res['config']['model']['type'] == 'ER'
    for name in ('accuracy_matrix.png', 'accuracy_curve.png', 'confusion_matrix.png',
                 'experience_0.pth', 'experience_2.pth', 'last_checkpoint'):
        assert osp.isfile(tmp_path / name), name
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read().endswith('experience_2.pth')
    # the buffer was filled through observe() and travels inside the checkpoint
    ckpt = torch.load(tmp_path / 'experience_2.pth')  # default weights_only=True
    buffer = ckpt['state_dict']['_extra_state']['buffer']
    assert int(buffer['filled'].sum()) == 60
    assert buffer['storage']['inputs'].dtype == torch.uint8


@HOOKS.register_module(force=True)
class _CrashHook(Hook):
    """Simulates a killed job right after the checkpoint of (experience, epoch)."""
    priority = 'LOWEST'

    def __init__(self, experience, epoch):
        self.experience, self.epoch = experience, epoch

    def after_train_epoch(self, runner):
        loop = runner.train_loop
        if (loop.current_experience.index, loop._epoch_in_exp) == (self.experience, self.epoch):
            raise KeyboardInterrupt('simulated stop')


@pytest.mark.parametrize('method', [
    dict(type='ER', buffer=dict(type='ReservoirBuffer', size=50)),
    dict(type='ER', buffer=dict(type='ReservoirBuffer', size=50),
         observe_pipeline=[dict(type='PackInputs')],
         replay_augments=[dict(type='BatchRandomCrop', size=8, padding=1),
                          dict(type='BatchRandomFlip')]),
    dict(type='EWC', ewc_lambda=10.0),
    dict(type='LwF'),
])
def test_resume_mid_experience_gives_identical_results(tmp_path, method):
    common = dict(default_hooks=dict(checkpoint=dict(interval=1)))
    full = tiny_cfg(tmp_path / 'full', method, num_experiences=3, epochs=2, **common)
    build_runner(full).train()

    stopped = tiny_cfg(tmp_path / 'stop', method, num_experiences=3, epochs=2, **common,
                       custom_hooks=[dict(type='ContinualResultsHook'),
                                     dict(type='_CrashHook', experience=2, epoch=1)])
    with pytest.raises(KeyboardInterrupt):
        build_runner(stopped).train()
    assert osp.isfile(tmp_path / 'stop' / 'experience_2_epoch_1.pth')
    assert len(results(tmp_path / 'stop')['accuracy_matrix']) == 2

    resumed = tiny_cfg(tmp_path / 'stop', method, num_experiences=3, epochs=2, **common,
                       resume=True)
    build_runner(resumed).train()
    a, b = results(tmp_path / 'full'), results(tmp_path / 'stop')
    assert b['accuracy_matrix'] == a['accuracy_matrix']
    assert b['initial_accuracy'] == a['initial_accuracy']


def test_step_option_trains_one_experience_from_previous(tmp_path):
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    from train import apply_args
    cfg = tiny_cfg(tmp_path, dict(type='LwF'))
    args = type('Args', (), dict(launcher='none', seed=None, deterministic=False, amp=False,
                                 resume=None, step=0))
    build_runner(apply_args(cfg, args)).train()
    assert len(results(tmp_path)['accuracy_matrix']) == 1
    args.step = 1
    cfg = apply_args(tiny_cfg(tmp_path, dict(type='LwF')), args)
    assert cfg.resume and cfg.load_from.endswith('experience_0.pth')
    runner = build_runner(cfg)
    runner.train()
    assert len(results(tmp_path)['accuracy_matrix']) == 2
    assert runner.model.teacher is not None  # the step-0 model became the teacher
    args.step = 5
    with pytest.raises(FileNotFoundError, match='run --step 4 first'):
        apply_args(tiny_cfg(tmp_path), args)


def test_load_from_loads_weights_only(tmp_path):
    er = dict(type='ER', buffer=dict(type='ClassBalancedBuffer', size=30))
    build_runner(tiny_cfg(tmp_path / 'a', er, num_experiences=2)).train()
    ckpt = str(tmp_path / 'a' / 'experience_1.pth')
    runner = build_runner(tiny_cfg(tmp_path / 'b', er, num_experiences=2, load_from=ckpt))
    runner._load_mode = 'weights'  # what train() sets for a load_from
    runner.load_checkpoint(ckpt)
    state = torch.load(ckpt)['state_dict']
    w = runner.model.model.head.fc.weight
    assert torch.equal(w, state['model.head.fc.weight'])
    assert len(runner.model.buffer) == 0  # method state is not loaded by load_from


def test_load_from_accepts_bare_task_model_checkpoint(tmp_path):
    runner = build_runner(tiny_cfg(tmp_path / 'a'))
    bare = {k[len('model.'):]: v.clone() + 1 for k, v in runner.model.state_dict().items()
            if k.startswith('model.') and v.is_floating_point()}
    path = tmp_path / 'bare.pth'
    torch.save(dict(state_dict=bare), path)
    runner.load_checkpoint(str(path))
    assert torch.equal(runner.model.model.head.fc.weight, bare['head.fc.weight'])


def test_tools_test_evaluates_a_checkpoint(tmp_path, monkeypatch):
    build_runner(tiny_cfg(tmp_path / 'train', num_experiences=2)).train()
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import test as test_tool
    import json
    cfg_path = tmp_path / 'cfg.py'
    tiny_cfg(tmp_path / 'train', num_experiences=2).dump(str(cfg_path))
    monkeypatch.setattr(sys, 'argv', ['test.py', str(cfg_path),
                                      str(tmp_path / 'train' / 'experience_1.pth'),
                                      '--work-dir', str(tmp_path / 'test')])
    test_tool.main()
    with open(tmp_path / 'test' / 'test_results.json') as f:
        out = json.load(f)
    trained_row = results(tmp_path / 'train')['accuracy_matrix'][-1]
    assert out['row'] == pytest.approx(trained_row)
    assert 'top1' in out['metrics'] and len(out['details']['confusion_matrix']) == 10


@MODELS.register_module(force=True)
class _LRPerExperience(Naive):
    """Naive with a learning rate that depends on the experience."""

    def configure_optimizer(self, optim_wrapper, experience):
        for group in optim_wrapper.optimizer.param_groups:
            group['lr'] = 0.01 * (experience.index + 1)


def test_configure_optimizer_runs_at_every_experience_start(tmp_path):
    build_runner(tiny_cfg(tmp_path, dict(type='_LRPerExperience'), num_experiences=2)).train()
    for i in (0, 1):
        groups = torch.load(tmp_path / f'experience_{i}.pth')['optimizer']['param_groups']
        assert groups[0]['lr'] == pytest.approx(0.01 * (i + 1))


def test_the_run_seed_reaches_the_buffer(tmp_path):
    """``--seed`` / ``randomness.seed`` seeds the replay buffer's draws unless the buffer
    config names its own seed."""
    method = dict(type='ER', buffer=dict(type='ReservoirBuffer', size=20))

    def first_draws(run_seed, **buffer):
        cfg = tiny_cfg(tmp_path / f'{run_seed}-{len(buffer)}', dict(method, buffer=dict(
            method['buffer'], **buffer)), randomness=dict(seed=run_seed))
        runner = build_runner(cfg)
        return torch.randint(1000, (8,), generator=runner.model.buffer.generator).tolist()

    expected = {s: torch.randint(1000, (8,), generator=torch.Generator().manual_seed(s)).tolist()
                for s in (0, 5, 7)}
    assert first_draws(5) == expected[5] and first_draws(7) == expected[7]
    assert first_draws(5, seed=0) == expected[0]        # an explicit buffer seed is kept


def test_training_log_lines_name_the_experience(tmp_path):
    import glob
    cfg = tiny_cfg(tmp_path, dict(type='Naive'))
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_level = 'INFO'
    build_runner(cfg).train()
    (log, ) = glob.glob(str(tmp_path / '*' / '*.log'))
    with open(log) as f:
        lines = [line for line in f if 'Epoch(train)' in line]
    assert lines and all('Experience [' in line for line in lines)
    assert any('Experience [1/3] Epoch(train)' in line for line in lines)
    assert any('Experience [3/3] Epoch(train)' in line for line in lines)


def test_max_epochs_per_experience_and_their_schedules(tmp_path):
    """``train_cfg.max_epochs=[1, 3]``: 1 epoch at experience 0, 3 after; a by-epoch
    scheduler written for the first count (end=1) spans each experience's own epochs."""
    cfg = tiny_cfg(tmp_path, num_experiences=2, epochs=[1, 3], param_scheduler=[dict(
        type='PolyLR', power=1.0, eta_min=0.0, by_epoch=True, begin=0, end=1)])
    runner = build_runner(cfg)
    lrs = []

    class Record(Hook):
        def after_train_epoch(self, runner):
            lrs.append(runner.optim_wrapper.get_lr()['lr'][0])
    runner.register_hook(Record(), priority='LOWEST')  # after the scheduler steps
    runner.train()
    loop = runner.train_loop
    assert loop.max_epochs == 4 and loop.epoch == 4 and loop.max_iters == loop.iter
    # after each epoch (mmengine's poly reaches eta_min one step before ``end``): one value
    # at experience 0, 0.01 -> 0 over 3 epochs at experience 1 (end=1 would keep 0.01)
    assert lrs == pytest.approx([0.01, 0.005, 0.0, 0.0])
