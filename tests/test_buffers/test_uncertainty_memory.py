"""The SSLAD 2021 Track 3A solution's memory policies (``mrifkikurniawan/sslad`` @v4.3
``modules.UncertaintySampler`` / ``RMSampler``, ``scoring.py``, torchsampler's
``ImbalancedDatasetSampler``): which samples are kept, computed in the test."""
import math
import random

import numpy as np
import pytest
import torch

from clbox.buffers.uncertainty import (ClassBalancedReplay, UncertaintyMemory,
                                       descending_order, online_selection_score,
                                       vote_uncertainty)


def _images(n, seed=0):
    return torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))


def test_online_score_is_entropy_plus_half_when_wrong():
    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(16, 7, generator=g), torch.randint(1, 7, (16,), generator=g)
    scores = online_selection_score(logits, labels)
    for z, y, s in zip(logits.tolist(), labels.tolist(), scores.tolist()):
        p = [math.exp(v) / sum(math.exp(u) for u in z) for u in [0] for v in z]
        h = -sum(q * math.log(q) for q in p)
        wrong = max(range(7), key=lambda c: p[c]) != y
        assert s == pytest.approx(h + 0.5 * wrong, rel=1e-5)


def test_select_keeps_the_lowest_scores_up_to_the_free_slots():
    memory = UncertaintyMemory(size=12, sweep_size=6, per_batch=5)
    g = torch.Generator().manual_seed(1)
    logits, labels = torch.randn(16, 7, generator=g) * 3, torch.randint(1, 7, (16,), generator=g)
    scores = online_selection_score(logits, labels).tolist()
    keep = memory.select(logits, labels).tolist()
    assert keep == sorted(range(16), key=lambda i: scores[i])[:5]
    memory.append(_images(10), labels[:10], logits[:10], torch.randn(10, 4))
    assert len(memory.select(logits, labels)) == 2          # 12 - 10 free
    memory.append(_images(2), labels[:2], logits[:2], torch.randn(2, 4))
    assert len(memory.select(logits, labels)) == 0          # full: nothing added


def test_vote_uncertainty_and_pandas_descending_order():
    preds = torch.tensor([[1, 2, 3], [1, 2, 4], [1, 5, 6], [2, 2, 6]])   # 4 views, 3 samples
    expected = [1 - 3 / 4, 1 - 3 / 4, 1 - 2 / 4]
    assert vote_uncertainty(preds, 7).tolist() == pytest.approx(expected)
    # 'stable': ties in index order; 'pandas': numpy quicksort's (machine-dependent) ties
    values = np.array([0.5, 0.75, 0.5, 0.0, 0.75, 0.5, 0.0, 0.75, 0.5, 0.5, 0.0])
    assert descending_order(values, 'stable').tolist() == [1, 4, 7, 0, 2, 5, 8, 9, 3, 6, 10]
    order = descending_order(values)
    assert sorted(order.tolist()) == list(range(11))
    assert np.all(np.diff(values[order]) <= 0)


def test_sweep_keeps_the_most_uncertain_with_the_last_views_outputs(monkeypatch):
    n, views = 10, 12
    memory = UncertaintyMemory(size=10, sweep_size=4, views=views, ties='stable')
    labels = torch.arange(n) % 6 + 1
    memory.append(_images(n), labels, torch.zeros(n, 7), torch.zeros(n, 3))
    # sample i disagrees with itself over the views for i in {2, 5, 7, 8}, in different
    # amounts: votes spread over 1 + i % 5 classes
    spread = {2: 3, 5: 1, 7: 3, 8: 4}
    calls = {'view': -1}

    def views_of(inputs):
        calls['view'] += 1
        return inputs

    def predict(images):
        v = calls['view']
        ids = torch.arange(len(images)) + predict.offset
        predict.offset = (predict.offset + len(images)) % n
        cls = torch.tensor([(v % (spread.get(int(i), 0) + 1)) + 1 for i in ids])
        logits = torch.nn.functional.one_hot(cls, 7).float() + v
        return logits, torch.full((len(images), 3), float(v))
    predict.offset = 0
    monkeypatch.setattr(memory, 'augmented_views', views_of)
    keep = memory.sweep(predict, batch_size=3)
    votes = {i: max(np.bincount([(v % (spread.get(i, 0) + 1)) for v in range(views)]))
             for i in range(n)}
    uncertainty = np.array([1 - votes[i] / views for i in range(n)])
    # 2, 7 (4 classes x 3 votes) and 8 (5 classes, at most 3 votes) tie at 0.75, then 5
    assert keep.tolist() == descending_order(uncertainty, 'stable')[:4].tolist() == [2, 7, 8, 5]
    assert len(memory) == 4 and memory.storage['labels'].tolist() == labels[keep].tolist()
    assert (memory.storage['features'] == views - 1).all()     # the 12th view's outputs
    assert (memory.storage['logits'].max(1).values == views).all()


def test_sweep_due_follows_the_reference_trigger():
    memory = UncertaintyMemory(size=4, sweep_size=2, sweep_every=10)
    assert not memory.sweep_due(0) and memory.sweep_due(10) and not memory.sweep_due(5)
    memory.append(_images(4), torch.ones(4, dtype=torch.long), torch.zeros(4, 7))
    assert memory.sweep_due(5) and not memory.sweep_due(0)


def test_class_balanced_replay_draws_inverse_frequency_with_replacement():
    labels = torch.tensor([1] * 400 + [2] * 80 + [3] * 20)
    storage = dict(inputs=_images(500), labels=labels, logits=torch.randn(500, 7),
                   features=torch.zeros(500, 2))
    g = torch.Generator().manual_seed(3)
    replay = ClassBalancedReplay(storage, 6, g)
    counts = {1: 400, 2: 80, 3: 20}
    weights = torch.tensor([1 / counts[int(y)] for y in labels], dtype=torch.float64)
    expected = torch.multinomial(weights, 500, replacement=True,
                                 generator=torch.Generator().manual_seed(3))
    batches = []
    while True:
        batch = replay.next()
        if batch is None:
            break
        batches.append(batch)
    assert len(batches) == len(replay) == 84 and len(batches[-1]['labels']) == 2
    drawn = torch.cat([b['labels'] for b in batches])
    assert drawn.tolist() == labels[expected].tolist()
    # class-balanced: each class about a third of the draws
    assert all(100 < int((drawn == c).sum()) < 240 for c in (1, 2, 3))
    # a snapshot: later changes to the memory do not leak into the draws
    storage['labels'][:] = 6
    again = ClassBalancedReplay.from_state(replay.state_dict())
    assert again.next() is None and (again.storage['labels'] != 6).all()


def test_memory_state_round_trip_keeps_the_randomness():
    memory = UncertaintyMemory(size=8, sweep_size=4, seed=5)
    memory.append(_images(3), torch.tensor([1, 2, 3]), torch.randn(3, 7), torch.randn(3, 5))
    state = memory.state_dict()
    first = memory.augmented_views(memory.storage['inputs'])
    other = UncertaintyMemory(size=8, sweep_size=4, seed=0)
    other.load_state_dict(state)
    assert torch.equal(other.augmented_views(other.storage['inputs']), first)
    assert other.storage['features'].shape == (3, 5)
    with pytest.raises(ValueError, match='sweep_size'):
        UncertaintyMemory(size=4, sweep_size=5)


def test_rand_augment_pair_draws_one_pair_of_the_135_ops_each_with_p_half():
    from PIL import Image

    from clbox.models.rand_augment import OPERATIONS, RandAugmentPair, apply_operation
    img = Image.fromarray(np.random.RandomState(0).randint(0, 256, (64, 64, 3), np.uint8))
    rng = random.Random(0)
    for name in OPERATIONS:            # every operation runs at every magnitude
        for k in range(1, 10):
            out = apply_operation(img, name, k, rng)
            assert out.size == (64, 64) and out.mode == 'RGB'
    augment = RandAugmentPair(random.Random(1))
    assert len(augment.ops) == 135
    # the draw sequence: a pair index, then one coin per op (signs / cutout drawn inside)
    outs = [np.asarray(augment(img)) for _ in range(50)]
    unchanged = sum(np.array_equal(o, np.asarray(img)) for o in outs)
    assert 5 <= unchanged <= 30       # about a quarter apply neither op
    replayed = RandAugmentPair(random.Random(1))
    assert all(np.array_equal(np.asarray(replayed(img)), o) for o in outs)


def _reference_class_aware(labels, batch_size, batches):
    """v4.4's ClassAwareSampler (sample_per_class=1) under DataLoader(drop_last=True),
    restarted when exhausted, written as the reference's iterators: a class cycle and a
    per-class cycle that both carry over between passes of ``max count x (max label + 1)``
    indices, each pass's last partial batch dropped."""
    classes = sorted(set(labels))
    members = {c: [i for i, y in enumerate(labels) if y == c] for c in classes}
    n = max(len(v) for v in members.values()) * (max(labels) + 1)
    state = dict(c=len(classes) - 1, m={c: len(members[c]) - 1 for c in classes})

    def draw():
        state['c'] = (state['c'] + 1) % len(classes)
        c = classes[state['c']]
        state['m'][c] = (state['m'][c] + 1) % len(members[c])
        return members[c][state['m'][c]]
    out = []
    while len(out) < batches:
        indices = [draw() for _ in range(n)]
        out += [indices[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]
    return out[:batches]


def test_class_aware_cycle_is_the_v44_sampler():
    from clbox.buffers.uncertainty import ClassAwareCycle
    labels = [3, 1, 3, 3, 5, 1, 3]          # classes 1, 3, 5; pass of 4 x 6 = 24
    storage = dict(inputs=_images(7), labels=torch.tensor(labels), logits=torch.zeros(7, 7),
                   features=torch.zeros(7, 1))
    storage['inputs'][:, 0, 0, 0] = torch.arange(7, dtype=torch.uint8)   # the index
    cycle = ClassAwareCycle(storage, 6)
    got = [cycle.next()['inputs'][:, 0, 0, 0].tolist() for _ in range(10)]
    assert got == _reference_class_aware(labels, 6, 10)
    assert got[0] == [1, 0, 4, 5, 2, 4]     # one per class in turn, each in memory order
    again = ClassAwareCycle.from_state(cycle.state_dict())
    assert again.next()['inputs'][:, 0, 0, 0].tolist() == \
        _reference_class_aware(labels, 6, 11)[-1]
