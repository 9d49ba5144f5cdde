"""DistBatchNorm: BatchNorm over the global batch of 2 gloo ranks equals BatchNorm over
the concatenated batch in one process (forward, gradients, running statistics)."""
import copy

import torch
from torch import nn

from clbox.models.layers import DistBatchNorm, convert_sync_bn
from dist_helpers import run_in_ranks


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 9, 2), nn.BatchNorm1d(2)).double()


def _two_ranks(rank, world_size, x):
    net = convert_sync_bn(_net())
    ddp = nn.parallel.DistributedDataParallel(net)
    ddp(x[rank::world_size]).pow(2).mean().backward()
    return dict(grads={n: p.grad for n, p in net.named_parameters()},
                buffers={n: b for n, b in net.named_buffers()},
                kinds=[type(m).__name__ for m in net])


def test_two_ranks_equal_one_big_batch():
    x = torch.randn(8, 3, 5, 5, dtype=torch.float64) * 3 + 5
    ref = _net()
    ref(x).pow(2).mean().backward()
    results = run_in_ranks(_two_ranks, x)
    for res in results:
        assert res['kinds'][1] == res['kinds'][5] == 'DistBatchNorm'
        for name, p in ref.named_parameters():
            assert torch.allclose(res['grads'][name], p.grad, atol=1e-12), name
        for name, b in ref.named_buffers():
            assert torch.allclose(res['buffers'][name].double(), b.double(), atol=1e-12), name


def test_convert_keeps_state_dtype_and_falls_back_in_one_process():
    net = _net()
    net[1].running_mean.fill_(0.5)
    net[1].weight.requires_grad_(False)
    converted = convert_sync_bn(copy.deepcopy(net))
    assert isinstance(converted[1], DistBatchNorm)
    assert converted[1].weight.dtype == torch.float64
    assert not converted[1].weight.requires_grad
    assert torch.equal(converted[1].running_mean, net[1].running_mean)
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    assert torch.allclose(converted(x), net(x))  # no process group: plain BatchNorm


def test_sync_only_converts_the_sync_batchnorm_layers_alone():
    from mmengine.utils.dl_utils.parrots_wrapper import SyncBatchNorm as MMSyncBN

    from clbox.models.layers import DistBatchNorm, convert_sync_bn
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(3), MMSyncBN(3), torch.nn.SyncBatchNorm(2))
    model = convert_sync_bn(model, sync_only=True)
    assert [type(m) for m in model] == [torch.nn.BatchNorm2d, DistBatchNorm, DistBatchNorm]
