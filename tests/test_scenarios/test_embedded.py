"""Embedded digits and the idx (MNIST / Fashion-MNIST) reader."""
import gzip

import numpy as np
import pytest

from clbox.scenarios import Digits, FashionMNIST, MNIST


def _write_idx(path, array, compress=False):
    header = bytes([0, 0, 8, array.ndim]) + b''.join(
        int(n).to_bytes(4, 'big') for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path, 'wb') as f:
            f.write(data)
    else:
        path.write_bytes(data)


@pytest.mark.parametrize('compress', [False, True])
def test_idx_reader(tmp_path, compress):
    rng = np.random.RandomState(0)
    images, labels = rng.randint(0, 255, (12, 28, 28)), np.arange(12) % 10
    ext = '.gz' if compress else ''
    _write_idx(tmp_path / f'train-images-idx3-ubyte{ext}', images, compress)
    _write_idx(tmp_path / f'train-labels-idx1-ubyte{ext}', labels, compress)
    ds = FashionMNIST(data_root=str(tmp_path), pipeline=[dict(type='PackInputs')])
    assert len(ds) == 12
    assert np.array_equal(ds.get_data_info(3)['img'][..., 0], images[3])
    item = ds[5]
    assert item['inputs'].shape == (1, 28, 28) and int(item['data_samples'].gt_label) == 5
    assert ds.metainfo['classes'][0] == 'T-shirt/top'


def test_idx_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        MNIST(data_root=str(tmp_path / 'missing'))
    with pytest.raises(FileNotFoundError, match='t10k-images-idx3-ubyte'):
        MNIST(data_root=str(tmp_path), split='test')
    (tmp_path / 'train-images-idx3-ubyte').write_bytes(bytes([0, 0, 8, 3]) + (5).to_bytes(
        4, 'big') + (2).to_bytes(4, 'big') * 2 + b'\x00' * 7)
    _write_idx(tmp_path / 'train-labels-idx1-ubyte', np.zeros(5))
    with pytest.raises(ValueError, match='truncated'):
        MNIST(data_root=str(tmp_path))


def test_digits_is_embedded_and_split_is_seeded():
    train, test = Digits(split='train'), Digits(split='test')
    assert len(train) + len(test) == 1797
    assert train.get_data_info(0)['img'].dtype == np.uint8
    assert train.get_data_info(0)['img'].max() <= 255
    assert np.array_equal(Digits(split='test', seed=0).get_gt_labels(), test.get_gt_labels())


def test_digits_read_without_scikit_learn_equal_its_loader():
    from sklearn.datasets import load_digits

    from clbox.scenarios.embedded import load_digits_array
    pixels, labels = load_digits_array()
    reference = load_digits()
    assert np.array_equal(pixels, reference.images)
    assert np.array_equal(labels, reference.target)


def test_digits_upscale_is_nearest_neighbour():
    small, big = Digits(split='test'), Digits(split='test', upscale=4)
    a, b = small.get_data_info(3)['img'], big.get_data_info(3)['img']
    assert b.shape[:2] == (32, 32)
    assert np.array_equal(b[::4, ::4], a) and np.array_equal(b[3::4, 3::4], a)
    with pytest.raises(ValueError, match='upscale'):
        Digits(upscale=0)


def test_split_mnist_config_trains_on_idx_files(tmp_path, monkeypatch):
    """configs/naive/naive_mlp_1xb64-1e_mnist-5exp.py on MNIST-format idx files (gzipped,
    as published) in its data root: 5 experiences of 2 classes in the order 0..9."""
    import os.path as osp
    import uuid

    from mmengine.config import Config

    from helpers import ROOT, build_runner, results
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'data' / 'mnist').mkdir(parents=True)
    rng = np.random.RandomState(0)
    for prefix, n in (('train', 40), ('t10k', 20)):
        labels = np.arange(n) % 10
        images = rng.randint(0, 60, (n, 28, 28)) + 19 * labels[:, None, None]
        _write_idx(tmp_path / 'data' / 'mnist' / f'{prefix}-images-idx3-ubyte.gz', images, True)
        _write_idx(tmp_path / 'data' / 'mnist' / f'{prefix}-labels-idx1-ubyte.gz', labels, True)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'naive', 'naive_mlp_1xb64-1e_mnist-5exp.py'))
    cfg.work_dir, cfg.experiment_name = str(tmp_path / 'work'), f'test-{uuid.uuid4().hex[:8]}'
    cfg.log_level = 'WARNING'
    runner = build_runner(cfg)
    assert [e.classes for e in runner.scenario.train_stream] == [(0, 1), (2, 3), (4, 5),
                                                                 (6, 7), (8, 9)]
    runner.train()
    assert len(results(runner.work_dir)['accuracy_matrix']) == 5
