"""The multi-process test harness retries a failed rendezvous (a port taken between its
choice and its use), never a failure of the tested function."""
import socket

import pytest

import dist_helpers


def _world(rank, world_size):
    import torch.distributed as dist
    return rank, dist.get_world_size()


def _fails(rank, world_size):
    raise ValueError(f'rank {rank} test failure')


def test_a_taken_port_is_retried_with_another(monkeypatch):
    busy = socket.socket()
    busy.bind(('127.0.0.1', 0))
    busy.listen(1)
    calls = []
    real = dist_helpers.free_port

    def choose():
        calls.append(1)
        return busy.getsockname()[1] if len(calls) == 1 else real()
    monkeypatch.setattr(dist_helpers, 'free_port', choose)
    try:
        assert dist_helpers.run_in_ranks(_world) == [(0, 2), (1, 2)]
    finally:
        busy.close()
    assert len(calls) == 2           # the taken port failed, the second one worked


def test_a_failing_function_is_not_retried():
    with pytest.raises(AssertionError, match='rank 0 test failure|rank 1 test failure'):
        dist_helpers.run_in_ranks(_fails, attempts=3)
