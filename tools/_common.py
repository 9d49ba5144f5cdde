"""What tools/train.py and tools/test.py share: config loading and runner building."""
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

os.environ.setdefault('WANDB_MODE', 'offline')  # never block on W&B network access

import clbox  # noqa: E402  (applies clbox.compat before mmseg can be imported)
from mmengine.config import Config, DictAction  # noqa: E402,F401


def load_config(path: str, cfg_options=None, work_dir=None) -> Config:
    """Load a config, apply ``--cfg-options`` and set the work dir (default
    ``./work_dirs/<config name>``)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config "{path}" does not exist.')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    cfg.setdefault('default_scope', 'clbox')
    return cfg


def build_runner(cfg: Config):
    """The config's ``runner_type`` (ContinualRunner) or mmengine's Runner."""
    clbox.init_scope()  # torch, mmengine's runner and the rest load from here on
    if 'runner_type' in cfg:
        from clbox.registry import RUNNERS
        return RUNNERS.build(cfg)
    from mmengine.runner import Runner
    return Runner.from_cfg(cfg)


def close_processes() -> None:
    """Leave the process group before exiting (a gloo group still open at interpreter
    exit can abort the process: "terminate called without an active exception")."""
    from clbox.dist import barrier
    import torch.distributed as torch_dist
    if torch_dist.is_available() and torch_dist.is_initialized():
        barrier()
        torch_dist.destroy_process_group()
        _exit_after_distributed_run()


def _exit_after_distributed_run() -> None:
    """Exit 0 without the interpreter's final teardown, once every file is written and the
    group left: under load, torch's gloo / store threads still being torn down when the
    C++ static destructors run abort a finished rank ("terminate called without an active
    exception", exit -6), which fails the whole job. The atexit handlers (work-dir lock,
    loggers) run first, and the streams are flushed."""
    import atexit
    import logging
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
