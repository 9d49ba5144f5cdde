"""Checkpoints after every experience and, if asked, every N epochs."""
import glob
import os
import os.path as osp
import re

from mmengine.hooks import Hook

from clbox.dist import is_main
from clbox.registry import HOOKS
from ..utils import atomic_write


@HOOKS.register_module()
class ExperienceCheckpointHook(Hook):
    """Save ``experience_{i}.pth`` after every experience and, with ``interval > 0``,
    ``experience_{i}_epoch_{e}.pth`` every ``interval`` epochs inside an experience.

    Each save is atomic (the runner writes a unique temporary file, fsyncs and renames it)
    and then ``last_checkpoint`` is updated atomically, so an interrupted save never
    replaces a good checkpoint and ``--resume`` always finds a complete one. The save at
    an experience's end runs in the loop's ``after_experience_eval`` stage, last (after
    the hooks that add metrics), and before every ``after_experience`` hook.

    Args:
        interval (int): Epochs between saves inside an experience; <= 0 saves only at
            experience ends. Defaults to -1.
        save_optimizer (bool): Include optimizer state. Defaults to True.
        save_param_scheduler (bool): Include scheduler state. Defaults to True.
        max_keep_ckpts (int): Keep only the newest N checkpoints of the work dir (by
            stream position: experience, then epoch), as mmengine's ``CheckpointHook``;
            older ones are deleted after each successful save, so long streams (391
            CORe50 experiences) do not fill the disk. ``--step N`` needs
            ``experience_{N-1}.pth``, which is always among the newest. <= 0 keeps all.
            Defaults to -1.
    """

    priority = 'VERY_LOW'

    def __init__(self, interval: int = -1, save_optimizer: bool = True,
                 save_param_scheduler: bool = True, max_keep_ckpts: int = -1):
        self.interval = interval
        self.max_keep_ckpts = int(max_keep_ckpts)
        self.save_optimizer = save_optimizer
        self.save_param_scheduler = save_param_scheduler
        self.last_saved = None

    def after_train_epoch(self, runner) -> None:
        loop = runner.train_loop
        done = getattr(loop, '_epoch_in_exp', 0)
        per_exp = getattr(loop, 'epochs_per_experience', 0)
        if self.interval > 0 and done % self.interval == 0 and 0 < done < per_exp:
            exp = loop.current_experience
            self._save(runner, f'experience_{exp.index}_epoch_{done}.pth')

    def after_experience_eval(self, runner, experience, result=None) -> None:
        """Save the finished experience before any ``after_experience`` work (results,
        plots, loggers), so a failure there never loses it."""
        self._save(runner, f'experience_{experience.index}.pth')

    def _save(self, runner, filename: str) -> None:
        runner.save_checkpoint(
            runner.work_dir, filename, save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler and bool(runner.param_schedulers))
        path = osp.join(runner.work_dir, filename)
        if is_main():
            atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), lambda f: f.write(path))
            if self.max_keep_ckpts > 0:
                for old in stream_checkpoints(runner.work_dir)[:-self.max_keep_ckpts]:
                    os.remove(old)
        self.last_saved = path


_NAME = re.compile(r'experience_(\d+)(?:_epoch_(\d+))?\.pth$')


def stream_checkpoints(work_dir: str) -> list:
    """The work dir's ``experience_{i}[_epoch_{e}].pth`` files, oldest stream position
    first (an experience's end after its epochs)."""
    found = []
    for path in glob.glob(osp.join(glob.escape(work_dir), 'experience_*.pth')):
        match = _NAME.search(osp.basename(path))
        if match:
            epoch = int(match.group(2)) if match.group(2) else float('inf')
            found.append(((int(match.group(1)), epoch), path))
    return [path for _, path in sorted(found)]
