"""Synchronised BatchNorm that also runs on the CPU (gloo), and the config switch for it.

torch's ``SyncBatchNorm`` needs CUDA tensors; this one normalises with the mean and
variance of the whole global batch on any backend, through a differentiable all-reduce,
so ``sync_bn`` in a config gives the same maths on a laptop and on GPUs.
"""
import torch
import torch.distributed as torch_dist
from torch import nn


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the gradient of every rank's input is the sum of the ranks'
    output gradients (each rank's output feeds that rank's loss)."""

    @staticmethod
    def forward(ctx, tensor):
        out = tensor.clone()
        torch_dist.all_reduce(out, op=torch_dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        torch_dist.all_reduce(grad, op=torch_dist.ReduceOp.SUM)
        return grad


class DistBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the global batch of all ranks (Ioffe & Szegedy, 2015; the
    cross-GPU statistics of Peng et al., "MegDet", CVPR 2018).

    In training mode with several ranks, per-channel sums of ``x`` and ``x^2`` and the
    sample count are summed over ranks with a differentiable all-reduce (gradients flow
    back to every rank's inputs, as in one big batch); running statistics are updated
    with the global mean and unbiased variance. With one rank, or in eval mode, it is
    plain BatchNorm. Accepts (N, C, ...) inputs of any rank.
    """

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f'DistBatchNorm expects (N, C, ...) inputs, got {input.dim()}D.')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        distributed = torch_dist.is_available() and torch_dist.is_initialized() and \
            torch_dist.get_world_size() > 1
        if not (self.training and distributed):
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        # sums in float64: E[x^2] - E[x]^2 in float32 loses digits to cancellation
        xd = x.double()
        count = torch.tensor([x.numel() / x.size(1)], dtype=torch.float64, device=x.device)
        stats = _AllReduceSum.apply(torch.cat([xd.sum(dims), (xd * xd).sum(dims), count]))
        c = x.size(1)
        n = stats[-1]
        mean64 = stats[:c] / n
        var64 = (stats[c:2 * c] / n - mean64 * mean64).clamp_min(0)
        mean, var = mean64.to(x.dtype), var64.to(x.dtype)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else \
                    1.0 / float(self.num_batches_tracked)
                unbiased = (var64 * (n / (n - 1).clamp_min(1))).to(x.dtype)
                self.running_mean.mul_(1 - momentum).add_(momentum * mean.detach())
                self.running_var.mul_(1 - momentum).add_(momentum * unbiased.detach())
        shape = [1, c] + [1] * (x.dim() - 2)
        out = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + self.eps)
        if self.affine:
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        return out


def convert_sync_bn(module: nn.Module, sync_only: bool = False) -> nn.Module:
    """Replace every ``BatchNorm{1,2,3}d`` (and torch's ``SyncBatchNorm``) with a
    :class:`DistBatchNorm` holding the same parameters and statistics.

    Subclasses with their own maths (e.g. clbox's ``BatchRenorm2d``) are left alone.

    Args:
        module (nn.Module): The model (converted in place where possible).
        sync_only (bool): Convert only torch's ``SyncBatchNorm`` (which needs CUDA), e.g.
            the SyncBN that mmpretrain's necks use by default, for a CPU run.
            Defaults to False.
    """
    kinds = (nn.SyncBatchNorm, ) if sync_only else \
        (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
    if type(module) in kinds or isinstance(module, nn.SyncBatchNorm):  # and mmengine's
        like = next(iter(module.state_dict().values()), torch.zeros(0))
        new = DistBatchNorm(module.num_features, module.eps, module.momentum,
                            module.affine, module.track_running_stats,
                            device=like.device,
                            dtype=like.dtype if like.is_floating_point() else None)
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        if module.affine:
            new.weight.requires_grad_(module.weight.requires_grad)
            new.bias.requires_grad_(module.bias.requires_grad)
        return new
    for name, child in module.named_children():
        module.add_module(name, convert_sync_bn(child, sync_only))
    return module
