"""AR1* with latent replay, driven by hand through the loop's calls on a mini CORe50."""
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from torch.utils.data import DataLoader

from clbox.models.layers import BatchRenorm2d
from clbox.registry import MODELS, SCENARIOS
from fixtures.core50 import make_core50

NUM_NEW = 4


def _model_cfg(**kwargs):
    cfg = dict(
        type='AR1',
        model=dict(
            type='ImageClassifier',
            data_preprocessor=dict(type='ClsDataPreprocessor', mean=[127.5] * 3,
                                   std=[127.5] * 3, to_rgb=False),
            backbone=dict(type='MobileNetV1', widen_factor=0.25, norm_cfg=dict(type='BRN')),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='CWRStarHead', num_classes=50, in_channels=256)),
        latent_layer='conv5_4.dw', buffer=dict(type='LatentReplayBuffer', size=8),
        replay_batch_size=6)
    cfg.update(kwargs)
    return cfg


@pytest.fixture(scope='module')
def scenario(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('core50'))
    make_core50(root, frames=4, size=32)
    return SCENARIOS.build(dict(type='CORe50', data_root=root, num_batches=3))


class RowCounter:
    """Counts rows entering a module during training steps."""

    def __init__(self, module):
        self.rows = []
        module.register_forward_hook(lambda m, inp, out: self.rows.append(len(inp[0])))


def _run(alg, exp, epochs=1):
    alg.before_experience(exp)
    optim = OptimWrapper(torch.optim.SGD(alg.parameters(), lr=0.05, momentum=0.9))
    loader = DataLoader(exp.dataset, batch_size=NUM_NEW, shuffle=True,
                        collate_fn=pseudo_collate)
    logs = []
    for _ in range(epochs):
        alg.train()
        for batch in loader:
            logs.append(alg.train_step(batch, optim))
    alg.after_experience(exp, loader)
    for batch in DataLoader(exp.dataset, batch_size=NUM_NEW, collate_fn=pseudo_collate):
        alg.observe(batch)
    return logs


def _sample(label):
    from mmpretrain.structures import DataSample
    return DataSample().set_gt_label(label)


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_replayed_samples_bypass_the_frozen_lower_layers(scenario):
    """The Caffe-era variant: lower layers trained in experience 0, frozen after it, with
    the SI-style penalty (the reference's defaults: test_ar1_reference.py)."""
    torch.manual_seed(0)
    alg = MODELS.build(_model_cfg(freeze_below_latent_from_start=False, si_lambda=1.0))
    backbone = alg.model.backbone
    lower, upper = RowCounter(backbone.conv1), RowCounter(backbone.conv5_4.sep)
    steps = len(_run(alg, scenario.train_stream[0], epochs=2))
    assert len(alg.buffer) == 0  # committed when the next experience starts
    assert lower.rows[:steps] == upper.rows[:steps] == [NUM_NEW] * steps  # no replay yet
    assert lower.rows[steps:] == [NUM_NEW, NUM_NEW]  # the observe pass: latents to store
    lower_before = _snapshot(backbone.conv1)
    dw_before = _snapshot(backbone.conv5_4.dw)
    upper_before = _snapshot(backbone.conv6)
    importance = torch.cat([f.flatten() for f in alg.si['importance'].values()])
    assert 0 < float(importance.max()) <= 0.001 + 1e-9  # clipped at the reference's max_f
    lower.rows.clear(), upper.rows.clear()
    logs = _run(alg, scenario.train_stream[1], epochs=2)
    assert len(alg.buffer) == 8
    stored = alg.buffer.get_all()['inputs']
    assert tuple(stored.shape[1:]) == (128, 2, 2)  # conv5_4.dw output at 32x32 input
    steps = len(logs)
    new_rows = lower.rows[:steps]
    assert all(n <= NUM_NEW for n in new_rows)
    assert upper.rows[:steps] == [n + 6 for n in new_rows]
    # lower part frozen, BRN statistics included; upper part trained
    for k, v in _snapshot(backbone.conv1).items():
        assert torch.equal(v, lower_before[k]), k
    for k, v in _snapshot(backbone.conv5_4.dw).items():
        assert torch.equal(v, dw_before[k]), k
    assert not torch.equal(backbone.conv6.sep.conv.weight, upper_before['sep.conv.weight'])
    assert not backbone.conv1.training and backbone.conv6.training
    assert not any(p.requires_grad for p in backbone.conv5_4.dw.parameters())
    # incremental BRN settings of the reference
    assert float(backbone.conv6.sep.bn.r_max) == pytest.approx(1.25)
    assert backbone.conv6.sep.bn.momentum == pytest.approx(5e-5)
    # the SI-style penalty is on from the second experience
    assert all('loss_si' in log for log in logs)
    assert any(float(log['loss_si']) > 0 for log in logs[1:])


def test_cwr_counts_include_the_memory_and_state_round_trips(scenario):
    torch.manual_seed(0)
    alg = MODELS.build(_model_cfg())
    _run(alg, scenario.train_stream[0])
    _run(alg, scenario.train_stream[1])
    head = alg.model.head
    # experience 0: objects 0, 1 (4 frames each); experience 1: object 5 + memory (8 of
    # experience 0 at commit time)
    assert head.past_counts[[0, 1, 5]].tolist() == [4 + 4, 4 + 4, 4]
    alg.before_experience(scenario.train_stream[2])
    mem = torch.bincount(alg.buffer.get_all()['labels'], minlength=50).float()
    expected = mem.clone()
    expected[0] += 4  # experience 2 is (session 2, object 1): label 0
    assert torch.equal(alg.cur_counts, expected)
    clone = MODELS.build(_model_cfg())
    clone.load_state_dict(alg.state_dict())
    assert clone.lower_frozen and not any(
        p.requires_grad for p in clone.model.backbone.conv1.parameters())
    assert len(clone.buffer) == len(alg.buffer)
    batch = pseudo_collate([scenario.test_stream[0].dataset[i] for i in range(6)])
    alg.eval(), clone.eval()
    scores, labels = alg.predict_scores(batch)
    torch.testing.assert_close(clone.predict_scores(batch)[0], scores)
    assert scores.shape == (6, 50) and labels.shape == (6,)


def test_replay_at_the_input_runs_the_whole_network(scenario):
    torch.manual_seed(0)
    alg = MODELS.build(_model_cfg(latent_layer=None))
    lower = RowCounter(alg.model.backbone.conv1)
    _run(alg, scenario.train_stream[0])
    lower.rows.clear()
    logs = _run(alg, scenario.train_stream[1])
    assert alg.buffer.get_all()['inputs'].dtype == torch.uint8  # raw images
    assert lower.rows[:len(logs)] == [n + 6 for n in [NUM_NEW] * len(logs)]
    assert not alg.lower_frozen and alg.model.backbone.conv1.training


def test_proportional_replay_and_reference_batch_size(scenario):
    alg = MODELS.build(_model_cfg(replay_batch_size=None,
                                  buffer=dict(type='LatentReplayBuffer', size=1500)))

    class Exp:
        dataset = list(range(300))
    assert alg.train_batch_size(Exp, 128) == 128  # empty memory
    alg.buffer.add(torch.zeros(1500, 1), torch.zeros(1500), 0)
    alg.buffer.commit()
    assert alg.train_batch_size(Exp, 128) == 21   # 300 // ((300 + 1500) // 128)
    # per step, replay covers the memory once per epoch: 21 * 1500 / 300
    alg._experience_size = 300
    latents = torch.zeros(21, 1)
    alg.split.lower = lambda x: latents  # noqa: E731  (count rows only)
    seen = []
    alg.decode = lambda z: seen.append(len(z)) or torch.zeros(len(z), 50)  # noqa: E731
    alg.loss(torch.zeros(21, 3, 8, 8), [_sample(0) for _ in range(21)])
    assert seen == [21 + 105]


def test_lr_scaled_after_first_experience(scenario):
    alg = MODELS.build(_model_cfg(inc_lr_mult=0.3))
    _run(alg, scenario.train_stream[0])
    alg.before_experience(scenario.train_stream[1])
    optim = OptimWrapper(torch.optim.SGD(alg.parameters(), lr=0.001))
    alg.configure_optimizer(optim, scenario.train_stream[1])
    batch = pseudo_collate([scenario.train_stream[1].dataset[i] for i in range(2)])
    alg.train_step(batch, optim)
    alg.train_step(batch, optim)
    assert optim.optimizer.param_groups[0]['lr'] == pytest.approx(0.0003)


def test_clear_errors():
    cfg = _model_cfg()
    cfg['model']['head'] = dict(type='LinearClsHead', num_classes=50, in_channels=256)
    with pytest.raises(TypeError, match='CWRStarHead'):
        MODELS.build(cfg)
    with pytest.raises(KeyError, match='conv5_4.dw'):
        MODELS.build(_model_cfg(latent_layer='conv9'))
    assert isinstance(MODELS.build(_model_cfg()).model.backbone.conv1.bn, BatchRenorm2d)
