"""The restricted unpickler for the SSLAD Track 3A test pickles: tensors and containers
come through, other classes stay inert, code is refused."""
import os
import pickle
import sys
import types

import numpy as np
import pytest
import torch

from clbox.scenarios.safe_pickle import OpaqueObject, UnsafePickleError, restricted_load


def _kit_like_pickle(path):
    """A pickle of an object of a class from another module (the kit's
    haitain_classification.HaitainObjectSet), holding transformed tensors."""
    module = types.ModuleType('haitain_classification')

    class HaitainObjectSet:
        def __init__(self, samples):
            self.samples = samples
    HaitainObjectSet.__module__ = 'haitain_classification'
    HaitainObjectSet.__qualname__ = 'HaitainObjectSet'
    module.HaitainObjectSet = HaitainObjectSet
    sys.modules['haitain_classification'] = module
    try:
        samples = [(torch.randn(3, 64, 64), 0) for _ in range(3)]
        obj = HaitainObjectSet(samples)
        obj.meta = dict(name='00_test', array=np.arange(4))
        with open(path, 'wb') as f:
            pickle.dump(obj, f)
    finally:
        del sys.modules['haitain_classification']
    return samples


def test_tensors_and_containers_come_through(tmp_path):
    samples = _kit_like_pickle(tmp_path / '00_test.pkl')
    obj = restricted_load(str(tmp_path / '00_test.pkl'))
    assert isinstance(obj, OpaqueObject)
    assert obj.pickled_class == 'haitain_classification.HaitainObjectSet'
    assert len(obj.samples) == 3
    for (x, y), (ex, ey) in zip(obj.samples, samples):
        assert torch.equal(x, ex) and y == ey
    assert obj.meta['name'] == '00_test' and obj.meta['array'].tolist() == [0, 1, 2, 3]


class _Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null',))


class _EvalEvil:
    def __reduce__(self):
        return (eval, ('1 + 1',))


@pytest.mark.parametrize('payload', [_Evil(), _EvalEvil()])
def test_code_is_refused(tmp_path, payload):
    path = tmp_path / 'evil.pkl'
    with open(path, 'wb') as f:
        pickle.dump(dict(samples=[payload]), f)
    with pytest.raises(UnsafePickleError, match='evil.pkl'):
        restricted_load(str(path))


def test_unknown_callables_stay_inert(tmp_path):
    """A __reduce__ naming a function of an unknown module yields an inert object: the
    function is never imported or called."""
    path = tmp_path / 'other.pkl'
    # a pickle whose reduce calls somemodule.run('x'), written by hand (protocol 2)
    data = b'\x80\x02csomemodule\nrun\nq\x00X\x01\x00\x00\x00xq\x01\x85q\x02Rq\x03.'
    path.write_bytes(data)
    obj = restricted_load(str(path))
    assert isinstance(obj, OpaqueObject) and obj.pickled_args == ('x',)
    assert 'somemodule' not in sys.modules
