"""The Split Fashion-MNIST configs of ``benchmarks/vs_avalanche.py`` train end to end, on a
tiny Fashion-MNIST written here in the real idx format (gzipped), so that nothing depends
on Debian's ``dataset-fashion-mnist`` being installed; and the benchmark's clbox side runs
them with only the seed, work dir and data root changed."""
import importlib.util
import json
import os.path as osp
import sys
import uuid

import numpy as np
import pytest
from mmengine.config import Config

from helpers import ROOT, build_runner, write_idx

BENCH = osp.join(ROOT, 'benchmarks')
CONFIGS = {m: osp.join(ROOT, f'configs/{m}/{m}_mlp_1xb64-1e_fashion-mnist-5exp.py')
           for m in ('naive', 'er', 'lwf', 'ewc', 'joint')}
TRAIN_PER_CLASS, TEST_PER_CLASS = 7, 2  # 14 training images per experience: 1 batch each


@pytest.fixture(scope='module')
def fashion_root(tmp_path_factory):
    """Fashion-MNIST's four files with 7 training and 2 test 28x28 images per class."""
    root = tmp_path_factory.mktemp('fashion-mnist')
    rng = np.random.RandomState(0)
    for prefix, per_class in (('train', TRAIN_PER_CLASS), ('t10k', TEST_PER_CLASS)):
        labels = np.repeat(np.arange(10), per_class)
        rng.shuffle(labels)
        images = rng.randint(0, 256, (len(labels), 28, 28))
        images[:, :, :2] = labels[:, None, None] * 25  # something class-dependent
        write_idx(str(root / f'{prefix}-images-idx3-ubyte.gz'), images)
        write_idx(str(root / f'{prefix}-labels-idx1-ubyte.gz'), labels)
    return str(root)


def fashion_cfg(method: str, data_root: str, work_dir) -> Config:
    cfg = Config.fromfile(CONFIGS[method])
    for split in ('train', 'test'):
        cfg.scenario[split].data_root = data_root
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'test-{uuid.uuid4().hex[:12]}'
    cfg.log_level = 'WARNING'
    return cfg


def test_the_configs_hold_the_benchmark_workload():
    cfg = Config.fromfile(CONFIGS['naive'])
    task = cfg.model.model
    assert task.backbone == dict(type='MLP', in_channels=784, hidden_channels=[400, 400],
                                 dropout=0.0)
    assert task.head.in_channels == 400 and task.head.num_classes == 10
    assert task.head.init_cfg is None  # PyTorch's default Linear init, as a torch.nn MLP
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.01, momentum=0.9,
                                               weight_decay=0.0)
    assert cfg.train_cfg.max_epochs == 1 and cfg.train_cfg.reset_optimizer
    assert cfg.train_dataloader.batch_size == 64
    assert cfg.scenario.class_order == list(range(10)) and cfg.scenario.num_experiences == 5
    assert cfg.scenario.train.data_root == '/usr/share/datasets/fashion-mnist'
    er = Config.fromfile(CONFIGS['er']).model
    assert er.buffer == dict(type='ExperienceBalancedBuffer', size=200)
    assert er.replay_batch_size == 64
    lwf = Config.fromfile(CONFIGS['lwf']).model
    assert lwf.alpha == 1.0 and lwf.distill.temperature == 2.0
    ewc = Config.fromfile(CONFIGS['ewc']).model
    assert (ewc.ewc_lambda, ewc.lambda_convention, ewc.mode) == (100.0, 'avalanche', 'separate')
    joint = Config.fromfile(CONFIGS['joint'])
    assert joint.model.type == 'Joint' and joint.model.mode == 'all'


@pytest.mark.parametrize('method', list(CONFIGS))
def test_config_trains_on_idx_files(method, fashion_root, tmp_path):
    runner = build_runner(fashion_cfg(method, fashion_root, tmp_path))
    runner.train()
    with open(tmp_path / 'results.json') as f:
        res = json.load(f)
    rows = res['accuracy_matrix']
    assert len(rows) == (1 if method == 'joint' else 5)
    assert all(len(row) == 5 for row in rows)  # the whole test stream after each
    loop = runner.train_loop
    assert loop.images_seen == 10 * TRAIN_PER_CLASS  # every training image once
    assert loop.iter == (2 if method == 'joint' else 5)  # 70 = 64 + 6, or 14 per experience
    assert osp.isfile(tmp_path / 'experience_4.pth')
    model = runner.model
    if method == 'er':
        assert len(model.buffer) == 10 * TRAIN_PER_CLASS  # room for all 70 of them
        assert sorted(model.buffer.group_counts().values()) == [14] * 5
    if method == 'ewc':
        assert len(model.penalties) == 5
    if method == 'lwf':
        assert model.teacher is not None


@pytest.fixture(scope='module')
def vs_avalanche():
    """``benchmarks/vs_avalanche.py`` as a module (``benchmarks/_common.py`` shares its
    name with ``tools/_common.py``, which other tests import: keep them apart)."""
    names = ('_common', '_device')
    saved = {k: sys.modules.pop(k) for k in names if k in sys.modules}
    sys.path.insert(0, BENCH)
    try:
        spec = importlib.util.spec_from_file_location(
            'vs_avalanche', osp.join(BENCH, 'vs_avalanche.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(BENCH)
        for k in names:
            sys.modules.pop(k, None)
        sys.modules.update(saved)
    return module


def test_benchmark_clbox_side_runs_the_config(vs_avalanche, fashion_root, tmp_path):
    cfg = vs_avalanche.clbox_config('naive', 3, str(tmp_path / 'cfg'), fashion_root)
    plain = Config.fromfile(CONFIGS['naive'])
    changed = {k for k in set(cfg.keys()) | set(plain.keys())
               if cfg.get(k) != plain.get(k)}
    assert changed == {'work_dir', 'randomness', 'scenario'}
    assert cfg.randomness.seed == 3
    res = vs_avalanche.run_clbox('naive', 0, str(tmp_path / 'run'), fashion_root, 'cpu')
    assert 0.0 <= res['acc'] <= 1.0 and len(res['row']) == 5
    assert res['iters'] == 5 and res['images'] == 10 * TRAIN_PER_CLASS
    assert 0 < res['epochs_s'] <= res['train_s'] < res['stream_s']


def test_benchmark_report_medians_and_verdicts(vs_avalanche, capsys):
    def run(acc, train_s, seed):
        return dict(acc=acc, train_s=train_s, epochs_s=train_s * 0.9, stream_s=train_s * 2,
                    iters=940, images=60000, seed=seed, row=[acc] * 5)
    runs = {'er/avalanche': [run(0.74, 4.0, s) for s in range(3)],
            'er/clbox': [run(0.72, 1.0, 0), run(0.72, 9.0, 1), run(0.73, 1.8, 2)]}
    table = vs_avalanche.report(runs, [0, 1, 2], 'cpu')
    out = capsys.readouterr().out
    assert table['er/clbox']['train_s'] == 1.8  # the median, not the mean (3.93)
    assert table['er/clbox']['time_ratio'] == pytest.approx(0.45)
    assert table['er/clbox']['acc_gap'] == pytest.approx(0.7233333 - 0.74, abs=1e-6)
    assert 'er: accuracy gap -0.0167 (met' in out and 'train time ratio 0.45 (met' in out
