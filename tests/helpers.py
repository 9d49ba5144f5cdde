"""Tiny configs and runner helpers shared by the tests."""
import os.path as osp
import uuid
from typing import Optional

from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
NAIVE_DIGITS = osp.join(ROOT, 'configs/naive/naive_resnet18_1xb32-5e_digits-5exp.py')


def tiny_cfg(work_dir, method: Optional[dict] = None, num_experiences: int = 3,
             epochs: int = 1, **overrides) -> Config:
    """The digits config shrunk for tests: 8-channel ResNet, few experiences and epochs.

    Args:
        work_dir: Where the run writes.
        method (dict, optional): Merged into ``model`` (e.g. ``dict(type='ER')``).
        num_experiences (int): Experiences of 10 / n classes. Defaults to 3 (4+3+3).
        epochs (int): Epochs per experience. Defaults to 1.
        **overrides: Merged into the config (``--cfg-options`` style, dotted keys).
    """
    cfg = Config.fromfile(NAIVE_DIGITS)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'test-{uuid.uuid4().hex[:12]}'  # one logger/visualizer per run
    cfg.model.model.backbone.update(stem_channels=8, base_channels=8)
    cfg.model.model.head.in_channels = 64
    cfg.scenario.num_experiences = num_experiences
    cfg.train_cfg.max_epochs = epochs
    cfg.default_hooks.logger.interval = 1000
    cfg.log_level = 'WARNING'
    if method:
        cfg.merge_from_dict(dict(model=method))
    if overrides:
        cfg.merge_from_dict(overrides)
    return cfg


def build_runner(cfg: Config):
    """A ContinualRunner from a config, as tools/train.py builds it."""
    from clbox.registry import RUNNERS
    return RUNNERS.build(cfg)


def results(work_dir) -> dict:
    """The results.json of a run."""
    import json
    with open(osp.join(str(work_dir), 'results.json')) as f:
        return json.load(f)


def write_idx(path: str, array) -> None:
    """An unsigned-byte idx file (the MNIST format: magic 0x0000 08 ndim, big-endian int32
    sizes), gzipped."""
    import gzip

    import numpy as np
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b''.join(int(n).to_bytes(4, 'big')
                                                     for n in array.shape)
    with gzip.open(path, 'wb') as f:
        f.write(header + array.tobytes())
