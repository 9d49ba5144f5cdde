"""Reading untrusted pickles without running their code (SSLAD Track 3A's test files).

The challenge ships its test set as pickles of the starter kit's dataset objects
(``test_track3A/*``, read by ``classification_util.create_test_set_from_pkl``); a pickle can
name any callable, so ``pickle.load`` on a downloaded file can run arbitrary code.
:func:`restricted_load` accepts only:

* plain containers and scalars (``dict``, ``list``, ``tuple``, ``set``, ``OrderedDict``, ...);
* tensors: ``torch._utils._rebuild_tensor_v2`` with storages whose bytes are read by
  ``torch.load(weights_only=True)`` (a plain ``pickle.dump`` of a tensor stores its storage
  as ``torch.save`` bytes) and no backward hooks; numpy arrays (``_reconstruct``, dtypes);
* any other class only as an inert :class:`OpaqueObject`: its name is recorded and its
  pickled state kept as attributes; nothing of it is imported or called.
"""
import collections
import io
import pickle
from typing import Any

import torch

__all__ = ['restricted_load', 'OpaqueObject', 'UnsafePickleError']


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle that asks for something :func:`restricted_load` does not allow."""


class OpaqueObject:
    """An object of a class the restricted unpickler did not import: ``pickled_class`` is
    its ``module.name``, ``pickled_args`` the constructor arguments, and its pickled state
    (a dict) becomes attributes."""

    pickled_class = '?'

    def __init__(self, *args):
        self.pickled_args = args

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:   # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.pickled_state = state

    def __repr__(self) -> str:
        return f'OpaqueObject({self.pickled_class})'


def _storage_from_bytes(data: bytes):
    return torch.load(io.BytesIO(data), weights_only=True)


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, *rest):
    if hooks:
        raise UnsafePickleError('a pickled tensor carries backward hooks (code): refused.')
    return torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
                                           collections.OrderedDict())


def _allowed():
    import numpy as np
    try:
        from numpy._core import multiarray
    except ImportError:    # NumPy 1
        from numpy.core import multiarray
    allowed = {
        ('builtins', name): getattr(__builtins__, name, None) if not isinstance(
            __builtins__, dict) else __builtins__[name]
        for name in ('dict', 'list', 'tuple', 'set', 'frozenset', 'int', 'float', 'str',
                     'bytes', 'bool', 'complex', 'slice', 'bytearray')}
    allowed.update({
        ('collections', 'OrderedDict'): collections.OrderedDict,
        ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
        ('torch.storage', '_load_from_bytes'): _storage_from_bytes,
        ('numpy.core.multiarray', '_reconstruct'): multiarray._reconstruct,
        ('numpy._core.multiarray', '_reconstruct'): multiarray._reconstruct,
        ('numpy', 'ndarray'): np.ndarray, ('numpy', 'dtype'): np.dtype,
        ('numpy.core.multiarray', 'scalar'): multiarray.scalar,
        ('numpy._core.multiarray', 'scalar'): multiarray.scalar,
    })
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, path: str):
        super().__init__(file)
        self.path = path
        self.allowed = _allowed()

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.allowed:
            return self.allowed[(module, name)]
        if module in ('builtins', 'os', 'posix', 'nt', 'subprocess', 'sys', 'shutil',
                      'importlib', 'runpy', 'socket', 'pickle', 'codecs') or \
                module.startswith(('torch', 'numpy', 'io')):
            raise UnsafePickleError(
                f'"{self.path}" asks for {module}.{name}, which a data file never needs: '
                'refused (it may be malicious; restricted_load accepts tensors, arrays, plain '
                'containers and inert objects).')
        return type(name, (OpaqueObject,), dict(pickled_class=f'{module}.{name}'))


def restricted_load(path: str) -> Any:
    """Unpickle ``path`` with the restrictions of this module.

    Raises:
        UnsafePickleError: Naming the file and the callable it asked for.
    """
    with open(path, 'rb') as f:
        return _RestrictedUnpickler(f, path).load()
