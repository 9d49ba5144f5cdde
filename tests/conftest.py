"""Shared test setup: the clbox registry scope and small thread counts."""
import os
import tempfile

import pytest
import torch

os.environ.setdefault('WANDB_MODE', 'offline')
os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('CLBOX_CACHE', tempfile.mkdtemp(prefix='clbox-test-cache-'))
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def clbox_scope():
    """Every test builds modules in the 'clbox' scope, as configs do (a test that
    builds an mmengine Runner with another scope must not leak it into the next)."""
    import clbox
    clbox.init_scope()
    yield


@pytest.fixture(autouse=True, scope='module')
def clbox_scope_module():
    """The same for module-scoped fixtures, which run before function-scoped ones."""
    import clbox
    clbox.init_scope()
    yield
