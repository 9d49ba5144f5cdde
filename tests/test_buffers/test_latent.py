"""The latent replay memory."""
import pytest
import torch

from clbox.registry import BUFFERS


def _offer(buffer, experience, n, dim=(4, 2, 2), batch=7):
    for start in range(0, n, batch):
        b = min(batch, n - start)
        x = torch.rand(b, *dim) + experience
        buffer.add(x, torch.full((b,), experience), experience)


def test_each_experience_keeps_an_equal_share():
    buffer = BUFFERS.build(dict(type='LatentReplayBuffer', size=12, seed=0))
    _offer(buffer, 0, 20)
    assert len(buffer) == 0, 'samples enter on commit'
    assert buffer.commit() == 12 and len(buffer) == 12
    _offer(buffer, 1, 20)
    _offer(buffer, 2, 20)  # a new experience commits the previous one (quota 12 // 2)
    counts = torch.bincount(buffer.get_all()['labels'], minlength=3).tolist()
    assert counts == [6, 6, 0]
    buffer.commit()        # quota 12 // 3 = 4 random slots replaced
    counts = torch.bincount(buffer.get_all()['labels'], minlength=3)
    assert counts[2] == 4 and counts.sum() == 12
    stored = buffer.get_all()
    assert torch.all(stored['inputs'].flatten(1).min(1).values >= stored['labels'])


def test_small_experience_fills_free_slots_first():
    buffer = BUFFERS.build(dict(type='LatentReplayBuffer', size=10))
    _offer(buffer, 0, 3)
    buffer.commit()
    _offer(buffer, 1, 4)  # quota 5 > 4 samples: all kept, into free slots
    buffer.commit()
    assert torch.bincount(buffer.get_all()['labels']).tolist() == [3, 4]


def test_sampling_walks_the_whole_memory():
    buffer = BUFFERS.build(dict(type='LatentReplayBuffer', size=10))
    buffer.add(torch.arange(10.).view(10, 1), torch.arange(10), 0)
    buffer.commit()
    seen = torch.cat([buffer.sample(3)['inputs'].view(-1) for _ in range(3)])
    seen = torch.cat([seen, buffer.sample(1)['inputs'].view(-1)])
    assert sorted(seen.tolist()) == list(range(10))
    assert buffer.sample(0) is None


@pytest.mark.parametrize('storage,dtype,nbytes', [
    ('float32', torch.float32, 4 * 64), ('float16', torch.float16, 2 * 64),
    ('uint8', torch.uint8, 64 + 8)])
def test_compact_storage(storage, dtype, nbytes):
    buffer = BUFFERS.build(dict(type='LatentReplayBuffer', size=8, storage=storage))
    x = torch.relu(torch.randn(8, 16, 2, 2)) * 3
    buffer.add(x, torch.arange(8), 0)
    buffer.commit()
    assert buffer.storage['inputs'].dtype == dtype
    assert buffer.bytes_per_sample() == nbytes
    out = buffer.get_all()
    order = out['labels'].argsort()
    step = (x.flatten(1).amax(1) - x.flatten(1).amin(1)) / 255
    tol = dict(float32=0, float16=3e-3 * 3, uint8=float(step.max()) / 2 + 1e-6)[storage]
    assert (out['inputs'][order] - x).abs().max() <= tol
    assert out['inputs'].dtype == torch.float32


def test_state_dict_round_trip_with_pending_samples():
    buffer = BUFFERS.build(dict(type='LatentReplayBuffer', size=6, storage='uint8', seed=3))
    _offer(buffer, 0, 10)
    buffer.commit()
    _offer(buffer, 1, 5)  # pending, not committed
    buffer.sample(2)
    other = BUFFERS.build(dict(type='LatentReplayBuffer', size=6, storage='uint8'))
    other.load_state_dict(buffer.state_dict())
    torch.testing.assert_close(other.sample(4), buffer.sample(4))
    assert other.commit() == buffer.commit() == 3
    torch.testing.assert_close(other.get_all(), buffer.get_all())
    with pytest.raises(ValueError, match='storage'):
        BUFFERS.build(dict(type='LatentReplayBuffer', size=6, storage='int4'))
