"""Shared helpers for the benchmarks (run from the repository root)."""
import os.path as osp
import sys
import uuid

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import clbox  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402

# --device for every benchmark (in a module of its own so that scripts that also import
# tools/_common.py, a module of the same name, can use it)
from _device import (add_device_argument, check_device, device_name, speed,  # noqa: E402,F401
                     sync)


def quiet_runner(cfg: Config):
    """A ContinualRunner that logs warnings only, with a unique experiment name."""
    from clbox.registry import RUNNERS
    clbox.init_scope()
    cfg.log_level = 'WARNING'
    cfg.experiment_name = f'bench-{uuid.uuid4().hex[:10]}'
    cfg.default_hooks.logger.interval = 10 ** 6
    runner = RUNNERS.build(cfg)
    MMLogger.get_current_instance().setLevel('WARNING')
    return runner
