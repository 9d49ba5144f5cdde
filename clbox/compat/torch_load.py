"""Let mmengine checkpoints load under torch >= 2.6's ``weights_only=True`` default.

mmengine checkpoints hold :class:`mmengine.logging.HistoryBuffer` objects (in the message
hub) and numpy arrays and scalars. Rather than switching ``weights_only`` off (which would
let a checkpoint run arbitrary code), the exact classes needed are registered as safe
globals.
"""
import importlib.abc
import importlib.util
import pickle
import sys


def _numpy_globals() -> list:
    """The numpy callables and types that pickled arrays, scalars and dtypes refer to."""
    import numpy as np
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
        'methods (checkpoints are loaded weights-only, so that a file cannot run code).')


def register_checkpoint_safe_globals() -> None:
    """Register the classes mmengine checkpoints need as ``torch.load`` safe globals:
    now if torch is imported, else right after torch's import (a meta-path hook), so
    ``import clbox`` does not import torch."""
    if 'torch' in sys.modules and hasattr(sys.modules['torch'], 'serialization'):
        _register()
    elif not any(isinstance(f, _AfterTorchImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterTorchImport())


_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    import torch
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 loads with weights_only=False by default
        return
    from mmengine.logging import HistoryBuffer
    add([HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr'), *_numpy_globals()])
    _registered = True


class _AfterTorchImport(importlib.abc.MetaPathFinder):
    """Finds ``torch`` with the other finders and registers the safe globals once its
    module has executed."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'torch':
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec('torch')
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module):
            original(module)
            _register()

        loader.exec_module = exec_module
        return spec
