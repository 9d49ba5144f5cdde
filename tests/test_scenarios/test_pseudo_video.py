"""The pseudo-video stream and the small-scale continuous-SSL configs on a Fashion-MNIST
fixture in the real idx format."""
import os.path as osp
import uuid

import numpy as np
import pytest
from mmengine.config import Config

from clbox.engine.utils import unwrap
from clbox.scenarios import ArrayDataset, PseudoVideoStream
from helpers import ROOT, build_runner, results, write_idx

ARMS = ['simsiam-minred_convnet-small_1xb64-x4_fmnist-pseudovideo.py',
        'simsiam-fifo_convnet-small_1xb64-x4_fmnist-pseudovideo.py',
        'simsiam_convnet-small_1xb64-4e_fmnist-pseudovideo-sequential.py',
        'simsiam_convnet-small_1xb64-4e_fmnist-pseudovideo-decorrelated.py']


def _source(n=6):
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for s in range(n):  # a bright square at a different place in every source
        r, c = 3 + 4 * s % 16, 3 + 7 * s % 16
        images[s, r:r + 9, c:c + 9] = 200
    return ArrayDataset(images, np.arange(n) % 3)


def test_frames_are_near_duplicates_of_their_source():
    stream = PseudoVideoStream(_source(), frames=5, max_shift=2, max_zoom=0.1, max_angle=8)
    assert len(stream) == 30 and stream.source_of(12) == 2
    assert stream.get_gt_labels().tolist() == [s % 3 for s in range(6) for _ in range(5)]
    first = stream.get_data_info(10)['img'].astype(float)
    src = stream._images[2].astype(float)
    assert np.array_equal(first, src)                         # t = 0 is the source
    later = [stream.get_data_info(10 + t)['img'].astype(float) for t in range(1, 5)]
    assert any(not np.array_equal(f, src) for f in later)
    other = stream.get_data_info(15)['img'].astype(float)     # another source
    assert max(np.abs(f - src).mean() for f in later) < np.abs(other - src).mean()
    assert np.array_equal(stream.get_data_info(13)['img'], stream.get_data_info(13)['img'])
    walk = stream.walk(2)
    assert (np.abs(walk[:, :2]) <= 2 + 1e-9).all() and (np.abs(walk[:, 3]) <= 8 + 1e-9).all()
    import torch
    with pytest.raises(TypeError, match='in-memory'):
        PseudoVideoStream(torch.utils.data.TensorDataset(torch.zeros(3, 2)))


@pytest.fixture(scope='module')
def fashion_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('fmnist')
    rng = np.random.RandomState(1)
    for prefix, n in (('train', 48), ('t10k', 20)):
        labels = np.arange(n) % 10
        images = rng.randint(0, 256, (n, 28, 28))
        images[:, :4] = labels[:, None, None] * 25
        write_idx(str(root / f'{prefix}-images-idx3-ubyte.gz'), images)
        write_idx(str(root / f'{prefix}-labels-idx1-ubyte.gz'), labels)
    return str(root)


@pytest.mark.parametrize('arm', ARMS)
def test_small_scale_arms_train_on_fixtures(tmp_path, fashion_root, arm):
    """Each arm's own config (pipelines, model, loop), only the stream made small."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs/cssl', arm))
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = f'test-{uuid.uuid4().hex[:12]}'
    cfg.log_level = 'WARNING'
    stream = cfg.scenario.train[0]
    stream.update(num_sources=24, frames=8)  # 192 frames: 3 whole batches
    stream.source.data_root = fashion_root
    cfg.scenario.test[0].data_root = fashion_root
    cfg.val_evaluator.bank.data_root = fashion_root
    if cfg.model.get('buffer'):
        cfg.model.buffer.size = 64
    runner = build_runner(cfg)
    runner.train()
    assert runner.train_loop.iter == 192 * 4 // 64  # the same budget in every arm
    algorithm = unwrap(runner.model)
    if algorithm.buffer is not None:
        assert len(algorithm.buffer) == 64
    assert 0 < results(tmp_path)['accuracy_matrix'][0][0] <= 100
