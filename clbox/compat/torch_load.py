"""Let mmengine checkpoints load under torch >= 2.6's ``weights_only=True`` default.

mmengine checkpoints hold :class:`mmengine.logging.HistoryBuffer` objects (in the message
hub) and numpy arrays and scalars. Rather than switching ``weights_only`` off (which would
let a checkpoint run arbitrary code), the exact classes needed are registered as safe
globals.
"""
import numpy as np
import torch


def _numpy_globals() -> list:
    """The numpy callables and types that pickled arrays, scalars and dtypes refer to."""
    found = []
    for module_name in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        try:
            module = __import__(module_name, fromlist=['_reconstruct'])
        except ImportError:
            continue
        found.extend([module._reconstruct, module.scalar])
    found.extend([np.ndarray, np.dtype])
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found.extend(getattr(dtypes, name) for name in dir(dtypes) if name.endswith('DType'))
    return found


def register_checkpoint_safe_globals() -> None:
    """Register the classes mmengine checkpoints need as ``torch.load`` safe globals."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 loads with weights_only=False by default
        return
    from mmengine.logging import HistoryBuffer
    add([HistoryBuffer, *_numpy_globals()])
