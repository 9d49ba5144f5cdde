"""Mixed precision on a CPU: bfloat16 autocast in an optimizer wrapper.

mmengine's ``AmpOptimWrapper`` asserts that an accelerator (CUDA, NPU, MLU, MUSA) is
present, even with ``dtype='bfloat16'``, so ``tools/train.py --amp`` on a CPU uses
:class:`CPUBF16OptimWrapper` instead (and ``AmpOptimWrapper`` with float16 and dynamic loss
scaling on a GPU).
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper

from clbox.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUBF16OptimWrapper(OptimWrapper):
    """mmengine's ``OptimWrapper`` with the forward pass under
    ``torch.autocast('cpu', dtype=torch.bfloat16)``. bfloat16 has float32's exponent
    range, so there is no loss scaling; the other ``OptimWrapper`` options (``clip_grad``,
    ``accumulative_counts``) work as usual.

    Use: ``optim_wrapper = dict(type='CPUBF16OptimWrapper', optimizer=...)``, or
    ``tools/train.py --amp`` on a machine without a GPU.
    """

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), \
                torch.autocast(device_type='cpu', dtype=torch.bfloat16):
            yield
