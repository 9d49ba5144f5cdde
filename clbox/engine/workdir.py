"""One run per work dir: a lock file, and the previous run's outputs moved aside.

Two runs writing into one work dir mix their checkpoints, results and logs (and a later
``--resume`` continues whichever wrote last). The lock stops the second run at once; a
fresh run (not a resume) into a dir that holds a finished or interrupted run's outputs
moves them to ``previous_runs/<time>/`` instead of overwriting them one by one.
"""
import atexit
import glob
import json
import os
import os.path as osp
import shutil
import socket
import time
from typing import List, Optional

LOCK_NAME = '.clbox.lock'
#: What a run writes at the top of its work dir (logs go to per-run timestamp folders).
RUN_OUTPUTS = ('experience_*.pth', 'last_checkpoint', 'results.json', 'resources.json',
               'clear_metrics.json', 'test_results.json', 'accuracy_matrix.png',
               'accuracy_curve.png', 'confusion_matrix.png', 'confusion')


class WorkDirBusyError(RuntimeError):
    """Another live run holds the work dir."""


def _process_alive(pid: int, started: float) -> bool:
    """Whether ``pid`` runs and was started before the lock was taken (a reused pid of
    a newer process does not count)."""
    try:
        import psutil
        proc = psutil.Process(pid)
        return proc.is_running() and proc.create_time() <= started + 1.0
    except Exception:  # psutil missing, or no such process
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class WorkDirLock:
    """``<work_dir>/.clbox.lock`` holding the owner's pid, host, start time and command.

    A lock whose owner is gone (same host, process not running) is stale and taken over;
    a lock of another host cannot be checked and is refused with the way out. The same
    process may take its own lock again (runners built one after another in a notebook).

    Args:
        work_dir (str): The run's folder (created if missing).
    """

    def __init__(self, work_dir: str):
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self.held = False

    def owner(self) -> Optional[dict]:
        """The lock file's content, None if absent, ``{}`` if unreadable."""
        try:
            with open(self.path) as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def _stale(self, owner: dict) -> bool:
        if owner.get('pid') == os.getpid() and owner.get('host') == socket.gethostname():
            return True  # our own (an earlier runner of this process)
        if not owner:  # unreadable: a crash between create and write, if old enough
            try:
                return time.time() - osp.getmtime(self.path) > 10
            except OSError:
                return True
        if owner.get('host') != socket.gethostname():
            return False
        return not _process_alive(int(owner.get('pid', -1)), float(owner.get('started', 0)))

    def acquire(self, command: str = '') -> None:
        """Take the lock or raise :class:`WorkDirBusyError` naming the owner."""
        os.makedirs(self.work_dir, exist_ok=True)
        info = dict(pid=os.getpid(), host=socket.gethostname(), started=time.time(),
                    command=command)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self.owner()
                if owner is None:
                    continue  # released meanwhile
                if self._stale(owner):
                    try:
                        os.remove(self.path)
                    except FileNotFoundError:
                        pass
                    continue
                since = time.strftime('%Y-%m-%d %H:%M:%S',
                                      time.localtime(owner.get('started', 0)))
                raise WorkDirBusyError(
                    f'work_dir "{self.work_dir}" is in use by another run (pid '
                    f'{owner.get("pid")} on {owner.get("host")}, since {since}: '
                    f'{owner.get("command") or "?"}). Two runs in one folder would mix their '
                    'checkpoints and results: wait for it to finish or pass another '
                    f'--work-dir. If no such run is alive, delete "{self.path}".') from None
            with os.fdopen(fd, 'w') as f:
                json.dump(info, f)
            self.held = True
            atexit.register(self.release)
            return
        raise WorkDirBusyError(f'could not take the lock "{self.path}" (it keeps changing): '
                               'another run is starting in this work_dir; use another one.')

    def release(self) -> None:
        """Remove the lock if this process holds it."""
        if not self.held:
            return
        owner = self.owner()
        if owner and owner.get('pid') == os.getpid():
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
        self.held = False


def previous_outputs(work_dir: str) -> List[str]:
    """Paths of a previous run's outputs at the top of ``work_dir``."""
    found = []
    for pattern in RUN_OUTPUTS:
        found += glob.glob(osp.join(glob.escape(work_dir), pattern))
    return sorted(found)


def archive_previous_run(work_dir: str, keep: tuple = ()) -> Optional[str]:
    """Move a previous run's outputs into ``work_dir/previous_runs/<time>/``.

    Args:
        work_dir (str): The work dir.
        keep (tuple[str]): Paths to leave in place (e.g. the ``load_from`` checkpoint).

    Returns:
        str | None: The folder they were moved to, or None if there was nothing.
    """
    keep_abs = {osp.abspath(p) for p in keep if p}
    paths = [p for p in previous_outputs(work_dir) if osp.abspath(p) not in keep_abs]
    if not paths:
        return None
    stamp = time.strftime('%Y%m%d_%H%M%S',
                          time.localtime(max(osp.getmtime(p) for p in paths)))
    dest = osp.join(work_dir, 'previous_runs', stamp)
    n = 1
    while osp.exists(dest):
        n += 1
        dest = osp.join(work_dir, 'previous_runs', f'{stamp}-{n}')
    os.makedirs(dest)
    for path in paths:
        shutil.move(path, osp.join(dest, osp.basename(path)))
    return dest


def remove_stale_temporaries(work_dir: str) -> List[str]:
    """Delete the temporary files of writes that never finished (their process died:
    ``.<name>.<pid>.<hex>.tmp``, see :func:`clbox.engine.checkpoint_io.temporary_name`).

    Returns:
        list[str]: The removed paths.
    """
    removed = []
    for path in glob.glob(osp.join(glob.escape(work_dir), '.*.tmp')):
        parts = osp.basename(path).split('.')
        try:
            pid = int(parts[-3])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid() or _process_alive(pid, osp.getmtime(path)):
            continue
        try:
            os.remove(path)
            removed.append(path)
        except OSError:
            pass
    return removed
