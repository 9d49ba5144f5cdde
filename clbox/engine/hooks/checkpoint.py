"""Checkpoints after every experience and, if asked, every N epochs or every fraction of
the stream."""
import glob
import os
import os.path as osp
import re
from typing import Optional

from mmengine.hooks import Hook

from clbox.dist import is_main
from clbox.registry import HOOKS
from ..loops.experience import ExperienceBasedTrainLoop
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
        max_keep_ckpts (int): Keep only the newest N ``experience_*.pth`` checkpoints of
            the work dir (by stream position: experience, then epoch), as mmengine's
            ``CheckpointHook``; older ones are deleted after each successful save (the
            new file is complete and ``last_checkpoint`` points at it first), so long
            streams do not fill the disk (391 CORe50 experiences with 1,500 latents:
            ~210 MB each, ~85 GB kept otherwise). Never deleted: the file just saved,
            the ``last_checkpoint`` target, files later in the stream than the one just
            saved (a resumed run overwrites those when it gets there) and anything that
            is not a finished ``experience_*.pth`` (temporary files are hidden
            ``.*.tmp`` names). ``--step N`` needs ``experience_{N-1}.pth``, which is
            always among the newest. <= 0 keeps all. Defaults to -1.
        stream_fraction (float, optional): With the online loop, also save
            ``checkpoint_{f:010.4f}.pth`` every ``stream_fraction`` of the training
            updates (``f`` = 0.05, 0.10, ... 1.0: the reference's ``save_freq=0.05`` and
            its names, ``senthilps8/continuous_ssl_problem``, section 6 runs). The saves
            fall where the pass is whole (after an incoming batch's updates and
            ``observe``; with a stream buffer after any update), the first such position
            at or after each fraction; the checkpoint records the exact
            ``stream_fraction`` and resumes mid-pass (``--resume``). They are not pruned
            by ``max_keep_ckpts``. Defaults to None.
    """

    priority = 'VERY_LOW'

    def __init__(self, interval: int = -1, save_optimizer: bool = True,
                 save_param_scheduler: bool = True, max_keep_ckpts: int = -1,
                 stream_fraction: Optional[float] = None):
        if stream_fraction is not None and not 0 < float(stream_fraction) <= 1:
            raise ValueError(f'ExperienceCheckpointHook: stream_fraction must be in (0, 1], '
                             f'got {stream_fraction!r} (e.g. 0.05 for every 5% of the stream).')
        self.stream_fraction = None if stream_fraction is None else float(stream_fraction)
        self._saved_upto = 0
        self.interval = interval
        if isinstance(max_keep_ckpts, bool) or not isinstance(max_keep_ckpts, int):
            raise ValueError(f'ExperienceCheckpointHook: max_keep_ckpts must be an int '
                             f'(N > 0 keeps the newest N experience checkpoints, <= 0 keeps '
                             f'all; e.g. default_hooks.checkpoint.max_keep_ckpts=2), got '
                             f'{max_keep_ckpts!r}.')
        self.max_keep_ckpts = max_keep_ckpts
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

    def before_train(self, runner) -> None:
        if self.stream_fraction is None:
            return
        loop = runner.train_loop
        if type(loop).pass_state is ExperienceBasedTrainLoop.pass_state:
            raise ValueError(
                f'ExperienceCheckpointHook(stream_fraction={self.stream_fraction}) needs a '
                f'loop that checkpoints mid-pass (OnlineTrainLoop); {type(loop).__name__} '
                'saves at epoch and experience ends: use interval=N (epochs) instead.')
        self._saved_upto = loop.iter

    def after_stream_step(self, runner) -> None:
        """Save at the first whole position at or after each stream fraction."""
        if self.stream_fraction is None:
            return
        loop = runner.train_loop
        total, done = loop.max_iters, loop.iter
        if total <= 0 or done <= self._saved_upto:
            return
        step = self.stream_fraction
        crossed = [j for j in range(1, int(1 / step + 1e-9) + 1)
                   if self._saved_upto < round(j * step * total) <= done]
        self._saved_upto = done
        if crossed:
            self._save(runner, f'checkpoint_{crossed[-1] * step:010.4f}.pth')

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
                prune_checkpoints(runner.work_dir, path, self.max_keep_ckpts)
        self.last_saved = path


def prune_checkpoints(work_dir: str, saved: str, keep: int) -> list:
    """Delete all but the newest ``keep`` stream checkpoints up to ``saved``.

    Only ``experience_{i}[_epoch_{e}].pth`` files at or before the stream position of
    ``saved`` are candidates; ``saved`` itself and the ``last_checkpoint`` target are never
    deleted. Each deletion is one ``os.remove`` (atomic); a file already gone is skipped.

    Args:
        work_dir (str): The run's folder.
        saved (str): The checkpoint just written (complete, ``last_checkpoint`` updated).
        keep (int): How many to keep (>= 1).

    Returns:
        list: The deleted paths.
    """
    limit = stream_position(saved)
    protected = {osp.abspath(saved)}
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            protected.add(osp.abspath(f.read().strip()))
    candidates = [p for p in stream_checkpoints(work_dir)
                  if limit is None or stream_position(p) <= limit]
    removed = []
    for old in candidates[:-keep]:
        if osp.abspath(old) in protected:
            continue
        try:
            os.remove(old)
        except FileNotFoundError:
            continue
        removed.append(old)
    return removed


_NAME = re.compile(r'experience_(\d+)(?:_epoch_(\d+))?\.pth')


def stream_position(path: str) -> Optional[tuple]:
    """``(experience, epoch)`` of an ``experience_{i}[_epoch_{e}].pth`` name (an
    experience's end is epoch ``inf``: after its epochs); None for other names."""
    match = _NAME.fullmatch(osp.basename(path))
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)) if match.group(2) else float('inf')


def stream_checkpoints(work_dir: str) -> list:
    """The work dir's ``experience_{i}[_epoch_{e}].pth`` files, oldest stream position
    first (an experience's end after its epochs)."""
    found = []
    for path in glob.glob(osp.join(glob.escape(work_dir), 'experience_*.pth')):
        position = stream_position(path)
        if position is not None:
            found.append((position, path))
    return [path for _, path in sorted(found)]
