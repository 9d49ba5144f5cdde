"""Let mmengine checkpoints load under torch >= 2.6's ``weights_only=True`` default.

mmengine checkpoints hold :class:`mmengine.logging.HistoryBuffer` objects (in the message
hub) and numpy arrays and scalars. Rather than switching ``weights_only`` off (which would
let a checkpoint run arbitrary code), the exact classes needed are registered as safe
globals.
"""
import pickle

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


def _history_buffer_getattr(obj, name: str):
    """A ``getattr`` that resolves only ``HistoryBuffer``'s public methods.

    Pickle stores ``HistoryBuffer._statistics_methods`` (a dict of its methods) as
    ``getattr(HistoryBuffer, 'min')``; a general ``getattr`` would let a checkpoint reach
    anything, so only this one use is allowed.
    """
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and not name.startswith('_') and callable(
            getattr(HistoryBuffer, name, None)):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); clbox only allows HistoryBuffer '
        'methods. Load it with weights_only=False only if you trust where it came from.')


def register_checkpoint_safe_globals() -> None:
    """Register the classes mmengine checkpoints need as ``torch.load`` safe globals."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 loads with weights_only=False by default
        return
    from mmengine.logging import HistoryBuffer
    add([HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr'), *_numpy_globals()])
