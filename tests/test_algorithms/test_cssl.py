"""Buffered continuous SimSiam end to end: the reference's update schedule in the online
loop, buffers fed by the method, the kNN probe, two ranks."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from clbox.engine.utils import unwrap
from dist_helpers import dist_train, read_json, write_config
from helpers import ROOT, build_runner, results

CONFIG = osp.join(ROOT, 'configs/cssl/simsiam-minred_resnet18-tiny_1xb16-x2_digits-stream.py')


def _cfg(work_dir, **overrides):
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    cfg.default_hooks.logger.interval = 1000
    cfg.merge_from_dict({'scenario.scenario.train.split': 'test',   # 360 samples
                         'model.buffer.size': 64,
                         'model.model.backbone.stem_channels': 8,
                         'model.model.backbone.base_channels': 8,
                         'model.model.neck.in_channels': 64,
                         'val_evaluator.bank_size': 200, **overrides})
    return cfg


@pytest.mark.parametrize('buffer', ['MinRedBuffer', 'FIFOBuffer', None])
def test_buffered_simsiam_follows_the_reference_schedule(tmp_path, buffer):
    overrides = {'model.buffer.type': buffer} if buffer else {'model.buffer': None}
    runner = build_runner(_cfg(tmp_path, **overrides))
    runner.train()
    algorithm = unwrap(runner.model)
    stream = 360 // 16 * 16
    if buffer is None:   # conventional: each incoming batch trained on num_updates times
        assert runner.train_loop.iter == -(-360 // 16) * 2
    else:
        assert runner.train_loop.iter == stream * 2 // 16 == runner.train_loop.max_iters
        assert len(algorithm.buffer) == 64
    if buffer == 'MinRedBuffer':
        seen = algorithm.buffer.seen
        assert seen.sum() > 32
        norms = algorithm.buffer.features[seen].norm(dim=1)
        assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)
    res = results(tmp_path)
    assert len(res['accuracy_matrix']) == 1 and 0 < res['accuracy_matrix'][0][0] <= 100
    assert 'knn/top1' in res['history'][0]['metrics']


def test_simsiam_needs_two_views(tmp_path):
    cfg = _cfg(tmp_path, **{'scenario.scenario.train.pipeline': [dict(type='PackInputs')]})
    with pytest.raises(ValueError, match='two views'):
        build_runner(cfg).train()


def test_buffered_simsiam_on_two_ranks(tmp_path):
    """Each rank streams its own whole chunks into its own half of the buffer; the
    checkpoint holds both halves."""
    text = f'''
    _base_ = [{CONFIG!r}]
    scenario = dict(scenario=dict(train=dict(split='test')))
    model = dict(buffer=dict(size=64), model=dict(
        backbone=dict(stem_channels=8, base_channels=8), neck=dict(in_channels=64)))
    train_dataloader = dict(batch_size=16)
    val_evaluator = dict(bank_size=200)
    default_hooks = dict(logger=dict(interval=1000))
    '''
    cfg = write_config(tmp_path / 'two', 'cfg.py', text)
    dist_train(cfg, 2, '--work-dir', str(tmp_path / 'two'))
    ckpt = torch.load(tmp_path / 'two' / 'experience_0.pth', weights_only=False)
    ranks = ckpt['state_dict']['_extra_state']['buffer']['ranks']
    assert [len(r['indices']) for r in ranks] == [32, 32]
    a, b = (set(r['indices'].tolist()) for r in ranks)
    assert not a & b                                # disjoint shards of the stream
    # whole incoming batches per rank: chunk k of the dealt stream goes to rank k % 2
    assert ckpt['meta']['clbox']['iter'] == (360 // 32 * 16) * 2 // 16
    assert read_json(tmp_path / 'two', 'results.json')['accuracy_matrix'][0][0] > 0


@pytest.mark.parametrize('buffer', ['MinRedBuffer', 'FIFOBuffer', None])
def test_resume_mid_stream_equals_the_uninterrupted_run(tmp_path, buffer):
    """Checkpoints every 25% of the stream; resuming from the 50% one (buffer contents,
    MinRed features, schedule position, drawn batches, RNG) ends exactly where the
    uninterrupted run ends."""
    overrides = {'model.buffer.type': buffer} if buffer else {'model.buffer': None}
    overrides['default_hooks.checkpoint.stream_fraction'] = 0.25
    full = build_runner(_cfg(tmp_path / 'full', **overrides))
    full.train()
    names = sorted(p.name for p in (tmp_path / 'full').glob('checkpoint_*.pth'))
    assert names == [f'checkpoint_{f:010.4f}.pth' for f in (0.25, 0.5, 0.75, 1.0)]
    half = torch.load(tmp_path / 'full' / 'checkpoint_00000.5000.pth', weights_only=False)
    state = half['meta']['clbox']
    assert 0.5 <= state['stream_fraction'] < 0.6 and state['pass_state'] is not None

    resumed = build_runner(_cfg(tmp_path / 'resumed', resume=True,
                                load_from=str(tmp_path / 'full' / 'checkpoint_00000.5000.pth'),
                                **overrides))
    resumed.train()
    assert resumed.train_loop.iter == full.train_loop.iter
    a = torch.load(tmp_path / 'full' / 'experience_0.pth', weights_only=False)
    b = torch.load(tmp_path / 'resumed' / 'experience_0.pth', weights_only=False)
    for key, value in a['state_dict'].items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, b['state_dict'][key]), key
    if buffer:
        buf_a = a['state_dict']['_extra_state']['buffer']
        buf_b = b['state_dict']['_extra_state']['buffer']
        assert torch.equal(buf_a['indices'], buf_b['indices'])
        if buffer == 'MinRedBuffer':
            assert torch.equal(buf_a['extra']['features'], buf_b['extra']['features'])
    assert results(tmp_path / 'resumed')['accuracy_matrix'] == \
        results(tmp_path / 'full')['accuracy_matrix']


def test_stream_fraction_needs_the_online_loop(tmp_path):
    cfg = _cfg(tmp_path, **{'default_hooks.checkpoint.stream_fraction': 0.5})
    cfg.train_cfg = dict(type='ExperienceBasedTrainLoop', max_epochs=1, eval_initial=False)
    cfg.model.buffer = None
    with pytest.raises(ValueError, match='interval=N'):
        build_runner(cfg).train()


def test_batches_drawn_ahead_are_replayed_after_a_resume():
    """A loader that prefetches draws batches before they are trained on: a checkpoint
    keeps them, and the resumed schedule yields them first, then continues."""
    from clbox.buffers import BufferedUpdates, FIFOBuffer
    from clbox.engine.loops.online import _IndexLists
    chunks = [list(range(i, i + 4)) for i in range(0, 64, 4)]

    def schedule():
        return BufferedUpdates(FIFOBuffer(size=8, seed=3), chunks, 2, 4)
    full = list(_IndexLists(schedule()))
    first = schedule()
    lists = _IndexLists(first)
    it = iter(lists)
    for _ in range(5):          # 5 drawn ...
        next(it)
    lists.trained()             # ... 2 trained
    lists.trained()
    pending = lists.pending()
    assert pending == full[2:5]
    second = schedule()
    second.buffer.load_state_dict(first.buffer.state_dict())
    second.load_state_dict(first.state_dict())
    resumed = _IndexLists(second, pending)
    assert len(resumed) == len(full) - 2
    assert list(resumed) == full[2:]


def test_resume_mid_stream_on_two_ranks(tmp_path):
    """Each rank resumes its own buffer share, schedule position and RNG from the 50%
    checkpoint and ends where the uninterrupted two-rank run ends."""
    text = f'''
    _base_ = [{CONFIG!r}]
    scenario = dict(scenario=dict(train=dict(split='test')))
    model = dict(buffer=dict(size=64), model=dict(
        backbone=dict(stem_channels=8, base_channels=8), neck=dict(in_channels=64)))
    train_dataloader = dict(batch_size=16)
    val_evaluator = dict(bank_size=200)
    default_hooks = dict(logger=dict(interval=1000),
                         checkpoint=dict(stream_fraction=0.5))
    '''
    cfg = write_config(tmp_path / 'cfg', 'cfg.py', text)
    dist_train(cfg, 2, '--work-dir', str(tmp_path / 'full'))
    half = str(tmp_path / 'full' / 'checkpoint_00000.5000.pth')
    dist_train(cfg, 2, '--work-dir', str(tmp_path / 'resumed'), '--resume', half)
    a = torch.load(tmp_path / 'full' / 'experience_0.pth', weights_only=False)
    b = torch.load(tmp_path / 'resumed' / 'experience_0.pth', weights_only=False)
    assert a['meta']['clbox']['iter'] == b['meta']['clbox']['iter']
    for key, value in a['state_dict'].items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, b['state_dict'][key]), key
    ranks_a = a['state_dict']['_extra_state']['buffer']['ranks']
    ranks_b = b['state_dict']['_extra_state']['buffer']['ranks']
    for ra, rb in zip(ranks_a, ranks_b):
        assert torch.equal(ra['indices'], rb['indices'])
        assert torch.equal(ra['extra']['features'], rb['extra']['features'])
    assert read_json(tmp_path / 'resumed', 'results.json')['accuracy_matrix'] == \
        read_json(tmp_path / 'full', 'results.json')['accuracy_matrix']
