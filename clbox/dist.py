"""Several processes (``torchrun`` + mmengine's launcher): start-up, reductions, shares.

Everything here is a no-op in a single process, so methods call these helpers
unconditionally. Collective calls must be made by every rank in the same order.
"""
import os
from typing import Dict, List, Optional

import torch
import torch.distributed as torch_dist
from mmengine.dist import all_gather_object, get_dist_info, is_distributed
from torch import nn


def world() -> tuple:
    """``(rank, world_size)``; ``(0, 1)`` without a process group."""
    return get_dist_info()


def is_main() -> bool:
    """Whether this process writes files (rank 0)."""
    return world()[0] == 0


def barrier() -> None:
    """Wait for every rank (no-op in one process)."""
    if is_distributed():
        torch_dist.barrier()


def rank_share(total: int, rank: Optional[int] = None,
               world_size: Optional[int] = None) -> int:
    """This rank's share of a total budget: ``total // world_size``, the remainder going
    to the lowest ranks, so the shares add up to ``total`` exactly."""
    if rank is None or world_size is None:
        rank, world_size = world()
    base, extra = divmod(int(total), world_size)
    return base + (rank < extra)


def init_distributed(launcher: str, dist_cfg: Optional[dict] = None) -> None:
    """Start the process group for ``launcher`` ('pytorch', 'slurm' or 'mpi').

    On a machine with CUDA this is mmengine's ``init_dist`` (nccl, one GPU per local rank,
    after checking that the local rank has a GPU). Without CUDA it is gloo with no
    ``torch.cuda.set_device`` call, whatever backend the config names, so the same config
    runs on a laptop and on a GPU node.

    Args:
        launcher (str): How the processes were started.
        dist_cfg (dict, optional): ``env_cfg.dist_cfg`` (``backend``, ``timeout``, ...).

    Raises:
        RuntimeError: More processes on a node than it has GPUs.
    """
    from mmengine.dist import init_dist
    cfg = dict(dist_cfg or {})
    if torch.cuda.is_available():
        local_rank = int(os.environ.get('LOCAL_RANK', os.environ.get('SLURM_LOCALID', 0)))
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f'local rank {local_rank} has no GPU: this node has '
                f'{torch.cuda.device_count()} GPU(s). Start at most that many processes per '
                'node (tools/dist_train.sh CONFIG NPROC with NPROC <= the GPU count), or '
                'set CUDA_VISIBLE_DEVICES="" to train on the CPU with gloo.')
        init_dist(launcher, **cfg)
        return
    cfg['backend'] = 'gloo'
    if launcher == 'pytorch':
        timeout = cfg.pop('timeout', None)
        if timeout is not None:
            import datetime
            cfg['timeout'] = datetime.timedelta(seconds=timeout)
        cfg.pop('init_backend', None)
        torch_dist.init_process_group(**cfg)
    else:  # slurm / mpi: mmengine sets the environment, then calls set_device
        import unittest.mock as mock
        with mock.patch('torch.cuda.set_device', lambda *a, **k: None):
            init_dist(launcher, **cfg)


def all_reduce_mean_(tensors: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Average a dict of tensors over ranks, in place (one flat all-reduce).

    Identical tensors stay bit-identical (``(x + x) / 2 == x`` in floating point).
    """
    _, world_size = world()
    if world_size == 1 or not tensors:
        return tensors
    keys = sorted(tensors)
    flat = torch.cat([tensors[k].detach().reshape(-1).double() for k in keys])
    flat = all_reduce_sum(flat)
    flat /= world_size
    offset = 0
    for k in keys:
        t = tensors[k]
        n = t.numel()
        t.data.copy_(flat[offset:offset + n].reshape(t.shape).to(t.dtype))
        offset += n
    return tensors


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over ranks (returns a new tensor on the input's device)."""
    if world()[1] == 1:
        return tensor
    moved = tensor.detach().clone().to(_comm_device())
    torch_dist.all_reduce(moved, op=torch_dist.ReduceOp.SUM)
    return moved.to(tensor.device)


def gather_objects(obj) -> List:
    """Every rank's ``obj`` (tensors inside are moved to the CPU), in rank order."""
    if world()[1] == 1:
        return [obj]
    return all_gather_object(_to_cpu(obj))


def average_buffers_(module: nn.Module) -> None:
    """Average floating-point buffers (BatchNorm running statistics) over ranks, so every
    rank evaluates, snapshots and checkpoints the same model. Integer buffers
    (``num_batches_tracked``) advance identically on every rank and are left alone."""
    if world()[1] == 1:
        return
    floats = {n: b for n, b in module.named_buffers() if b.is_floating_point()}
    all_reduce_mean_(floats)


def _comm_device() -> torch.device:
    backend = torch_dist.get_backend() if is_distributed() else 'gloo'
    return torch.device('cuda', torch.cuda.current_device()) if backend == 'nccl' \
        else torch.device('cpu')


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
