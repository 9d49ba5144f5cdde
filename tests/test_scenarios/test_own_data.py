"""Bring your own data: every recipe config of configs/own_data/ trains on a tree / file of
its own format, a plain torch TensorDataset goes through a scenario (evaluation included),
a built scenario object is given to the runner from Python, and the wrong inputs a user
plausibly passes get errors that say what to do."""
import os
import os.path as osp
import uuid

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from helpers import ROOT, build_runner, results

RECIPES = osp.join(ROOT, 'configs', 'own_data')
CLASSES = ('cat', 'dog', 'fox', 'owl')


def _image(path, label, rng, size=12):
    os.makedirs(osp.dirname(path), exist_ok=True)
    base = np.zeros((size, size, 3), np.uint8)
    base[..., label % 3] = 60 + 60 * label                 # a learnable colour cue
    noise = rng.randint(0, 40, base.shape).astype(np.uint8)
    Image.fromarray(base + noise).save(path)


def _tree(root, rng, per_class=(4, 2)):
    for split, n in zip(('train', 'test'), per_class):
        for label, name in enumerate(CLASSES):
            for i in range(n):
                _image(osp.join(root, split, name, f'{i}.png'), label, rng)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('own-data')
    rng = np.random.RandomState(0)
    _tree(str(root / 'my_images'), rng)
    for domain in ('sunny', 'rainy', 'night'):
        _tree(str(root / 'my_domains' / domain), rng, per_class=(2, 1))
    os.makedirs(root / 'my_arrays')
    for split, n in (('train', 16), ('test', 8)):
        labels = np.arange(n) % 4
        images = rng.randint(0, 256, (n, 12, 12, 3)).astype(np.uint8)
        np.savez(root / 'my_arrays' / f'{split}.npz', images=images, labels=labels)
    return root


def _tiny(cfg, work_dir):
    """Only the run shrunk: 8-channel backbone, 4 classes, 2 experiences, in-process
    loaders."""
    cfg.work_dir, cfg.experiment_name = str(work_dir), f'test-{uuid.uuid4().hex[:12]}'
    cfg.log_level = 'WARNING'
    task = cfg.model.model
    task.backbone.update(stem_channels=8, base_channels=8)
    task.head.update(in_channels=64, num_classes=4)
    task.data_preprocessor.num_classes = 4
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].num_workers = 0
    scenario = cfg.get('scenario')
    if scenario is not None and 'num_experiences' in scenario:
        scenario.num_experiences = 2
    if scenario is not None and scenario.get('benchmark', {}).get('n_experiences'):
        scenario.benchmark.n_experiences = 2
    return cfg


@pytest.mark.parametrize('name, experiences, test_experiences', [
    ('naive_resnet18_imagefolder-class-il.py', 2, 2),
    ('naive_resnet18_imagefolder-domain-il.py', 3, 3),
    ('naive_resnet18_imagefolder-instance-il.py', 2, 1),   # the whole test set each time
    ('naive_resnet18_numpy-class-il.py', 2, 2),
    ('naive_resnet18_torchvision-cifar10-class-il.py', 2, 2),
    ('naive_resnet18_avalanche-nc-benchmark.py', 2, 2),
])
def test_recipe_trains_on_its_data(name, experiences, test_experiences, data, tmp_path,
                                   monkeypatch):
    monkeypatch.chdir(data.parent)
    cfg = Config.fromfile(osp.join(RECIPES, name))
    # the recipes' data_root is data/...: lay the fixture out there
    os.makedirs('data', exist_ok=True)
    for folder in ('my_images', 'my_domains', 'my_arrays'):
        if not osp.exists(osp.join('data', folder)):
            os.symlink(str(data / folder), osp.join('data', folder))
    if 'torchvision' in name:    # CIFAR-10's files are md5-checked: any torchvision
        for part in (cfg.scenario.train, cfg.scenario.test):   # dataset on disk does
            part.dataset = dict(type='torchvision.datasets.ImageFolder',
                                root='data/my_images/' + ('train' if part.dataset.train
                                                          else 'test'))
    runner = build_runner(_tiny(cfg, tmp_path))
    runner.train()
    out = results(runner.work_dir)
    assert out['experiences_done'] == experiences
    assert len(out['accuracy_matrix'][-1]) == test_experiences


def test_a_tensor_dataset_and_a_built_scenario_from_python(tmp_path):
    """A TensorDataset given to ClassIncremental is wrapped (it used to fail at the first
    evaluation); the built scenario goes to the runner without any scenario config."""
    from clbox.engine.runner import ContinualRunner
    from clbox.scenarios import ClassIncremental
    g = torch.Generator().manual_seed(0)
    x = torch.rand(24, 3, 12, 12, generator=g)          # CHW floats in [0, 1]
    y = torch.arange(24) % 4
    scenario = ClassIncremental(train=torch.utils.data.TensorDataset(x, y),
                                test=torch.utils.data.TensorDataset(x[:8], y[:8]),
                                num_experiences=2)
    item = scenario.train_stream[0].dataset[0]
    assert item['inputs'].shape == (3, 12, 12) and item['inputs'].dtype == torch.uint8
    cfg = Config.fromfile(osp.join(RECIPES, 'naive_resnet18_numpy-class-il.py'))
    cfg.pop('scenario')
    runner = ContinualRunner.from_cfg(_tiny(cfg, tmp_path), scenario=scenario)
    runner.train()
    assert results(runner.work_dir)['experiences_done'] == 2
    with pytest.raises(TypeError, match='scenario object'):
        ContinualRunner.from_cfg(cfg, scenario=[1, 2])


def test_wrong_inputs_say_what_to_do(tmp_path, data):
    from clbox.scenarios import NumpyDataset, TorchDataset
    from clbox.scenarios.own_data import import_dotted, to_hwc_uint8
    with pytest.raises(ImportError, match='cannot import'):
        import_dotted('torchvision.datasets.CIFAR11')
    with pytest.raises(ImportError, match='dotted path'):
        TorchDataset(dict(type='CIFAR10'))
    with pytest.raises(ValueError, match=r'not an \(image, label\) pair'):
        TorchDataset([torch.zeros(3, 4, 4)] * 2)
    with pytest.raises(TypeError, match='map-style'):
        TorchDataset(iter([1, 2]))
    with pytest.raises(KeyError, match='set images_key'):
        NumpyDataset(str(data / 'my_arrays' / 'train.npz'), images_key='x')
    with pytest.raises(FileNotFoundError, match='does not exist'):
        NumpyDataset(str(tmp_path / 'missing.npz'))
    with pytest.raises(ValueError, match='one class id'):
        TorchDataset([(torch.zeros(3, 4, 4), torch.tensor([0, 1]))])
    # image layouts: CHW float, HW gray, HWC uint8 all become HWC uint8
    assert to_hwc_uint8(torch.ones(3, 5, 4)).shape == (5, 4, 3)
    assert to_hwc_uint8(np.zeros((5, 4))).shape == (5, 4, 1)
    assert to_hwc_uint8(torch.full((3, 2, 2), 0.5))[0, 0, 0] == 128
