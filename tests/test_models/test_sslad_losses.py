"""The SSLAD 2021 Track 3A solution's losses against its reference formulas, written out
here (``mrifkikurniawan/sslad`` @v4.3 ``loss.py``, ``modules.MetricLearner``;
``../shared/specs/sslad-3a.md`` sec. 3.4) on random tensors."""
import math

import pytest
import torch

from clbox.models.losses import (ClassBalancedLoss, CostSensitiveLoss, MetricLearningLoss,
                                 SoftLabelKLDiv, SoftmaxFocalLoss)


def _batch(n=16, c=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g) * 2
    labels = torch.randint(1, c, (n,), generator=g)
    return logits, labels


def _focal_terms(logits, labels, alpha, gamma, weights=None):
    out = []
    for z, y in zip(logits.tolist(), labels.tolist()):
        exps = [math.exp(v) for v in z]
        p = exps[y] / sum(exps) + 1e-6
        w = 1.0 if weights is None else weights[y]
        out.append(-alpha * w * (1 - p) ** gamma * math.log(p))
    return out


@pytest.mark.parametrize('gamma', [0.0, 2.0])
def test_softmax_focal_loss_is_the_references(gamma):
    logits, labels = _batch()
    expected = sum(_focal_terms(logits, labels, 0.5, gamma)) / len(labels)
    got = SoftmaxFocalLoss(alpha=0.5, gamma=gamma)(logits, labels)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # as a head loss: avg_factor = batch size gives the same mean
    assert SoftmaxFocalLoss(gamma=gamma)(logits, labels, avg_factor=16).item() == \
        pytest.approx(expected, rel=1e-5)


def test_class_balanced_loss_uses_the_batch_counts():
    logits, labels = _batch(seed=1)
    beta = 0.81
    counts = [sum(1 for y in labels.tolist() if y == c) + 1e-6 for c in range(7)]
    weights = [(1 - beta) / (1 - beta ** n) for n in counts]
    expected = sum(_focal_terms(logits, labels, 0.5, 0.0, weights)) / len(labels)
    got = ClassBalancedLoss(beta=beta)(logits, labels)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # weights are not normalised: an absent class gets (1 - beta) / (1 - beta^1e-6), huge
    assert ClassBalancedLoss(beta=beta).class_weights(labels)[0] > 1e3
    with pytest.raises(ValueError, match='beta'):
        ClassBalancedLoss(beta=1.0)


def test_cost_sensitive_loss_is_weighted_mean_inverse_frequency_ce():
    logits, labels = _batch(seed=2)
    counts = [sum(1 for y in labels.tolist() if y == c) + 1e-6 for c in range(7)]
    weights = [min(counts[1:]) / n for n in counts]
    num = den = 0.
    for z, y in zip(logits.tolist(), labels.tolist()):
        ce = -(z[y] - math.log(sum(math.exp(v) for v in z)))
        num, den = num + weights[y] * ce, den + weights[y]
    got = CostSensitiveLoss()(logits, labels, avg_factor=16)
    assert got.item() == pytest.approx(num / den, rel=1e-5)


def test_soft_label_kl_is_batchmean_times_t_squared():
    logits, _ = _batch(6, seed=3)
    stored, _ = _batch(6, seed=4)
    t = 0.5
    total = 0.
    for z, s in zip(logits.tolist(), stored.tolist()):
        q = [math.exp(v / t) for v in s]
        q = [v / sum(q) for v in q]
        p = [math.exp(v / t) for v in z]
        p = [v / sum(p) for v in p]
        total += sum(qi * (math.log(qi) - math.log(pi)) for qi, pi in zip(q, p))
    assert SoftLabelKLDiv(t)(logits, stored).item() == pytest.approx(total / 6 * t * t,
                                                                      rel=1e-4)


def _normalised(emb):
    return [[v / math.sqrt(sum(x * x for x in row)) for v in row] for row in emb.tolist()]


def test_contrastive_loss_is_the_mean_of_nonzero_hinges_per_kind():
    g = torch.Generator().manual_seed(5)
    emb = torch.randn(16, 8, generator=g)
    labels = torch.randint(1, 4, (16,), generator=g)
    e, y = _normalised(emb), labels.tolist()
    pos, neg = [], []
    for i in range(16):
        for j in range(16):
            if i == j:
                continue
            d = math.sqrt(sum((a - b) ** 2 for a, b in zip(e[i], e[j])))
            (pos if y[i] == y[j] else neg).append(max(d - 0.0, 0.) if y[i] == y[j]
                                                   else max(1.0 - d, 0.))
    mean_nonzero = (lambda v: sum(x for x in v if x > 0) / max(1, sum(1 for x in v if x > 0)))
    expected = 0.3 * (mean_nonzero(pos) + mean_nonzero(neg))
    loss = MetricLearningLoss('ContrastiveLoss', pos_margin=0., neg_margin=1.,
                              loss_weight=0.3)
    assert loss(emb, labels).item() == pytest.approx(expected, rel=1e-4)


def test_supcon_loss_is_the_mean_of_nonzero_anchor_losses():
    g = torch.Generator().manual_seed(6)
    emb = torch.randn(16, 8, generator=g)
    labels = torch.randint(1, 4, (16,), generator=g)
    e, y, t = _normalised(emb), labels.tolist(), 0.1
    per_anchor = []
    for i in range(16):
        sims = [sum(a * b for a, b in zip(e[i], e[k])) / t for k in range(16)]
        lse = math.log(sum(math.exp(sims[k]) for k in range(16) if k != i))
        positives = [k for k in range(16) if k != i and y[k] == y[i]]
        if positives:
            per_anchor.append(-sum(sims[k] - lse for k in positives) / len(positives))
    nonzero = [v for v in per_anchor if v > 0]
    expected = 0.1 * sum(nonzero) / len(nonzero)
    loss = MetricLearningLoss('SupConLoss', temperature=t, loss_weight=0.1)
    assert loss(emb, labels).item() == pytest.approx(expected, rel=1e-4)


def test_metric_learning_loss_names_an_unknown_loss():
    with pytest.raises(KeyError, match='not a pytorch_metric_learning loss'):
        MetricLearningLoss('ContrastivLoss')
