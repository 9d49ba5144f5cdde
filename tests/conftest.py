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


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """With ``-n N`` (the README's command), distribute with xdist's ``loadgroup`` mode
    instead of ``load``, so that the tests sharing a module-scoped fixture of their test
    module (a 2-rank training run, a generated dataset) run on one worker and the fixture
    is built once, not once per worker (:func:`pytest_collection_modifyitems` groups them;
    every other test is distributed as before)."""
    option = config.option
    if getattr(option, 'numprocesses', None) and getattr(option, 'dist', 'no') in ('no', 'load'):
        option.dist = 'loadgroup'


def pytest_collection_modifyitems(config, items):
    """Put the tests that use a module-scoped fixture defined in their own module into one
    xdist group per (module, fixture)."""
    for item in items:
        info = getattr(item, '_fixtureinfo', None)
        module = getattr(item, 'module', None)
        if info is None or module is None:
            continue
        for name in info.names_closure:
            defs = info.name2fixturedefs.get(name)
            if not defs:
                continue
            fixture = defs[-1]
            if fixture.scope == 'module' and \
                    getattr(fixture.func, '__module__', None) == module.__name__:
                item.add_marker(pytest.mark.xdist_group(f'{module.__name__}.{name}'))
                break
