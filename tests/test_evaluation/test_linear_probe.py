"""The linear probe of continuous SSL (Purushwalkam et al., ECCV 2022, worker_lincls.py),
its LARS optimizer against the reference's LARC + SGD written in the test, the backbone
check, the continual-split protocol and tools/linear_probe.py end to end."""
import json
import math
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from clbox.evaluation.cssl_protocol import (average_over_orders, boundary_checkpoints,
                                            groups_in_order, relative_forgetting)
from clbox.evaluation.linear_probe import (BackboneMismatchError, evaluate_probe,
                                           load_backbone, train_linear_probe)
from clbox.registry import MODELS
from dist_helpers import env_for, write_config
from helpers import ROOT

CSSL = osp.join(ROOT, 'configs/cssl/simsiam-minred_resnet18-tiny_1xb16-x2_digits-stream.py')


def test_probe_separates_a_separable_toy_set():
    g = torch.Generator().manual_seed(0)
    centres = F.normalize(torch.randn(4, 16, generator=g), dim=1)
    labels = torch.randint(4, (2000,), generator=g)
    feats = F.normalize(centres[labels] + 0.15 * torch.randn(2000, 16, generator=g), dim=1)
    layer = train_linear_probe(feats[:1500], labels[:1500], 4, 20,
                               dict(type='SGD', lr=1.0, momentum=0.9), batch_size=256)
    out = evaluate_probe(layer, feats[1500:], labels[1500:],
                         groups=dict(a=[0, 1], b=[2, 3], none=[7]))
    assert out['top1'] > 97 and out['top5'] == 100.0
    assert out['groups']['a'] > 95 and out['groups']['b'] > 95
    assert out['groups']['none'] is None
    # the init is the reference's: N(0, 0.01) weights, zero bias
    layer0 = train_linear_probe(feats[:4], labels[:4], 4, 1, dict(type='SGD', lr=0.0))
    assert layer0.bias.abs().sum() == 0 and 0.005 < layer0.weight.std() < 0.02


def test_probe_rejects_labels_beyond_num_classes():
    with pytest.raises(ValueError, match='num_classes'):
        train_linear_probe(torch.randn(8, 4), torch.arange(8), 4, 1, dict(type='SGD', lr=0.1))


def _larc_sgd_step(params, lr, momentum, trust, state, eps=1e-8):
    """apex LARC(clip=False) around SGD(momentum, weight_decay=0): the gradient scaled by
    trust * |w| / (|g| + eps) (1 where a norm is 0), then SGD's momentum and lr."""
    for p in params:
        g = p.grad
        w_norm, g_norm = float(p.norm()), float(g.norm())
        scale = trust * w_norm / (g_norm + eps) if w_norm and g_norm else 1.0
        g = g * scale
        buf = state.get(p)
        buf = g.clone() if buf is None else buf.mul_(momentum).add_(g)
        state[p] = buf
        p.data.add_(buf, alpha=-lr)


def test_lars_matches_larc_sgd_at_a_constant_rate():
    from clbox.registry import OPTIMIZERS
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 8, generator=g), torch.randint(3, (64,), generator=g)
    a = torch.nn.Linear(8, 3)
    torch.nn.init.normal_(a.weight, 0, 0.01, generator=g)
    b = torch.nn.Linear(8, 3)
    b.load_state_dict(a.state_dict())
    lars = OPTIMIZERS.build(dict(type='LARS', lr=3.0, momentum=0.9, weight_decay=0.0,
                                 eta=0.001, params=a.parameters()))
    state = {}

    def step(lr):
        for group in lars.param_groups:
            group['lr'] = lr
        for layer in (a, b):
            layer.zero_grad()
            F.cross_entropy(layer(x), y).backward()
        lars.step()
        _larc_sgd_step(list(b.parameters()), lr, 0.9, 0.001, state)

    for _ in range(5):
        step(3.0)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-7, rtol=1e-5)
    step(1.5)   # after a rate change the momentum buffers hold differently scaled steps
    step(1.5)
    assert not all(torch.allclose(pa, pb, atol=1e-9, rtol=1e-7)
                   for pa, pb in zip(a.parameters(), b.parameters()))


def _algorithm(**backbone):
    cfg = Config.fromfile(CSSL).model
    cfg.model.backbone.update(backbone)
    cfg.model.neck.in_channels = 8 * cfg.model.backbone.get('base_channels', 16)
    cfg.pop('buffer')
    return MODELS.build(cfg)


def test_probe_checkpoint_must_match_the_backbone():
    trained = _algorithm(stem_channels=8, base_channels=8)
    fresh = _algorithm(stem_channels=8, base_channels=8)
    loaded = load_backbone(fresh, dict(state_dict=trained.state_dict()), 'ok.pth')
    assert loaded and all(torch.equal(v, trained.model.backbone.state_dict()[k])
                          for k, v in fresh.model.backbone.state_dict().items())
    other = _algorithm()      # 16 channels
    with pytest.raises(BackboneMismatchError, match=r'bad\.pth.*shape mismatch.*conv1'):
        load_backbone(other, dict(state_dict=trained.state_dict()), 'bad.pth')
    with pytest.raises(BackboneMismatchError, match='no backbone weights'):
        load_backbone(other, dict(state_dict={'head.fc.weight': torch.zeros(2)}), 'x.pth')


def test_relative_forgetting_of_each_split():
    acc = dict(a=[40.0, 38.0, 36.0, 30.0], b=[5.0, 20.0, 19.0, 18.0],
               c=[1.0, 2.0, 25.0, 20.0], d=[1.0, 1.0, 2.0, 22.0])
    got = relative_forgetting(acc, ['a', 'b', 'c', 'd'])
    # F_k(t) = 100 (A_k(t_k) - A_k(t)) / A_k(t_k), t after the end t_k of split k
    assert got == {'D0': [100 * (40 - 38) / 40, 100 * (40 - 36) / 40, 100 * (40 - 30) / 40],
                   'D1': [100 * (20 - 19) / 20, 100 * (20 - 18) / 20],
                   'D2': [100 * (25 - 20) / 25]}
    assert groups_in_order(['split0', 'split1', 'split2', 'split3'], '0312') == \
        ['split0', 'split3', 'split1', 'split2']
    with pytest.raises(ValueError, match="split '7'"):
        groups_in_order(['split0', 'split1'], '07')
    assert boundary_checkpoints([0.1, 0.26, 0.5, 0.74, 0.9, 1.0], 4) == [1, 2, 3, 5]
    runs = [dict(protocol=dict(order=o, accuracy=[10.0 + i, 11.0 + i],
                               forgetting=dict(D0=[float(i)])))
            for i, o in enumerate(['01', '10'])]
    assert average_over_orders(runs) == dict(orders=['01', '10'], accuracy=[10.5, 11.5],
                                             forgetting=dict(D0=[0.5]))


def test_linear_probe_tool_on_a_checkpoint_series(tmp_path):
    """A CPU-sized continuous SSL run saving every 25% of the stream, then the tool:
    one probe per checkpoint, per-split accuracy, the protocol's forgetting, cached
    features reused by a second run."""
    text = f'''
    _base_ = [{CSSL!r}]
    scenario = dict(scenario=dict(train=dict(split='test')))
    model = dict(buffer=dict(size=64), model=dict(
        backbone=dict(stem_channels=8, base_channels=8), neck=dict(in_channels=64)))
    val_evaluator = dict(bank_size=200)
    default_hooks = dict(logger=dict(interval=1000), checkpoint=dict(stream_fraction=0.25))
    pack = [dict(type='PackInputs')]
    probe = dict(train=dict(type='Digits', split='train', pipeline=pack),
                 test=dict(type='Digits', split='test', pipeline=pack),
                 num_classes=10, epochs=20, batch_size=64,   # (LARS needs many steps)
                 optimizer=dict(type='SGD', lr=1.0, momentum=0.9),
                 groups=dict(split0=[0, 1, 2], split1=[3, 4, 5], split2=[6, 7],
                             split3=[8, 9]))
    '''
    cfg = write_config(tmp_path, 'cfg.py', text)
    env = env_for(str(tmp_path))
    run = [sys.executable, osp.join(ROOT, 'tools/train.py'), cfg, '--work-dir',
           str(tmp_path / 'run')]
    subprocess.run(run, env=env, cwd=str(tmp_path), check=True, capture_output=True)
    ckpts = sorted(str(p) for p in (tmp_path / 'run').glob('checkpoint_*.pth'))
    assert len(ckpts) == 4
    probe = [sys.executable, osp.join(ROOT, 'tools/linear_probe.py'), cfg, *ckpts,
             '--work-dir', str(tmp_path / 'probe'), '--order', '0312', '--device', 'cpu']
    proc = subprocess.run(probe, env=env, cwd=str(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / 'probe' / 'probe_results.json') as f:
        res = json.load(f)
    entries = res['checkpoints']
    assert [osp.basename(e['checkpoint']) for e in entries] == [osp.basename(c) for c in ckpts]
    fractions = [e['stream_fraction'] for e in entries]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(15 < e['top1'] <= 100 for e in entries)      # chance: 10
    assert len({e['top1'] for e in entries}) > 1        # each checkpoint its own probe
    order = ['split0', 'split3', 'split1', 'split2']
    acc = {g: [e['groups'][g] for e in entries] for g in order}
    assert res['protocol']['group_accuracy'] == acc
    for k, group in enumerate(order[:-1]):
        ref = acc[group][k]
        expected = [100 * (ref - acc[group][t]) / ref for t in range(k + 1, 4)]
        assert all(math.isclose(a, b) for a, b in zip(res['protocol']['forgetting'][f'D{k}'],
                                                       expected))
    assert (tmp_path / 'probe' / 'probe_series.png').stat().st_size > 1000
    cache = sorted(p.name for p in (tmp_path / 'probe' / 'features').iterdir())
    assert len(cache) == 8
    stamp = (tmp_path / 'probe' / 'features' / cache[0]).stat().st_mtime_ns
    again = probe[:3] + [ckpts[0], '--work-dir', str(tmp_path / 'probe'), '--device', 'cpu']
    proc = subprocess.run(again, env=env, cwd=str(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / 'probe' / 'features' / cache[0]).stat().st_mtime_ns == stamp


@pytest.mark.parametrize('path', sorted(
    __import__('glob').glob(osp.join(ROOT, 'configs', 'cssl', 'probes', '*.py'))),
    ids=osp.basename)
def test_probe_configs_are_the_references(path):
    """configs/simsiam/lincls/*.yaml: LARS trust 0.001, momentum 0.9, no weight decay,
    batch 1024; lr / epochs per probe set; every dataset type registered."""
    from clbox.registry import DATASETS, OPTIMIZERS
    probe = Config.fromfile(path).probe
    expected = {'imagenet1k': (1000, 3.0, 10), 'inat2018': (8142, 12.0, 20),
                'imagenet21k-continual': (15790, 3.0, 30)}
    key = next(k for k in expected if osp.basename(path).endswith(f'_{k}.py'))
    assert (probe.num_classes, probe.optimizer.lr, probe.epochs) == expected[key]
    assert probe.optimizer.type == 'LARS' and probe.optimizer.eta == 0.001
    assert probe.optimizer.momentum == 0.9 and probe.optimizer.weight_decay == 0
    assert probe.batch_size == 1024
    assert probe.optimizer.type in OPTIMIZERS
    assert probe.train.type in DATASETS and probe.test.type in DATASETS
    if key == 'imagenet21k-continual':
        assert sorted(probe.groups) == [f'split{k}' for k in range(4)]
