"""Every segmentation method trains two steps of the synthetic task; step N starts from
step N-1's weights with the teacher taken from them."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper

from clbox.registry import MODELS
from clbox.scenarios import SyntheticSegIncremental
from helpers import ROOT

METHODS = {'FT': set(), 'SegLwF': {'loss_kd'}, 'LwFMC': {'loss_bce_kd'},
           'ILT': {'loss_kd', 'loss_de'}, 'SegEWC': {'loss_reg'}, 'RWalk': {'loss_reg'},
           'PI': {'loss_reg'}, 'MiB': {'loss_unkd'}, 'PLOP': {'loss_pod'},
           'REMINDER': {'loss_pod', 'loss_cswkd'}}
MODEL = osp.join(ROOT, 'configs/_base_/models/deeplabv3_tiny_seg.py')


@pytest.fixture(scope='module')
def scenario(tmp_path_factory):
    return SyntheticSegIncremental(task='2-2', data_root=str(tmp_path_factory.mktemp('syn')),
                                   num_train=16, num_test=8)


def build(method, **kwargs):
    cfg = Config.fromfile(MODEL).model
    cfg.update(type=method, **kwargs)
    torch.manual_seed(0)
    return MODELS.build(copy.deepcopy(cfg.to_dict()))


def batches(exp, size=8):
    ds = exp.dataset
    return [pseudo_collate([ds[i] for i in range(j, min(j + size, len(ds)))])
            for j in range(0, len(ds), size)]


def run_step(alg, exp):
    alg.before_experience(exp)
    wrapper = build_optim_wrapper(alg, dict(optimizer=dict(type='SGD', lr=0.01)))
    alg.configure_optimizer(wrapper, exp)  # what the loop does at an experience start
    alg.train()
    data = batches(exp)
    logs = [alg.train_step(b, wrapper) for b in data]
    alg.after_experience(exp, data)
    return logs, wrapper


@pytest.mark.parametrize('method', sorted(METHODS))
def test_two_steps(method, scenario):
    alg = build(method)
    run_step(alg, scenario.train_stream[0])
    assert alg.num_active == 3 and alg.teacher is None
    logs, wrapper = run_step(alg, scenario.train_stream[1])
    assert alg.num_old == 3 and alg.num_active == 5
    assert METHODS[method] <= set(logs[-1]), logs[-1]
    assert all(torch.isfinite(torch.tensor(float(v))) for log in logs for v in log.values())
    step1_lr = Config.fromfile(MODEL).model.lr_per_step[1]
    assert wrapper.optimizer.param_groups[0]['lr'] == pytest.approx(step1_lr)  # lr_per_step
    if METHODS[method] & {'loss_kd', 'loss_unkd', 'loss_pod', 'loss_bce_kd'}:
        assert alg.teacher is not None
    alg.eval()
    preds, labels, paths = alg.predict_segmentation(pseudo_collate(
        [scenario.test_stream[0].dataset[i] for i in range(2)]))
    assert preds[0].shape == labels[0].shape == (32, 32) and preds[0].max() < 5


def test_step_n_starts_from_the_previous_checkpoint(scenario):
    first = build('MiB')
    run_step(first, scenario.train_stream[0])
    saved = copy.deepcopy(first.state_dict())  # what a checkpoint of step 0 holds
    second = build('MiB')
    second.load_state_dict(saved)
    assert second.seen_classes == [0, 1, 2] and second.teacher is None
    bg_bias = float(second.model.decode_head.conv_seg.bias[0])
    second.before_experience(scenario.train_stream[1])
    for (n, p), (_, q) in zip(first.model.named_parameters(),
                              second.teacher.named_parameters()):
        assert torch.equal(p, q), n  # the teacher is step 0's model
    bias = second.model.decode_head.conv_seg.bias.detach()
    expected = bg_bias - torch.log(torch.tensor(3.0)).item()
    assert bias[[0, 3, 4]].tolist() == pytest.approx([expected] * 3, rel=1e-5)
    # a resume inside step 1 must not re-initialise or re-snapshot
    state = copy.deepcopy(second.state_dict())
    third = build('MiB')
    third.load_state_dict(state)
    with torch.no_grad():
        third.model.decode_head.conv_seg.bias[3] = 7.0
    third.before_experience(scenario.train_stream[1])
    assert float(third.model.decode_head.conv_seg.bias[3]) == 7.0
    assert third.teacher is not None


def test_labels_outside_active_classes_are_refused(scenario):
    alg = build('FT')
    alg.before_experience(scenario.train_stream[0])
    data = alg.data_preprocessor(batches(scenario.train_stream[1])[0], True)
    for s in data['data_samples']:
        s.gt_sem_seg.data[..., 0, 0] = 4
    with pytest.raises(ValueError, match='outside the 3 active classes'):
        alg.loss(data['inputs'], data['data_samples'])
