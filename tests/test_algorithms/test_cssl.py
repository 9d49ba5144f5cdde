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
