"""REMINDER against its reference code (github.com/HieuPhan33/REMINDER).

The expected values are computed here, in plain torch, the way the reference does:
``compute_prototype`` (``train.py`` lines 20-31: features upsampled bilinearly with
``align_corners=True`` to the labels, mean per class), ``ClassSimilarityWeightedKD``
(``utils/loss.py`` lines 326-364: new-class pixels, softmax of prototype cosines, weights
below ``delta / K_old`` dropped, ``T^2 * sum(-(p_T * r + 1e-7) * log q_S) / N`` at T = 3) and
``update_prototypes`` (``train.py`` lines 628-647: a running mean of batch prototypes of the
step's new classes, the old classes' prototypes kept, ``run.py`` line 547).
"""
import copy
import os
import os.path as osp
import uuid

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData
from PIL import Image

import clbox.algorithms.reminder as reminder_module
from clbox.algorithms.reminder import REMINDER
from clbox.models.losses.reminder import CSWKDLoss, class_prototypes, similarity_weights
from clbox.registry import MODELS
from clbox.scenarios import SyntheticSegIncremental
from fixtures.voc import label_map, make_mini_voc
from helpers import ROOT, build_runner
from test_seg_methods import batches

TINY = osp.join(ROOT, 'configs/_base_/models/deeplabv3_tiny_seg.py')
SEG = osp.join(ROOT, 'configs/continual_seg')


# ----------------------------------------------------------- the reference, in plain torch
def ref_prototypes(seg, features, classes):
    """Rows ``0..max(classes)``; row c = mean of the upsampled features over class c."""
    b, h, w = seg.shape
    up = F.interpolate(features, size=(h, w), mode='bilinear', align_corners=True)
    flat = up.permute(0, 2, 3, 1).reshape(b * h * w, -1)
    seg = seg.reshape(-1)
    out = torch.zeros(max(classes) + 1, features.shape[1])
    for c in classes:
        if (seg == c).any():
            out[c] = flat[seg == c].mean(0)
    return out


def ref_cosine(x, y):
    cos = (x / x.norm(dim=1)[:, None]) @ (y / y.norm(dim=1)[:, None]).t()
    cos[torch.isnan(cos)] = 0
    return cos


def ref_csw_kd(student, teacher, batch_protos, old_protos, seg, mask, delta, t=3.0):
    """The reference's loss before its 0.5 weight."""
    k = teacher.shape[1]
    mask = mask.reshape(-1)
    s = student[:, :k].permute(0, 2, 3, 1).reshape(-1, k)[mask]
    p = teacher.permute(0, 2, 3, 1).reshape(-1, k)[mask]
    lab = seg.reshape(-1)[mask]
    r = torch.softmax(ref_cosine(batch_protos[lab], old_protos), dim=-1)
    r[r < delta / r.shape[1]] = 0.0
    target = torch.softmax(p / t, dim=1) * r + 1e-7
    return t * t * torch.sum(-target * F.log_softmax(s / t, dim=1)) / lab.numel()


def ref_update_prototypes(batches, num_classes, new_classes):
    """Running mean over batches of batch prototypes; ``batches`` = (labels, features)."""
    current = torch.zeros(num_classes, batches[0][1].shape[1])
    count = torch.zeros(num_classes)
    for labels, feats in batches:
        exist = labels[labels != 255].unique()
        proto = torch.zeros(num_classes, feats.shape[1])
        proto[:max(new_classes) + 1] = ref_prototypes(labels, feats, new_classes)
        count[exist] += 1
        current[exist] = ((count[exist] - 1)[:, None] * current[exist] + proto[exist]) \
            / count[exist][:, None]
    return current


# ------------------------------------------------------------------------------ helpers
def random_case(seed=0, b=2, d=16, k_old=4, k=7, size=(17, 21), feat=(5, 6)):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, k, (b,) + size, generator=g)
    labels[torch.rand(labels.shape, generator=g) < 0.1] = 255
    return dict(
        labels=labels,
        decoder=torch.relu(torch.randn(b, d, *feat, generator=g)),   # post-ReLU, as ASPP's
        logits=torch.randn(b, k, *size, generator=g),
        teacher=torch.randn(b, k_old, *size, generator=g),
        old_protos=torch.relu(torch.randn(k_old, d, generator=g)), k_old=k_old, k=k)


def build_tiny(**kwargs):
    cfg = Config.fromfile(TINY).model
    cfg.update(type='REMINDER', **kwargs)
    torch.manual_seed(0)
    return MODELS.build(copy.deepcopy(cfg.to_dict()))


# --------------------------------------------------------------------- the loss, by formula
def test_prototypes_match_the_reference():
    case = random_case()
    new = list(range(case['k_old'], case['k']))
    sums, counts = class_prototypes(case['decoder'], case['labels'], case['k'], classes=new)
    mine = sums / counts.clamp_min(1)[:, None]
    ref = ref_prototypes(case['labels'], case['decoder'], new)
    assert torch.allclose(mine, ref, atol=1e-5)
    assert not mine[:case['k_old']].any()          # only the requested classes
    assert counts[new].tolist() == [(case['labels'] == c).sum().item() for c in new]


@pytest.mark.parametrize('delta', [0.0, 1.0])
def test_similarity_weights_match_the_reference(delta):
    case = random_case(seed=1)
    new = list(range(case['k_old'], case['k']))
    protos = ref_prototypes(case['labels'], case['decoder'], new)
    r = torch.softmax(ref_cosine(protos[new], case['old_protos']), dim=-1)
    r[r < delta / r.shape[1]] = 0.0
    mine = similarity_weights(protos[new], case['old_protos'], delta)
    assert torch.allclose(mine, r, atol=1e-6)
    if delta == 0.0:  # the earlier clbox threshold (2 / K) dropped all of these
        assert (mine > 0).all()


@pytest.mark.parametrize('delta', [0.0, 1.0])
def test_csw_kd_loss_matches_the_reference(delta):
    case = random_case(seed=2)
    new = list(range(case['k_old'], case['k']))
    labels = case['labels']
    protos = ref_prototypes(labels, case['decoder'], new)
    mask = (labels >= case['k_old']) & (labels < 255)
    expected = ref_csw_kd(case['logits'], case['teacher'], protos, case['old_protos'],
                          labels, mask, delta)
    weights = similarity_weights(protos, case['old_protos'], delta)
    loss = CSWKDLoss(loss_weight=1.0)(case['logits'], case['teacher'], labels, weights, mask)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert expected.item() > 0.1  # not the constant 0 of the issue


@pytest.mark.parametrize('delta', [0.0, 1.0])
def test_reminder_loss_end_to_end_matches_the_reference(delta):
    """The method's term: decoder features of the batch, new-class pixels, weight 0.5."""
    case = random_case(seed=3)
    alg = build_tiny(delta=delta)
    alg.num_old, alg.num_active = case['k_old'], case['k']
    alg.prototypes = case['old_protos']
    out = dict(logits=case['logits'].requires_grad_(), decoder=case['decoder'],
               backbone=[torch.zeros(2, 3, 4, 4)])
    loss = alg.extra_losses(None, out, case['labels'], dict(logits=case['teacher']))
    new = list(range(case['k_old'], case['k']))
    labels = case['labels']
    expected = 0.5 * ref_csw_kd(case['logits'].detach(), case['teacher'],
                                ref_prototypes(labels, case['decoder'], new),
                                case['old_protos'], labels,
                                (labels >= case['k_old']) & (labels < 255), delta)
    assert loss['loss_cswkd'].item() == pytest.approx(expected.item(), rel=1e-5)
    loss['loss_cswkd'].backward()
    grad = case['logits'].grad
    old_pixels = (labels < case['k_old'])[:, None].expand_as(grad)
    assert not grad[old_pixels].any()          # old-class / background pixels: no term
    assert not grad[:, case['k_old']:].any()   # only the old channels are distilled


def test_without_new_pixels_the_loss_is_zero_not_nan():
    case = random_case(seed=4)
    labels = torch.zeros_like(case['labels'])
    w = torch.full((case['k'], case['k_old']), 0.25)
    loss = CSWKDLoss()(case['logits'], case['teacher'], labels, w, labels >= case['k_old'])
    assert loss.item() == 0.0


def test_bad_settings_name_the_key():
    with pytest.raises(ValueError, match='renamed delta'):
        build_tiny(threshold_scale=1.0)
    with pytest.raises(ValueError, match='prototype_source'):
        build_tiny(prototype_source='layer4')
    with pytest.raises(ValueError, match='delta'):
        build_tiny(delta=-1)
    with pytest.raises(ValueError, match='temperature'):
        CSWKDLoss(temperature=0)
    alg = build_tiny()
    alg.num_old, alg.num_active = 3, 5
    case = random_case(k_old=3, k=5)
    with pytest.raises(RuntimeError, match='prototypes of the 3 old classes'):
        alg.extra_losses(None, dict(logits=case['logits'], decoder=case['decoder']),
                         case['labels'], dict(logits=case['teacher']))


# ------------------------------------------------------------------- prototypes over steps
@pytest.fixture(scope='module')
def scenario(tmp_path_factory):
    return SyntheticSegIncremental(task='2-2', data_root=str(tmp_path_factory.mktemp('syn')),
                                   num_train=16, num_test=8)


def train_step(alg, exp):
    alg.before_experience(exp)
    wrapper = build_optim_wrapper(alg, dict(optimizer=dict(type='SGD', lr=0.05)))
    alg.configure_optimizer(wrapper, exp)
    alg.train()
    data = batches(exp)
    logs = [alg.train_step(b, wrapper) for b in data]
    return data, logs


def reference_pass(alg, data, new_classes):
    """The reference's end-of-step prototypes of ``new_classes`` from the trained model."""
    alg.eval()
    pairs = []
    with torch.no_grad():
        for batch in data:
            pre = alg.data_preprocessor(batch, False)
            labels = torch.stack([s.gt_sem_seg.data[0] for s in pre['data_samples']]).long()
            pairs.append((labels, alg.segment(pre['inputs'])['decoder']))
    alg.train()
    return ref_update_prototypes(pairs, alg.num_active, new_classes)[new_classes]


def test_old_prototypes_are_kept_across_steps(scenario):
    alg = build_tiny()
    data, _ = train_step(alg, scenario.train_stream[0])
    expected0 = reference_pass(alg, data, [0, 1, 2])
    alg.after_experience(scenario.train_stream[0], data)
    step0 = alg.prototypes.clone()
    assert step0.shape == (3, 16)
    assert torch.allclose(step0, expected0, atol=1e-5)

    data, logs = train_step(alg, scenario.train_stream[1])
    assert all(float(log['loss_cswkd']) > 0 for log in logs)
    expected1 = reference_pass(alg, data, [3, 4])
    alg.after_experience(scenario.train_stream[1], data)
    assert alg.prototypes.shape == (5, 16)
    assert torch.equal(alg.prototypes[:3], step0)             # never recomputed
    assert torch.allclose(alg.prototypes[3:], expected1, atol=1e-5)

    # the selectable earlier variant recomputes them, and that differs here
    again = build_tiny(keep_old_prototypes=False)
    again.load_state_dict(alg.state_dict())
    again.load_algorithm_state(alg.algorithm_state())
    again.after_experience(scenario.train_stream[1], data)
    assert not torch.allclose(again.prototypes[:3], step0, atol=1e-4)
    # and the state of a checkpoint carries them
    state = alg.algorithm_state()
    fresh = build_tiny()
    fresh.load_algorithm_state(state)
    assert torch.equal(fresh.prototypes, alg.prototypes)


def test_pixel_average_variant(scenario):
    """prototype_average='pixel' averages over all pixels instead of over batch means."""
    alg = build_tiny(prototype_average='pixel')
    data, _ = train_step(alg, scenario.train_stream[0])
    alg.after_experience(scenario.train_stream[0], data)
    alg.eval()
    sums = counts = 0
    with torch.no_grad():
        for batch in data:
            pre = alg.data_preprocessor(batch, False)
            labels = torch.stack([s.gt_sem_seg.data[0] for s in pre['data_samples']]).long()
            means = ref_prototypes(labels, alg.segment(pre['inputs'])['decoder'], [0, 1, 2])
            n = torch.stack([(labels == c).sum() for c in range(3)]).float()
            sums, counts = sums + means * n[:, None], counts + n
    assert torch.allclose(alg.prototypes, sums / counts[:, None], atol=1e-5)


def test_prototype_pass_takes_mixed_size_crops(scenario):
    """Crops of different sizes in one loader batch (what RandomCrop gives images smaller
    than the crop): each image counts as in an unpadded batched pass."""
    alg = build_tiny(prototype_average='pixel')
    exp = scenario.train_stream[0]
    alg.before_experience(exp)
    items = [exp.dataset[i] for i in range(4)]
    for item, (h, w) in zip(items, [(32, 32), (24, 20), (32, 32), (17, 29)]):
        item['inputs'] = item['inputs'][:, :h, :w].clone()
        seg = item['data_samples'].gt_sem_seg.data[:, :h, :w].clone()
        item['data_samples'].gt_sem_seg = PixelData(data=seg)
    batch = pseudo_collate(items)
    with pytest.raises(AssertionError, match='should be the same'):  # the crash of issue 11
        alg.data_preprocessor(batch, False)
    alg.after_experience(exp, [batch])
    alg.eval()
    sums = counts = 0
    with torch.no_grad():
        for item in items:
            pre = alg.data_preprocessor(pseudo_collate([item]), False)
            labels = pre['data_samples'][0].gt_sem_seg.data.long()
            means = ref_prototypes(labels, alg.segment(pre['inputs'])['decoder'], [0, 1, 2])
            n = torch.stack([(labels == c).sum() for c in range(3)]).float()
            sums, counts = sums + means * n[:, None], counts + n
    assert torch.allclose(alg.prototypes, sums / counts.clamp_min(1)[:, None], atol=1e-5)


# ------------------------------------------------------------------------- paper configs
def test_paper_configs_hold_the_reference_values():
    for name in ('reminder_deeplabv3-r101-d8_1xb24-30e_voc-15-1-ov.py',
                 'reminder_deeplabv3-r101-d8_1xb24-30e_voc-15-5-ov.py'):
        m = Config.fromfile(osp.join(SEG, name)).model
        assert (m.csw_kd.loss_weight, m.csw_kd.temperature, m.delta) == (0.5, 3.0, 0.0)
        assert (m.pod.layer_weight, m.pod.last_weight) == (0.01, 0.0005)
        assert m.lr_per_step == [0.01, 0.001]
    cfg = Config.fromfile(osp.join(SEG, 'reminder_deeplabv3-r101-d8_1xb24-60e_ade-100-50.py'))
    m = cfg.model
    assert (m.csw_kd.loss_weight, m.csw_kd.temperature, m.delta) == (0.5, 3.0, 1.0)
    assert (m.pod.layer_weight, m.pod.last_weight) == (0.001, 0.00001)
    assert m.lr_per_step == [0.01, 0.0008]
    assert cfg.train_cfg.max_epochs == [60, 70]
    # the poly schedule spans each step's own epochs
    from clbox.engine.loops.experience import ExperienceBasedTrainLoop, epoch_schedule
    loop = ExperienceBasedTrainLoop.__new__(ExperienceBasedTrainLoop)
    loop.epoch_schedule = epoch_schedule(cfg.train_cfg.max_epochs)

    class Exp:
        def __init__(self, index):
            self.index = index
    assert [loop.epochs_of(i) for i in range(3)] == [60, 70, 70]
    ends = [loop.experience_schedulers(cfg.param_scheduler, Exp(i))[0]['end'] for i in (0, 1)]
    assert ends == [60, 70]
    with pytest.raises(ValueError, match='train_cfg.max_epochs'):
        epoch_schedule([60, 'x'])


def write_items(root, img_dir, ann_dir, items, img_suffix, seg_suffix):
    """Image/label pairs; ``items``: name -> (classes, width factor)."""
    os.makedirs(osp.join(root, img_dir), exist_ok=True)
    os.makedirs(osp.join(root, ann_dir), exist_ok=True)
    for name, (classes, factor) in items.items():
        lab = np.tile(label_map(classes), (1, factor))
        wide = lab.astype(np.int64)
        img = np.stack([wide * 10 % 256, wide * 3 % 256, np.full_like(wide, 90)], -1)
        Image.fromarray(img.astype(np.uint8)).save(osp.join(root, img_dir, name + img_suffix))
        Image.fromarray(lab).save(osp.join(root, ann_dir, name + seg_suffix))


# Every step holds a 1:3 and a 1:4 image: after RandomResize their 512 crops differ in
# size, so the end-of-step prototype pass gets mixed sizes (a step needs 2 images anyway:
# ASPP's image-pool BatchNorm cannot train on one). VOC's step 0 also has 's1_b' (class 1).
VOC_TRAIN = {'s0_a': ([1], 3), 's0_b': ([3, 15], 4), 's1_a': ([16], 3), 's1_b': ([1, 17], 4)}
VOC_VAL = {'v0': ([2], 4), 'v1': ([16], 4)}
ADE_TRAIN = {'t0': ([1, 50, 100], 3), 't1_a': ([120], 3), 't1_b': ([7, 150], 4)}
ADE_VAL = {'v0': ([3], 4), 'v1': ([130], 4)}


def mini_voc(root):
    make_mini_voc(root, train={k: v[0] for k, v in VOC_TRAIN.items()},
                  val={k: v[0] for k, v in VOC_VAL.items()})
    for items in (VOC_TRAIN, VOC_VAL):
        write_items(root, 'JPEGImages', 'SegmentationClassAug', items, '.jpg', '.png')
    return root


def mini_ade(root):
    """ADE20K's layout: images/{training,validation}/*.jpg, annotations/.../*.png with raw
    ids (0 = other)."""
    write_items(root, 'images/training', 'annotations/training', ADE_TRAIN, '.jpg', '.png')
    write_items(root, 'images/validation', 'annotations/validation', ADE_VAL, '.jpg', '.png')
    return root


def shrink_backbone(cfg):
    """The paper model with a small ResNet (and ASPP width, 512 -> 16: at 512x512 crops the
    paper head alone costs ~100 GFLOP per image); strides, dilations, pipeline, batch size
    and every method setting stay."""
    m = cfg.model.model
    m.pretrained = None
    m.backbone.update(depth=18, stem_channels=8, base_channels=8)
    m.decode_head.update(in_channels=64, channels=16)


def paper_seg_cfg(name, make, tmp_path, monkeypatch):
    """A paper-scale segmentation config on a fixture written by ``make``: its own
    pipelines, batch and method settings, the backbone shrunk, one epoch per step (batch 24
    is more than the fixture's images: one iteration), quiet, in-process loaders."""
    monkeypatch.setenv('CLBOX_CACHE', str(tmp_path / 'cache'))
    cfg = Config.fromfile(osp.join(SEG, name))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'test-{uuid.uuid4().hex[:12]}'
    cfg.scenario.data_root = make(str(tmp_path / 'data'))
    cfg.scenario.label_cache = str(tmp_path / 'labels.json')
    shrink_backbone(cfg)
    cfg.train_cfg.max_epochs = 1
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].num_workers = 0
    cfg.default_hooks.logger.interval = 1000
    cfg.log_level = 'WARNING'
    return cfg


@pytest.mark.parametrize('name,make,groups', [
    ('reminder_deeplabv3-r101-d8_1xb24-30e_voc-15-5-ov.py', mini_voc, [3, 2]),
    ('reminder_deeplabv3-r101-d8_1xb24-60e_ade-100-50.py', mini_ade, [2, 2])],
    ids=['voc', 'ade'])
def test_paper_config_runs_each_step(name, make, groups, tmp_path, monkeypatch):
    cfg = paper_seg_cfg(name, make, tmp_path, monkeypatch)
    sizes, losses = [], []
    split = reminder_module.split_by_size
    monkeypatch.setattr(reminder_module, 'split_by_size',
                        lambda data: sizes.append(len(split(data))) or split(data))
    extra = REMINDER.extra_losses

    def spy(self, *args):
        out = extra(self, *args)
        losses.append(out['loss_cswkd'].item())
        return out
    monkeypatch.setattr(REMINDER, 'extra_losses', spy)
    runner = build_runner(cfg)
    runner.train()
    alg = runner.train_loop.algorithm
    assert sizes == groups                       # sizes in each step's one batch: all differ
    assert len(losses) == 1 and losses[0] > 0    # step 1's one iteration, a real term
    assert alg.prototypes.shape == (alg.num_active, 16)
    assert [h['experience'] for h in runner.train_loop.history] == [0, 1]
