"""MiB, PLOP and REMINDER losses against values worked out by hand on tiny tensors."""
import math

import pytest
import torch
from torch import nn

from clbox.models.losses import (CSWKDLoss, PODLoss, SegBCEDistillLoss, SegKDLoss,
                                 UnbiasedCrossEntropy, UnbiasedKDLoss, entropy_pseudo_labels,
                                 local_pod, median_thresholds, mib_init_new_classes,
                                 similarity_weights)
from clbox.registry import MODELS

E = math.e


def pix(*values):
    """A (1, C, 1, 1) logit tensor from C values."""
    return torch.tensor(values, dtype=torch.float64).view(1, -1, 1, 1)


def test_unbiased_ce_merges_old_classes_into_background():
    # classes: 0 background, 1 old, 2 new; num_old = 2
    logits = pix(0.0, 1.0, 2.0)
    s = 1 + E + E ** 2
    ce = UnbiasedCrossEntropy()
    bg = ce(logits, torch.tensor([[[0]]]), num_old=2)
    assert bg.item() == pytest.approx(-math.log((1 + E) / s))
    old = ce(logits, torch.tensor([[[1]]]), num_old=2)  # an old label counts as background
    assert old.item() == pytest.approx(bg.item())
    new = ce(logits, torch.tensor([[[2]]]), num_old=2)
    assert new.item() == pytest.approx(-math.log(E ** 2 / s))
    both = ce(torch.cat([logits, logits], 3), torch.tensor([[[0, 255]]]), num_old=2)
    assert both.item() == pytest.approx(bg.item())  # 255 ignored in the mean


def test_unbiased_kd_gives_new_classes_to_the_teacher_background():
    student = pix(0.0, 1.0, 2.0)   # bg, old, new
    teacher = pix(1.0, 0.0)        # bg, old
    s = 1 + E + E ** 2
    p_bg, p_old = E / (E + 1), 1 / (E + 1)
    expected = -(p_bg * math.log((1 + E ** 2) / s) + p_old * math.log(E / s)) / 2
    loss = UnbiasedKDLoss(loss_weight=1.0)(student, teacher)
    assert loss.item() == pytest.approx(expected)
    assert UnbiasedKDLoss(loss_weight=10.0)(student, teacher).item() == \
        pytest.approx(10 * expected)


def test_mib_initialisation_splits_background_probability():
    conv = nn.Conv2d(4, 5, 1)
    with torch.no_grad():
        conv.bias.copy_(torch.tensor([2.0, 0.5, 0.1, 9.0, 9.0]))
    w_bg = conv.weight[0].detach().clone()
    mib_init_new_classes(conv, num_old=3, num_active=5)
    b = 2.0 - math.log(3)
    assert conv.bias.tolist() == pytest.approx([b, 0.5, 0.1, b, b])
    assert torch.equal(conv.weight[3], w_bg) and torch.equal(conv.weight[4], w_bg)
    # the background's old probability mass is shared by bg + 2 new classes
    x = torch.randn(1, 4, 1, 1)
    p = torch.softmax(conv(x), 1)[0, :, 0, 0]
    assert p[0].item() == pytest.approx(p[3].item()) and p[0].item() == pytest.approx(p[4].item())


def test_local_pod_and_pod_loss_by_hand():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    emb = local_pod(a, scales=(1, 2))
    assert emb.flatten().tolist() == [1.5, 3.5, 2.0, 3.0, 1, 1, 2, 2, 3, 3, 4, 4]
    # squared maps vs a zero teacher: scale 1 -> rows (2.5, 12.5), cols (5, 10);
    # scale 2 -> each pixel twice
    dist = math.sqrt(2.5 ** 2 + 12.5 ** 2 + 5 ** 2 + 10 ** 2 + 2 * (1 + 16 + 81 + 256))
    pod = PODLoss(scales=(1, 2), layer_weight=1.0, last_weight=1.0)
    loss = pod([a], [torch.zeros_like(a)], num_seen=4, num_new=1)
    assert loss.item() == pytest.approx(2 * dist)  # sqrt(4 / 1) = 2
    # two layers: mean of the weighted layer losses
    pod2 = PODLoss(scales=(1, 2), layer_weight=0.5, last_weight=0.1)
    loss2 = pod2([a, a], [torch.zeros_like(a)] * 2, num_seen=1, num_new=1)
    assert loss2.item() == pytest.approx((0.5 + 0.1) * dist / 2)


def test_pod_sums_extra_student_channels_into_background():
    student = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)  # bg, old, new
    teacher = torch.tensor([4.0, 2.0]).view(1, 2, 1, 1)
    pod = PODLoss(scales=(1,), layer_weight=1.0, last_weight=1.0)
    # bg+new = 4 matches the teacher's bg exactly: no loss
    assert pod([student], [teacher]).item() == pytest.approx(0.0)


def test_entropy_pseudo_labels_and_adaptive_factor():
    # 3 background pixels: confident class 1, uncertain, confident class 0; 1 new pixel
    teacher = torch.tensor([[-9.0, 0.0, 9.0, 0.0], [9.0, 0.0, -9.0, 0.0]]).view(1, 2, 1, 4)
    labels = torch.tensor([[[0, 0, 0, 3]]])
    out, factor = entropy_pseudo_labels(labels, teacher, torch.tensor([0.5, 0.5]),
                                        entropy_scale='normalized')
    assert out.tolist() == [[[1, 255, 0, 3]]]
    assert factor.tolist() == pytest.approx([2 / 3])
    # an image without background: factor 0 (PLOP's num / (den + 1e-6)), or as set
    _, factor = entropy_pseudo_labels(torch.full((1, 1, 4), 3), teacher,
                                      torch.tensor([0.5, 0.5]), entropy_scale='normalized')
    assert factor.tolist() == [0.0]
    _, factor = entropy_pseudo_labels(torch.full((1, 1, 4), 3), teacher,
                                      torch.tensor([0.5, 0.5]), entropy_scale='normalized',
                                      no_background_weight=1.0)
    assert factor.tolist() == [1.0]
    thr = median_thresholds(torch.tensor([0.1, 0.3, 0.5, 0.0002]), torch.tensor([0, 0, 0, 1]),
                            num_classes=3)
    assert thr.tolist() == pytest.approx([0.3, 0.001, 0.001])


def test_similarity_weights_and_csw_kd_by_hand():
    w = similarity_weights(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0], [0.0, 1.0]]),
                           delta=1.0)
    assert w[0].tolist() == pytest.approx([E / (E + 1), 0.0])
    student = pix(0.0, 1.0, 5.0).float()
    teacher = pix(1.0, 0.0).float()
    weights = torch.tensor([[0.5, 0.25], [1.0, 1.0], [0.0, 0.0]])
    q0, q1 = 1 / (1 + E), E / (1 + E)          # student softmax over the 2 old channels
    p0, p1 = E / (E + 1), 1 / (E + 1)
    expected = -(0.5 * p0 * math.log(q0) + 0.25 * p1 * math.log(q1))  # a sum over classes
    loss = CSWKDLoss(loss_weight=1.0, temperature=1.0, teacher_eps=0.0)
    assert loss(student, teacher, torch.tensor([[[0]]]), weights).item() == \
        pytest.approx(expected, rel=1e-5)
    assert loss(student, teacher, torch.tensor([[[2]]]), weights).item() == 0.0


def test_kd_and_bce_distillation_by_hand():
    student, teacher = pix(0.0, 1.0, 7.0), pix(1.0, 0.0)
    q0, q1 = 1 / (1 + E), E / (1 + E)
    p0, p1 = E / (E + 1), 1 / (E + 1)
    kd = SegKDLoss()(student, teacher)
    assert kd.item() == pytest.approx(-(p0 * math.log(q0) + p1 * math.log(q1)) / 2)

    def bce(x, t):
        s = 1 / (1 + math.exp(-x))
        return -(t * math.log(s) + (1 - t) * math.log(1 - s))
    t0, t1 = 1 / (1 + math.exp(-1.0)), 0.5
    expected = 2 * (bce(0.0, t0) + bce(1.0, t1)) / 2
    assert SegBCEDistillLoss()(student, teacher).item() == pytest.approx(expected)


def test_losses_are_registered():
    for name in ('UnbiasedCrossEntropy', 'UnbiasedKDLoss', 'PODLoss', 'CSWKDLoss',
                 'SegKDLoss', 'SegBCEDistillLoss', 'FeatureL2Loss'):
        assert MODELS.build(dict(type=name)) is not None
