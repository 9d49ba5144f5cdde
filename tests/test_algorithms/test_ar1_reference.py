"""AR1* as its PyTorch reference runs it (vlomonaco/ar1-pytorch, ``ar1star_lat_replay.py``
and ``params.cfg``): the config's values, the lower part frozen from the first
experience, one optimizer from the second experience on, the reference's test subset, and
the tiny config learning on the miniature CORe50 (with retention and resume)."""
import math
import os
import os.path as osp
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper
from torch.utils.data import DataLoader

from clbox.models.layers import BatchRenorm2d
from clbox.registry import MODELS, SCENARIOS
from fixtures.core50 import make_core50
from helpers import ROOT, build_runner, results

REFERENCE = osp.join(ROOT, 'configs/ar1/ar1star_mobilenetv1_nicv2-391_core50.py')
TINY = osp.join(ROOT, 'configs/ar1/ar1star_mobilenetv1-tiny_nicv2-391_core50.py')
NUM_NEW = 4


@pytest.fixture(scope='module')
def core50(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('core50'))
    make_core50(root, frames=4, size=32)
    return root


@pytest.fixture(scope='module')
def scenario(core50):
    return SCENARIOS.build(dict(type='CORe50', data_root=core50, num_batches=3))


def _small_ar1(**kwargs):
    """AR1 with every method key at its default, on a MobileNetV1 x0.25."""
    kwargs.setdefault('replay_batch_size', 6)
    return MODELS.build(dict(
        type='AR1',
        model=dict(
            type='ImageClassifier',
            data_preprocessor=dict(type='ClsDataPreprocessor', mean=[127.5] * 3,
                                   std=[127.5] * 3, to_rgb=False),
            backbone=dict(type='MobileNetV1', widen_factor=0.25, norm_cfg=dict(type='BRN')),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='CWRStarHead', num_classes=50, in_channels=256)),
        buffer=dict(type='LatentReplayBuffer', size=8), **kwargs))


def _train(alg, exp, optim, epochs=1):
    """The loop's calls for one experience, with one optimizer kept across experiences
    (``train_cfg.reset_optimizer=False``)."""
    alg.before_experience(exp)
    alg.configure_optimizer(optim, exp)
    loader = DataLoader(exp.dataset, batch_size=NUM_NEW, shuffle=True,
                        collate_fn=pseudo_collate)
    for _ in range(epochs):
        alg.train()
        for batch in loader:
            alg.train_step(batch, optim)
    alg.after_experience(exp, loader)
    for batch in DataLoader(exp.dataset, batch_size=NUM_NEW, collate_fn=pseudo_collate):
        alg.observe(batch)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


# ------------------------------------------------------------------ the values
def test_reference_config_holds_the_pytorch_run_values():
    cfg = Config.fromfile(REFERENCE)
    m = cfg.model
    assert m.latent_layer == 'conv5_4.dw' and m.freeze_lower and \
        m.freeze_below_latent_from_start            # params.cfg:36-37, ALR:123-124
    assert m.si_lambda == 0                          # reg_lambda = 0, params.cfg:38
    assert m.mb_size == 128 and m.buffer.size == 1500  # params.cfg:25, 33
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ('SGD', 0.001, 0.9, 5e-4)
    assert 'paramwise_cfg' not in cfg.optim_wrapper   # one lr for every layer, ALR:130-132
    assert opt.lr * m.inc_lr_mult == pytest.approx(5e-5)  # inc_lr, params.cfg:24
    assert cfg.train_cfg.reset_optimizer is False and cfg.train_cfg.max_epochs == 4
    brn = cfg.model.model.backbone.norm_cfg
    assert (brn.momentum, brn.r_max, brn.d_max, brn.max_r_max, brn.max_d_max,
            brn.r_d_max_inc_step) == (0.01, 1.0, 0.0, 1.25, 0.5, 4.1e-5)
    assert m.inc_brn_cfg == dict(momentum=5e-5, r_max=1.25, d_max=0.5, r_d_max_inc_step=0.0)
    assert cfg.scenario.test_every == 20 and cfg.val_dataloader.batch_size == 128
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 2


def test_method_defaults_are_the_reference_values():
    alg = _small_ar1()
    assert alg.freeze_lower and alg.freeze_from_start
    assert alg.inc_lr_mult == pytest.approx(5e-5 / 0.001)
    assert alg.si_lambda == 0 and not alg._si_names
    assert alg.mb_size == 128
    assert alg.inc_brn_cfg == dict(momentum=5e-5, r_max=1.25, d_max=0.5, r_d_max_inc_step=0.0)


@pytest.mark.parametrize('key,value,match', [
    ('freeze_below_latent_from_start', 'yes', 'freeze_below_latent_from_start must be'),
    ('freeze_lower', 1, 'freeze_lower must be'),
    ('inc_lr_mult', -0.1, 'inc_lr_mult must be a number >= 0'),
    ('si_lambda', None, 'si_lambda must be a number >= 0'),
    ('mb_size', 0, 'mb_size must be an int >= 1'),
    ('replay_batch_size', 2.5, 'replay_batch_size must be None'),
])
def test_bad_keys_are_named(key, value, match):
    with pytest.raises(ValueError, match=match):
        _small_ar1(**{key: value})


# ---------------------------------------------------------------- the behaviour
def test_lower_part_is_frozen_and_in_eval_mode_from_the_first_experience(scenario):
    torch.manual_seed(0)
    alg = _small_ar1()
    backbone = alg.model.backbone
    lower, latent, upper = (_state(backbone.conv1), _state(backbone.conv5_4.dw),
                            _state(backbone.conv6))
    modes = []
    backbone.conv5_4.dw.register_forward_hook(lambda m, i, o: modes.append(m.training))
    optim = OptimWrapper(torch.optim.SGD(alg.parameters(), lr=0.05, momentum=0.9))
    _train(alg, scenario.train_stream[0], optim, epochs=2)
    assert alg.lower_frozen and modes and not any(modes)  # eval mode in every step
    for before, module in ((lower, backbone.conv1), (latent, backbone.conv5_4.dw)):
        for k, v in _state(module).items():  # weights, BRN statistics and bounds
            assert torch.equal(v, before[k]), k
    assert not any(p.requires_grad for p in backbone.conv5_4.dw.parameters())
    assert not torch.equal(backbone.conv6.sep.conv.weight, upper['sep.conv.weight'])
    assert isinstance(backbone.conv6.sep.bn, BatchRenorm2d)
    assert float(backbone.conv6.sep.bn.r_max) > 1.0  # the upper BRN trained (grows)
    # the latents offered to the memory are what the frozen part gives now
    alg.buffer.commit()
    stored = alg.buffer.get_all()['inputs']
    batch = pseudo_collate(list(scenario.train_stream[0].dataset))
    with torch.no_grad():
        fresh = alg.split.lower(alg.preprocess(batch, False)['inputs'])
    distance = torch.cdist(stored.flatten(1), fresh.flatten(1)).min(1).values
    assert len(stored) == 8 and float(distance.max()) < 1e-5


def test_one_optimizer_from_the_second_experience_on(scenario):
    """The reference: SGD(lr=init_lr) for batch 0, a new SGD(lr=inc_lr) at batch 1, kept
    to the end (ar1star_lat_replay.py:110-112, 126-132)."""
    torch.manual_seed(0)
    alg = _small_ar1()
    optim = OptimWrapper(torch.optim.SGD(alg.parameters(), lr=0.001, momentum=0.9))
    sgd = optim.optimizer
    lower = list(alg.model.backbone.conv1.parameters())
    _train(alg, scenario.train_stream[0], optim)
    assert sgd.param_groups[0]['lr'] == pytest.approx(0.001)
    assert len(sgd.state) > 0 and not any(p in sgd.state for p in lower)  # frozen: no state
    alg.before_experience(scenario.train_stream[1])
    alg.configure_optimizer(optim, scenario.train_stream[1])
    assert len(sgd.state) == 0  # the momentum of experience 0 is dropped (a new SGD)
    assert sgd.param_groups[0]['lr'] == pytest.approx(5e-5)
    loader = DataLoader(scenario.train_stream[1].dataset, batch_size=NUM_NEW,
                        collate_fn=pseudo_collate)
    alg.train()
    for batch in loader:
        alg.train_step(batch, optim)
    alg.after_experience(scenario.train_stream[1], loader)
    momentum = {id(p): s['momentum_buffer'].clone() for p, s in sgd.state.items()}
    assert momentum
    alg.before_experience(scenario.train_stream[2])
    alg.configure_optimizer(optim, scenario.train_stream[2])
    assert {id(p): s['momentum_buffer'] for p, s in sgd.state.items()}.keys() == \
        momentum.keys()  # kept from now on
    assert all(torch.equal(s['momentum_buffer'], momentum[id(p)])
               for p, s in sgd.state.items())
    assert sgd.param_groups[0]['lr'] == pytest.approx(5e-5)  # not scaled twice


# ------------------------------------------------------------- the test subset
@pytest.mark.parametrize('k', [1, 2, 5, 20, 48, 100])
def test_every_kth_test_image(core50, k):
    full = SCENARIOS.build(dict(type='CORe50', data_root=core50, num_batches=1))
    sub = SCENARIOS.build(dict(type='CORe50', data_root=core50, num_batches=1, test_every=k))
    everything = full.test_stream[0].dataset.data_list
    kept = sub.test_stream[0].dataset.data_list
    assert len(everything) == 48
    assert len(kept) == math.ceil(48 / k)
    assert [d['img_path'] for d in kept] == [d['img_path'] for d in everything[::k]]
    assert len(sub.train_stream[0].dataset) == len(full.train_stream[0].dataset)


def test_every_kth_without_a_test_list(core50, tmp_path):
    """Layouts without test_filelist.txt scan the test sessions; the subset applies."""
    import shutil
    root = tmp_path / 'core50'
    shutil.copytree(core50, root)
    os.remove(root / 'NIC_v2_391' / 'run0' / 'test_filelist.txt')
    full = SCENARIOS.build(dict(type='CORe50', data_root=str(root), num_batches=1))
    sub = SCENARIOS.build(dict(type='CORe50', data_root=str(root), num_batches=1,
                               test_every=7))
    everything = full.test_stream[0].dataset.data_list
    assert [d['img_path'] for d in sub.test_stream[0].dataset.data_list] == \
        [d['img_path'] for d in everything[::7]]


@pytest.mark.parametrize('bad', [0, -1, 2.5, '20', True])
def test_bad_test_every_is_named(core50, bad):
    with pytest.raises(ValueError, match=r'test_every.*int >= 1'):
        SCENARIOS.build(dict(type='CORe50', data_root=core50, num_batches=1,
                             test_every=bad))


# ------------------------------------------------------- the tiny config learns
class _OptimizerRecord(Hook):
    """The optimizer object and its learning rate at every experience start."""

    def __init__(self):
        self.seen = []

    def before_experience(self, runner, experience):
        group = runner.optim_wrapper.optimizer.param_groups[0]
        self.seen.append((id(runner.optim_wrapper.optimizer), group['lr']))


def _tiny(core50, work_dir, **overrides):
    cfg = Config.fromfile(TINY)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'ar1-tiny-{uuid.uuid4().hex[:12]}'
    cfg.log_level = 'WARNING'
    cfg.merge_from_dict({'scenario.data_root': core50, 'scenario.num_batches': 6,
                         'default_hooks.logger.interval': 1000, **overrides})
    return cfg


def test_tiny_config_learns_keeps_two_checkpoints_and_resumes(core50, tmp_path):
    """All six fixture batches: the four test objects are learnt (one class, or none, is
    at most 25% of the 48 test images); only the last two experience checkpoints remain
    (max_keep_ckpts=2, inherited from the reference config), and resuming from the
    older one reproduces the run."""
    runner = build_runner(_tiny(core50, tmp_path))
    record = _OptimizerRecord()
    runner.register_hook(record)
    runner.train()
    matrix = [row[0] for row in results(tmp_path)['accuracy_matrix']]
    assert len(matrix) == 6
    assert matrix[-1] >= 60, matrix            # ~75% (seed 0); chance 25%
    assert sum(matrix[3:]) / 3 >= 45, matrix   # learnt since all objects were seen
    # one optimizer for the whole stream (train_cfg.reset_optimizer=False)
    assert len({oid for oid, _ in record.seen}) == 1
    assert [lr for _, lr in record.seen] == pytest.approx([0.02] * 6)  # inc_lr_mult=1
    kept = sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth'))
    assert kept == ['experience_4.pth', 'experience_5.pth']
    # --resume from the older kept checkpoint (as if the run had died in experience 5)
    os.remove(tmp_path / 'experience_5.pth')
    with open(tmp_path / 'last_checkpoint', 'w') as f:
        f.write(str(tmp_path / 'experience_4.pth'))
    build_runner(_tiny(core50, tmp_path, resume=True)).train()
    assert [row[0] for row in results(tmp_path)['accuracy_matrix']] == matrix
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth')) == kept
