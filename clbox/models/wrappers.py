"""The model wrapper for several processes."""
from mmengine.model import MMDistributedDataParallel

from clbox.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class ContinualDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper that keeps a continual method's own ``train_step``.

    mmengine's wrapper replaces the wrapped model's ``train_step`` with its own, so a
    method that keeps gradients or parameter changes (PI, RWalk, ...) would silently lose
    that work under DDP. Here the method's ``train_step`` runs unchanged, and its loss
    forward (``_run_forward(..., mode='loss')``) goes through DDP's ``forward``, which is
    what makes DDP all-reduce the gradients in ``backward``.

    The runner builds it with ``broadcast_buffers=False`` (running statistics are averaged
    at epoch ends instead, or synchronised by ``sync_bn``) and rebuilds it at every
    experience start, so parameters that a method adds or freezes between experiences
    (new class heads, AR1's frozen lower layers) are always the ones DDP reduces.
    """

    def train_step(self, data, optim_wrapper):
        if not hasattr(self.module, 'forward_through'):
            return super().train_step(data, optim_wrapper)
        with self.module.forward_through(self):
            return self.module.train_step(data, optim_wrapper)
