"""Every registered continual method trains two experiences on a tiny scenario.

Classification methods run on 2-experience digits with an 8-channel ResNet; segmentation
methods on the synthetic 2-step shapes task with a tiny DeepLabV3. A method that needs a
particular part (AR1's CWR* head) names it in ``NEEDS``; nothing else is special-cased.
"""
import os.path as osp

import pytest
from mmengine.config import Config

import clbox.algorithms  # noqa: F401
from clbox.algorithms.base import ContinualAlgorithm
from clbox.registry import MODELS
from helpers import ROOT, build_runner, results, tiny_cfg

METHODS = sorted(name for name, cls in MODELS.module_dict.items()
                 if isinstance(cls, type) and issubclass(cls, ContinualAlgorithm)
                 and not name.startswith('_'))
SEG_SMOKE = osp.join(ROOT, 'configs/continual_seg/ft_deeplabv3-tiny_1xb16-4e_synthetic-2-2.py')
SSL_SMOKE = osp.join(ROOT, 'configs/cssl/simsiam-minred_resnet18-tiny_1xb16-x2_digits-stream.py')
#: Parts a method cannot run without, merged into the config's ``model``.
#: (AR1 freezes the layers below the latent one from the start by default, as its
#: reference does with a pretrained backbone; the smoke model is trained from scratch.)
NEEDS = {'AR1': dict(model=dict(head=dict(type='CWRStarHead')), latent_layer='layer3',
                     freeze_below_latent_from_start=False)}


def test_the_foundation_methods_are_registered():
    assert {'Naive', 'Joint', 'ER', 'LwF', 'EWC'} <= set(METHODS)


@pytest.mark.parametrize('name', METHODS)
def test_method_trains_two_experiences(tmp_path, name):
    method = dict(type=name, **NEEDS.get(name, {}))
    if MODELS.get(name).task == 'segmentation':
        cfg = Config.fromfile(SEG_SMOKE)
        cfg.work_dir = str(tmp_path)
        cfg.log_level = 'WARNING'
        cfg.experiment_name = f'smoke-{name}'
        cfg.train_cfg.max_epochs = 1
        cfg.scenario.update(num_train=16, num_test=8)  # the config's 960 images are slow
        cfg.merge_from_dict(dict(model=method))
    elif MODELS.get(name).task == 'self-supervised':
        cfg = Config.fromfile(SSL_SMOKE)
        cfg.work_dir = str(tmp_path)
        cfg.log_level = 'WARNING'
        cfg.experiment_name = f'smoke-{name}'
        cfg.merge_from_dict({'scenario.scenario.num_experiences': 2,
                             'scenario.scenario.train.split': 'test',
                             'model.buffer.size': 64, 'val_evaluator.bank_size': 200})
    else:
        cfg = tiny_cfg(tmp_path, method, num_experiences=2, epochs=3)
    runner = build_runner(cfg)
    runner.train()
    matrix = results(tmp_path)['accuracy_matrix']
    assert len(matrix) == 2 and all(len(row) == len(matrix[0]) for row in matrix)
    if MODELS.get(name).task == 'classification':
        # it learned its first experience (chance is 20% over 5 classes)
        assert matrix[0][0] > 50
    assert runner.model.seen_classes  # after_experience ran


def test_joint_modes(tmp_path):
    """'cumulative' (Avalanche's Cumulative) trains every experience on the union so far;
    'all' (Avalanche's JointTraining) trains once on the whole stream."""
    from helpers import build_runner, results, tiny_cfg
    runner = build_runner(tiny_cfg(tmp_path / 'all', dict(type='Joint', mode='all')))
    assert runner.train_loop.experiences == [2]
    train = runner.train_loop.algorithm.train_dataset(
        runner.scenario.train_stream[2], runner.scenario.train_stream)
    assert len(train) == sum(len(e.dataset) for e in runner.scenario.train_stream)
    runner.train()
    assert len(results(tmp_path / 'all')['accuracy_matrix']) == 1
    cumulative = build_runner(tiny_cfg(tmp_path / 'cum', dict(type='Joint')))
    assert cumulative.train_loop.experiences == [0, 1, 2]
    with pytest.raises(ValueError, match="JointTraining"):
        build_runner(tiny_cfg(tmp_path / 'bad', dict(type='Joint', mode='joint')))


@pytest.mark.parametrize('convention,scale', [('paper', 0.5), ('avalanche', 1.0)])
def test_ewc_penalty_conventions(tmp_path, convention, scale):
    """loss_ewc = scale * lambda * sum_k F_k (theta - theta_k*)^2: the paper's lambda / 2
    (Kirkpatrick et al., eq. 3) or Avalanche's EWCPlugin lambda."""
    import torch
    from helpers import build_runner, tiny_cfg
    runner = build_runner(tiny_cfg(tmp_path, dict(type='EWC', ewc_lambda=3.0,
                                                  lambda_convention=convention)))
    ewc = runner.model
    g = torch.Generator().manual_seed(0)
    params = {n: p for n, p in ewc.model.named_parameters() if p.requires_grad}
    ewc.penalties = [dict(fisher={n: torch.rand(p.shape, generator=g) for n, p in params.items()},
                          anchor={n: p.detach() + 0.1 * torch.randn(p.shape, generator=g)
                                  for n, p in params.items()}) for _ in range(2)]
    expected = scale * 3.0 * sum((item['fisher'][n] * (p - item['anchor'][n]) ** 2).sum()
                                 for item in ewc.penalties for n, p in params.items())
    data = ewc.preprocess(next(iter(runner.train_loop.dataloader)), True)
    loss = ewc.loss(data['inputs'], data['data_samples'])['loss_ewc']
    assert torch.allclose(loss, expected, rtol=1e-5)
    with pytest.raises(ValueError, match='lambda_convention'):
        build_runner(tiny_cfg(tmp_path / 'bad', dict(type='EWC', lambda_convention='x')))
