"""Replay buffers: every registered buffer, then each policy's statistics."""
import pytest
import torch

import clbox.buffers  # noqa: F401  (registers the buffers)
from clbox.registry import BUFFERS

from clbox.buffers import BaseBuffer  # noqa: E402
from clbox.buffers.stream import StreamBuffer  # noqa: E402

#: Buffers of samples with the add / sample interface (stream buffers of indices and the
#: method-driven UncertaintyMemory have their own tests).
ALL = sorted(name for name, cls in BUFFERS.module_dict.items()
             if issubclass(cls, BaseBuffer) and not issubclass(cls, StreamBuffer))


def _batch(n, start=0, classes=4):
    inputs = torch.randint(0, 255, (n, 1, 4, 4), dtype=torch.uint8)
    labels = (torch.arange(start, start + n) % classes)
    return inputs, labels


@pytest.mark.parametrize('name', ALL)
def test_every_buffer_stores_compactly_and_round_trips(name):
    buf = BUFFERS.build(dict(type=name, size=20, seed=1))
    for e in range(3):
        buf.add(*_batch(16, 16 * e), experience=e)
    assert 0 < len(buf) <= 20
    assert buf.storage['inputs'].dtype == torch.uint8
    assert buf.nbytes() < 20 * 16 * 4 + 20 * 8 * 3  # uint8 pixels, not float32
    clone = BUFFERS.build(dict(type=name, size=20, seed=99))
    clone.load_state_dict(buf.state_dict())
    a, b = buf.sample(8), clone.sample(8)
    assert all(torch.equal(a[k], b[k]) for k in a)
    buf.add(*_batch(16, 100), experience=3)
    with pytest.raises(ValueError, match='slots'):
        BUFFERS.build(dict(type=name, size=7)).load_state_dict(clone.state_dict())


def test_reservoir_keeps_a_uniform_sample():
    buf = BUFFERS.build(dict(type='ReservoirBuffer', size=1000, seed=0))
    n = 20000
    for start in range(0, n, 50):
        buf.add(torch.arange(start, start + 50)[:, None], torch.zeros(50))
    kept = buf.get_all()['inputs'].squeeze(1)
    assert len(kept) == 1000 and len(torch.unique(kept)) == 1000
    counts = torch.bincount(kept // (n // 10), minlength=10)
    assert counts.min() >= 60 and counts.max() <= 140  # 100 expected per decile


def test_class_balanced_gives_equal_room_and_uniform_within_class():
    buf = BUFFERS.build(dict(type='ClassBalancedBuffer', size=90, seed=0))
    for e in range(3):  # classes arrive two by two
        for start in range(0, 600, 30):
            labels = torch.full((30,), 2 * e) + torch.arange(30) % 2
            buf.add(torch.arange(start, start + 30)[:, None], labels, experience=e)
        counts = buf.group_counts()
        assert sum(counts.values()) == 90
        assert max(counts.values()) - min(counts.values()) <= 1
    last = buf.get_all()
    kept = last['inputs'].squeeze(1)[last['labels'] == 5]
    assert kept.min() < 200 and kept.max() > 400  # not just the first or last arrivals


def test_experience_balanced():
    buf = BUFFERS.build(dict(type='ExperienceBalancedBuffer', size=60, seed=0))
    for e in range(4):
        buf.add(*_batch(40), experience=e)
    assert buf.group_counts() == {0: 15, 1: 15, 2: 15, 3: 15}
