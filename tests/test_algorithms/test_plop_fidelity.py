"""PLOP against its reference code (github.com/arthurdouillard/CVPR2021_PLOP, commit 4b4a060).

The expected values are computed here, in plain torch, the way the reference's ``train.py``
does: ``entropy`` (lines 701-713), ``find_median`` (lines 505-589: a 100-bin histogram of
``entropy / log(nb_current_classes)`` per predicted class, its median routine, the 0.001
floor), the pseudo-labels and ``classif_adaptive_factor`` (lines 228-293, 341-352) and
``features_distillation`` with ``_local_pod`` (lines 716-1014: squared maps, regions of
``W // s``, L2 per image, batch mean, ``sqrt(|seen| / |new|)``, mean over layers, new-class
logits summed into the background), on the pre-activation stage outputs
(``modules/residual.py`` lines 125-137) and the logits before upsampling
(``segmentation_module.py`` lines 301-312).
"""
import copy
import math
import os.path as osp
import time

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from clbox.algorithms.base import frozen_copy
from clbox.algorithms.plop import PLOP, StageCapture, stage_end_blocks
from clbox.models.losses.plop import (PODLoss, entropy_histogram, entropy_pseudo_labels,
                                      histogram_median, histogram_thresholds,
                                      median_thresholds)
from clbox.registry import MODELS
from helpers import ROOT, build_runner
from test_reminder_fidelity import mini_ade, mini_voc, paper_seg_cfg

TINY = osp.join(ROOT, 'configs/_base_/models/deeplabv3_tiny_seg.py')
SEG = osp.join(ROOT, 'configs/continual_seg')
PAPER = {'voc-15-1': 'plop_deeplabv3-r101-d8_1xb24-30e_voc-15-1-ov.py',
         'voc-15-5': 'plop_deeplabv3-r101-d8_1xb24-30e_voc-15-5-ov.py',
         'ade-100-50': 'plop_deeplabv3-r101-d8_1xb24-60e_ade-100-50.py'}


# ----------------------------------------------------------- the reference, in plain torch
def ref_entropy(probs):
    """``entropy``: the class mean of ``-p log(p + 1e-8)`` over ``log C``."""
    return -torch.mean(probs * torch.log(probs + 1e-8), dim=1) / math.log(probs.shape[1] + 1e-8)


def ref_histogram(batches, nb_current, nb_bins=100):
    """``find_median``'s histogram: rows = predicted class, bins of ``entropy / max_value``
    over the background pixels (``labels == 0``)."""
    max_value = torch.log(torch.tensor(nb_current).float())
    hist = torch.zeros(nb_current, nb_bins).long()
    for logits, labels in batches:
        bg = labels == 0
        probs = torch.softmax(logits, dim=1)
        pred = probs.max(dim=1)[1][bg].view(-1)
        val = ref_entropy(probs)[bg].view(-1) / max_value
        col = torch.clamp((val * nb_bins).long(), max=nb_bins - 1)
        hist.index_put_((pred, col), torch.ones_like(pred), accumulate=True)
    return hist, max_value


def ref_median(hist, base_threshold=0.001):
    """``find_median``'s median walk (float32 tensors, as there) and the floor."""
    nb_classes, nb_bins = hist.shape
    thresholds = torch.zeros(nb_classes)
    for c in range(nb_classes):
        total = hist[c].sum()
        if total <= 0:
            continue
        half, acc = total / 2, 0.
        for step in range(nb_bins):
            border = step / nb_bins
            idx = int(border * nb_bins)
            if acc <= half <= acc + hist[c, idx]:
                break
            acc += border * nb_bins
        thresholds[c] = border + ((half - acc) / hist[c, idx]) * (1 / nb_bins)
    for c in range(nb_classes):
        thresholds[c] = max(thresholds[c], base_threshold)
    return thresholds


def ref_pseudo_ce(outputs, labels, outputs_old, thresholds, max_entropy):
    """The entropy pseudo-labels and the CE scaled by ``classif_adaptive_factor``."""
    labels = labels.clone()
    bg = labels < outputs_old.shape[1]
    probs = torch.softmax(outputs_old, dim=1)
    pseudo = probs.max(dim=1)[1]
    valid = (ref_entropy(probs) / max_entropy) < thresholds[pseudo]
    labels[~valid & bg] = 255
    labels[valid & bg] = pseudo[valid & bg]
    factor = (valid & bg).float().sum(dim=(1, 2)) / (bg.float().sum(dim=(1, 2)) + 1e-6)
    ce = F.cross_entropy(outputs, labels, ignore_index=255, reduction='none')
    return (factor[:, None, None] * ce).mean(), labels, factor


def ref_local_pod(x, scales=(1, 2, 4)):
    b, w = x.shape[0], x.shape[-1]
    emb = []
    for s in scales:
        k = w // s
        for i in range(s):
            for j in range(s):
                t = x[..., i * k:(i + 1) * k, j * k:(j + 1) * k]
                emb += [t.mean(dim=3).view(b, -1), t.mean(dim=2).view(b, -1)]
    return torch.cat(emb, dim=1)


def ref_pod(old_maps, new_maps, index_new, nb_current, nb_new, factor=0.01, last=0.0005):
    """``features_distillation(old, new, 'local', pod_options={'switch': {'after': ...}})``."""
    loss = torch.tensor(0.)
    n = len(old_maps)
    for i, (a, b) in enumerate(zip(old_maps, new_maps)):
        if a.shape[1] != b.shape[1]:
            summed = torch.zeros_like(a)
            summed[:, 0] = b[:, 0] + b[:, index_new:].sum(dim=1)
            summed[:, 1:] = b[:, 1:index_new]
            b = summed
        diff = ref_local_pod(torch.pow(a, 2)) - ref_local_pod(torch.pow(b, 2))
        layer = torch.norm(diff, dim=-1).mean()
        loss = loss + (last if i == n - 1 else factor) * layer * math.sqrt(nb_current / nb_new)
    return loss / n


# ------------------------------------------------------------------------------ helpers
def build_tiny(**kwargs):
    cfg = Config.fromfile(TINY).model
    cfg.update(type='PLOP', **kwargs)
    torch.manual_seed(0)
    return MODELS.build(copy.deepcopy(cfg.to_dict()))


def samples(labels):
    out = []
    for lab in labels:
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=lab[None].clone())
        out.append(s)
    return out


def teacher_batches(seed, n=3, b=2, c_old=16, size=(20, 24), sharp=4.0, num_active=17):
    """Random teacher logits (``sharp`` spreads the entropies) and labels: background,
    new classes, ignored pixels."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        logits = sharp * torch.randn(b, c_old, *size, generator=g)
        labels = torch.randint(c_old, num_active, (b,) + size, generator=g)
        labels[torch.rand(labels.shape, generator=g) < 0.6] = 0
        labels[torch.rand(labels.shape, generator=g) < 0.05] = 255
        out.append((logits, labels))
    return out


def fake_stream(alg, batches, monkeypatch):
    """``compute_thresholds`` reads these batches and their teacher logits."""
    data = [dict(inputs=torch.zeros(lab.shape[0], 3, *lab.shape[1:]), data_samples=samples(lab),
                 logits=lg) for lg, lab in batches]
    monkeypatch.setattr(alg, 'iterate_experience', lambda *a: iter(data))
    lookup = {id(d['inputs']): d['logits'] for d in data}
    monkeypatch.setattr(alg, 'teacher_outputs', lambda x: dict(logits=lookup[id(x)]))


# ------------------------------------------------------------------- thresholds, by formula
@pytest.mark.parametrize('c_old,num_active,sharp', [(16, 17, 4.0), (16, 21, 1.0), (101, 151, 3.0),
                                                    (3, 5, 0.3)],
                         ids=['voc-15-1', 'voc-15-5', 'ade-100-50', 'few'])
def test_thresholds_are_the_reference_histogram_median(c_old, num_active, sharp, monkeypatch):
    batches = teacher_batches(0, c_old=c_old, sharp=sharp, num_active=num_active)
    hist, _ = ref_histogram(batches, num_active)
    expected = ref_median(hist)[:c_old]
    alg = build_tiny()
    alg.num_old, alg.num_active = c_old, num_active
    fake_stream(alg, batches, monkeypatch)
    mine = alg.compute_thresholds(None)
    assert torch.allclose(mine, expected, rtol=1e-6, atol=1e-9)
    # the exact-median variant is a different threshold
    alg.threshold_median = 'exact'
    exact = alg.compute_thresholds(None)
    assert not torch.allclose(exact, mine)


def test_histogram_median_walk_and_its_quirks():
    """Random small histograms: stops at any bin, the 29/57/58 index quirk, no stop (inf),
    0 / 0 (nan), empty rows (floor)."""
    g = torch.Generator().manual_seed(1)
    hist = torch.randint(0, 4, (40, 100), generator=g) * (torch.rand(40, 100, generator=g) < 0.3)
    hist[0] = 0                       # never predicted: 0, floored
    hist[1] = 0
    hist[1, 29] = 900                 # read from bin 28 (int(0.29 * 100) == 28): empty
    hist[2] = 300                     # no bin holds half: the walk ends on the last bin
    hist[3] = 0
    hist[3, 5:7] = 1                  # half == 1 == running sum at bin 2, empty bin: nan
    hist[4] = 0
    hist[4, 0] = 10                   # bin 0 holds everything: 0.5 / 100
    expected = ref_median(hist)
    mine = histogram_thresholds(hist, 0.001)
    assert torch.allclose(mine, expected, rtol=1e-6, equal_nan=True)
    assert mine[0].item() == pytest.approx(0.001)
    assert math.isnan(mine[3].item())
    assert mine[4].item() == pytest.approx(0.005)
    raw = histogram_median(hist)
    assert raw[0].item() == 0.0
    # entropy_histogram bins as the reference's index_put_
    values = torch.rand(500, generator=g) * 1.2
    classes = torch.randint(0, 4, (500,), generator=g)
    ref = torch.zeros(4, 100).long()
    ref.index_put_((classes, torch.clamp((values * 100).long(), max=99)),
                   torch.ones_like(classes), accumulate=True)
    assert torch.equal(entropy_histogram(values, classes, 4, 100), ref)


def test_exact_median_variant():
    values = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.0002])
    classes = torch.tensor([0, 0, 0, 0, 1])
    thr = median_thresholds(values, classes, 3, 0.001)
    assert thr.tolist() == pytest.approx([0.3, 0.001, 0.001])   # lower median, floor


def test_reference_scale_keeps_every_ade_background_pixel(monkeypatch):
    """On ADE-like data (101 old of 151 classes) every entropy falls in bin 0, whose median
    (0.005) is above every value: all background pixels are kept; on VOC-like data part."""
    kept = {}
    for name, c_old, num_active in (('voc', 16, 17), ('ade', 101, 151)):
        batches = teacher_batches(2, c_old=c_old, num_active=num_active, sharp=3.0)
        alg = build_tiny()
        alg.num_old, alg.num_active = c_old, num_active
        fake_stream(alg, batches, monkeypatch)
        thresholds = alg.compute_thresholds(None)
        logits, labels = batches[0]
        _, expected, _ = ref_pseudo_ce(torch.zeros(2, num_active, *labels.shape[1:]), labels,
                                       logits, thresholds,
                                       torch.log(torch.tensor(num_active).float()))
        mine, _ = entropy_pseudo_labels(labels, logits, thresholds, num_current=num_active)
        assert torch.equal(mine, expected)
        bg = labels == 0
        kept[name] = ((mine != 255) & bg).sum().item() / bg.sum().item()
    assert kept['ade'] == 1.0
    assert 0.2 < kept['voc'] < 0.9


# ----------------------------------------------------- pseudo-labels and CE weight, by formula
def pseudo_case(seed=3, b=3, c_old=3, k=5, size=(17, 19)):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(c_old, k, (b,) + size, generator=g)
    labels[0][torch.rand(size, generator=g) < 0.7] = 0
    labels[2][torch.rand(size, generator=g) < 0.4] = 0
    labels[0][torch.rand(size, generator=g) < 0.1] = 255   # image 1: no background at all
    return dict(labels=labels, student=torch.randn(b, k, *size, generator=g),
                teacher=2 * torch.randn(b, c_old, *size, generator=g), c_old=c_old, k=k)


def test_pseudo_label_ce_matches_the_reference():
    case = pseudo_case()
    alg = build_tiny()
    alg.num_old, alg.num_active = case['c_old'], case['k']
    probs = torch.softmax(case['teacher'], 1)
    ent = ref_entropy(probs) / math.log(case['k'])
    # thresholds at the per-class entropy medians: part of each class passes
    alg.thresholds = torch.stack([ent[probs.argmax(1) == c].median() for c in range(3)])
    expected, labels, factor = ref_pseudo_ce(case['student'], case['labels'], case['teacher'],
                                             alg.thresholds, torch.log(torch.tensor(5.)))
    loss = alg.pseudo_label_ce(dict(logits=case['student']), case['labels'],
                               dict(logits=case['teacher']))['loss_ce']
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6) and expected.item() > 0.1
    assert factor[1].item() == 0.0 and 0 < factor[0].item() < 1
    assert (labels[0] == 255).any() and (labels[0] < 3).any()   # both kinds of bg pixels
    # the selectable earlier variant: an image without background keeps its full CE
    alg.no_background_weight = 1.0
    loss1 = alg.pseudo_label_ce(dict(logits=case['student']), case['labels'],
                                dict(logits=case['teacher']))['loss_ce']
    ce1 = F.cross_entropy(case['student'][1:2], case['labels'][1:2], reduction='none')
    assert loss1.item() == pytest.approx(expected.item() + ce1.sum().item() / labels.numel(),
                                         rel=1e-5)


def test_normalized_entropy_variant():
    case = pseudo_case(seed=4)
    alg = build_tiny(entropy_scale='normalized')
    alg.num_old, alg.num_active = 3, 5
    alg.thresholds = torch.full((3,), 0.5)
    probs = torch.softmax(case['teacher'], 1)
    h = -(probs * torch.log(probs)).sum(1) / math.log(3)
    bg = case['labels'] < 3
    loss = alg.pseudo_label_ce(dict(logits=case['student']), case['labels'],
                               dict(logits=case['teacher']))['loss_ce']
    lab = case['labels'].clone()
    lab[bg & (h >= 0.5)] = 255
    lab[bg & (h < 0.5)] = probs.argmax(1)[bg & (h < 0.5)]
    factor = (bg & (h < 0.5)).sum((1, 2)) / (bg.sum((1, 2)) + 1e-6)
    ce = F.cross_entropy(case['student'], lab, ignore_index=255, reduction='none')
    assert loss.item() == pytest.approx((factor[:, None, None] * ce).mean().item(), rel=1e-5)


# --------------------------------------------------------------------- POD, by formula
@pytest.mark.parametrize('width', [16, 65, 9])
def test_pod_loss_matches_features_distillation(width):
    """Six maps as PLOP's (4 stages, decoder, logits with 2 new channels); 65 and 9 are not
    multiples of 4: the reference drops the remainder rows/columns."""
    g = torch.Generator().manual_seed(width)
    shapes = [(6, width), (8, width), (8, width), (10, width), (7, width)]
    old = [torch.randn(2, c, w, w, generator=g) for c, w in shapes]
    new = [o + 0.3 * torch.randn(o.shape, generator=g) for o in old]
    old.append(torch.randn(2, 4, width, width, generator=g))
    new.append(torch.randn(2, 6, width, width, generator=g))
    expected = ref_pod(old, new, index_new=4, nb_current=6, nb_new=2)
    mine = PODLoss()(new, old, num_seen=6, num_new=2)
    assert mine.item() == pytest.approx(expected.item(), rel=1e-5)
    ade = PODLoss(layer_weight=0.001, last_weight=0.00001)(new, old, num_seen=6, num_new=2)
    assert ade.item() == pytest.approx(
        ref_pod(old, new, 4, 6, 2, factor=0.001, last=0.00001).item(), rel=1e-5)
    # on square maps the earlier per-axis regions are the same
    per_axis = PODLoss(region_size='per_axis')(new, old, num_seen=6, num_new=2)
    assert per_axis.item() == pytest.approx(mine.item(), rel=1e-5)


def test_pod_width_regions_reject_flat_maps():
    x = torch.randn(1, 2, 5, 16)     # W // 4 = 4-row regions: the last ones are empty
    with pytest.raises(ValueError, match="region_size='per_axis'"):
        PODLoss()([x], [x])
    assert PODLoss(region_size='per_axis')([x], [x]).item() == 0.0


def manual_pre_activations(model, inputs):
    """Each output stage's last BasicBlock recomputed by hand from its input:
    ``norm2(conv2(relu(norm1(conv1(x))))) + downsample(x)``."""
    blocks = stage_end_blocks(model.backbone)
    inputs_of = {}
    handles = [b.register_forward_pre_hook(
        lambda m, a, i=i: inputs_of.__setitem__(i, a[0].clone())) for i, b in enumerate(blocks)]
    post = model.extract_feat(inputs)
    for h in handles:
        h.remove()
    out = []
    for i, b in enumerate(blocks):
        x = inputs_of[i]
        y = b.norm2(b.conv2(F.relu(b.norm1(b.conv1(x)))))
        out.append(y + (b.downsample(x) if b.downsample is not None else x))
    return out, post


def reference_maps(model, inputs, k):
    """The reference's POD maps and upsampled logits, computed without clbox's capture."""
    pre, post = manual_pre_activations(model, inputs)
    head = model.decode_head
    decoder = head._forward_feature(post)
    small = head.cls_seg(decoder)[:, :k]
    large = F.interpolate(small, size=inputs.shape[-2:], mode='bilinear', align_corners=False)
    return pre + [decoder, small], large, post


def plop_case():
    alg = build_tiny()
    alg.eval()  # batch statistics aside, the hand computation uses the same BN
    teacher = frozen_copy(alg.model)
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(0.05 * torch.randn_like(p))
    alg.__dict__['teacher'] = teacher
    alg.num_old, alg.num_active = 3, 5
    g = torch.Generator().manual_seed(5)
    inputs = torch.randn(3, 3, 32, 32, generator=g)
    labels = torch.randint(3, 5, (3, 32, 32), generator=g)
    labels[0][torch.rand(32, 32, generator=g) < 0.6] = 0
    labels[2][torch.rand(32, 32, generator=g) < 0.3] = 0
    labels[2][torch.rand(32, 32, generator=g) < 0.1] = 255    # image 1: no background
    return alg, teacher, inputs, labels


def test_pod_maps_are_pre_relu_stages_and_small_logits():
    alg, _, inputs, _ = plop_case()
    with torch.no_grad():
        out = alg.pod_segment(inputs)
        expected, large, post = reference_maps(alg.model, inputs, 5)
    assert len(out['pod']) == 6
    for mine, ref in zip(out['pod'], expected):
        assert mine.shape == ref.shape
        assert torch.allclose(mine, ref, atol=1e-5)
    for pre, stage in zip(out['pod'][:4], post):  # pre-activation: ReLU gives mmseg's output
        assert (pre < 0).any() and torch.allclose(torch.relu(pre), stage, atol=1e-6)
    assert out['pod'][-1].shape[-2:] == (8, 8)    # the decoder's resolution, not 32x32
    assert torch.allclose(out['logits'], large, atol=1e-5)
    # nothing stays hooked or changed after the forward
    for block in stage_end_blocks(alg.model.backbone):
        assert block.relu.inplace and not block.relu._forward_hooks
    assert not alg.model.decode_head.conv_seg._forward_hooks


def test_plop_loss_end_to_end_matches_the_reference():
    alg, teacher, inputs, labels = plop_case()
    with torch.no_grad():
        new, out_large, _ = reference_maps(alg.model, inputs, 5)
        old, old_large, _ = reference_maps(teacher, inputs, 3)
    # thresholds at the teacher's per-class entropy medians: part of each class passes
    probs = torch.softmax(old_large, 1)
    ent = ref_entropy(probs) / math.log(5)
    alg.thresholds = torch.stack([ent[probs.argmax(1) == c].median() for c in range(3)])
    losses = alg.loss(inputs, samples(labels))
    ce, _, factor = ref_pseudo_ce(out_large, labels, old_large, alg.thresholds,
                                  torch.log(torch.tensor(5.)))
    assert factor[1].item() == 0.0 and (factor[[0, 2]] > 0.2).all() and ce.item() > 0.1
    assert losses['loss_ce'].item() == pytest.approx(ce.item(), rel=1e-5)
    pod = ref_pod(old, new, index_new=3, nb_current=5, nb_new=2)
    assert pod.item() > 0
    assert losses['loss_pod'].item() == pytest.approx(pod.item(), rel=1e-4)
    # the earlier clbox variants, selectable: post-ReLU stages, logits at input size
    alg.pod_backbone, alg.pod_logits = 'post_relu', 'upsampled'
    again = alg.loss(inputs, samples(labels))
    with torch.no_grad():
        _, post_new = manual_pre_activations(alg.model, inputs)
        _, post_old = manual_pre_activations(teacher, inputs)
    variant = ref_pod(list(post_old) + [old[4], old_large], list(post_new) + [new[4], out_large],
                      3, 5, 2)
    assert again['loss_pod'].item() == pytest.approx(variant.item(), rel=1e-4)
    assert again['loss_pod'].item() != pytest.approx(losses['loss_pod'].item(), rel=1e-3)


def test_capture_costs_nothing_when_unused():
    """With both variants off nothing is hooked; with the capture on, a forward costs about
    the same (the ReLUs of 4 blocks out of place)."""
    alg, _, inputs, _ = plop_case()
    off = StageCapture(alg.model, stages=False, logits=False)
    with off:
        assert not off._handles and all(b.relu.inplace
                                        for b in stage_end_blocks(alg.model.backbone))

    def best(fn, n=5):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)
    with torch.no_grad():
        plain = best(lambda: alg.segment(inputs))
        hooked = best(lambda: alg.pod_segment(inputs))
    assert hooked < 2 * plain + 0.01


# ------------------------------------------------------------------------- settings
def test_bad_settings_name_the_key():
    for key, value in [('threshold_median', 'mean'), ('entropy_scale', 'log'),
                       ('pod_backbone', 'stem'), ('pod_logits', 'large'),
                       ('threshold_bins', 0), ('min_threshold', -1),
                       ('no_background_weight', 'x'), ('threshold_batches', 0)]:
        with pytest.raises(ValueError, match=key):
            build_tiny(**{key: value})
    with pytest.raises(ValueError, match='region_size'):
        PODLoss(region_size='height')


def test_paper_configs_hold_the_reference_values():
    for name, (w, last) in (('voc-15-1', (0.01, 0.0005)), ('voc-15-5', (0.01, 0.0005)),
                            ('ade-100-50', (0.001, 0.00001))):
        m = Config.fromfile(osp.join(SEG, PAPER[name])).model
        assert (m.pod.layer_weight, m.pod.last_weight, m.pod.region_size) == (w, last, 'width')
        assert (m.pod_backbone, m.pod_logits) == ('pre_relu', 'small')
        assert (m.entropy_scale, m.threshold_median, m.threshold_bins) == \
            ('reference', 'histogram', 100)
        assert (m.min_threshold, m.no_background_weight, m.init_new_classes) == \
            (0.001, 0.0, 'mib')
        assert m.lr_per_step == [0.01, 0.001]


@pytest.mark.parametrize('name,make', [(PAPER['voc-15-5'], mini_voc),
                                       (PAPER['ade-100-50'], mini_ade)], ids=['voc', 'ade'])
def test_paper_config_runs_each_step(name, make, tmp_path, monkeypatch):
    cfg = paper_seg_cfg(name, make, tmp_path, monkeypatch)
    logs, maps = [], []
    loss, pod_segment = PLOP.loss, PLOP.pod_segment

    def spy_loss(self, *args):
        out = loss(self, *args)
        logs.append({k: v.item() for k, v in out.items()})
        return out

    def spy_maps(self, inputs, *args, **kwargs):
        out = pod_segment(self, inputs, *args, **kwargs)
        maps.append([tuple(m.shape[-2:]) for m in out['pod']] + [tuple(inputs.shape[-2:])])
        return out
    monkeypatch.setattr(PLOP, 'loss', spy_loss)
    monkeypatch.setattr(PLOP, 'pod_segment', spy_maps)
    runner = build_runner(cfg)
    runner.train()
    alg = runner.train_loop.algorithm
    assert [h['experience'] for h in runner.train_loop.history] == [0, 1]
    assert len(logs) == 2 and set(logs[0]) == {'loss_ce'}          # one iteration per step
    assert logs[1]['loss_pod'] > 0
    assert alg.thresholds.shape == (alg.num_old,) and (alg.thresholds >= 0.001).all()
    assert len(maps) == 2 and len(maps[0]) == 7                    # student and teacher
    (h, w) = maps[0][-1]
    assert maps[0][-2] == (h // 8, w // 8)                         # small logits, stride 8
