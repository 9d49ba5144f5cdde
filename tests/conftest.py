"""Shared test setup: the clbox registry scope and small thread counts."""
import os

import pytest
import torch

os.environ.setdefault('WANDB_MODE', 'offline')
os.environ.setdefault('MPLBACKEND', 'Agg')
torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope='session')
def clbox_scope():
    """Every test builds modules in the 'clbox' scope, as configs do."""
    import clbox
    clbox.init_scope()
    yield
