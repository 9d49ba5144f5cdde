"""Running clbox the way users run it, in processes of its own: ``tools/train.py``, and
``torchrun`` (through ``tools/dist_train.sh`` / ``dist_test.sh``) with gloo on the CPU;
the test hooks those processes import (per-rank records, kills)."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import textwrap

from helpers import ROOT

#: Test hooks importable by the launched processes (``custom_imports``).
HOOKS_MODULE = '''
import json, os, signal
from mmengine.hooks import Hook
from clbox.registry import HOOKS

# Record every file this process puts in place: atomic writes (checkpoints, json,
# last_checkpoint) end in os.replace, plots in Figure.savefig.
_replace = os.replace
_RANK = os.environ.get('RANK', '0')


def _log_write(path):
    folder = os.environ.get('CLBOX_WRITE_LOG')
    if folder:
        with open(os.path.join(folder, f'writes{_RANK}.txt'), 'a') as f:
            f.write(os.path.basename(str(path)) + chr(10))


def _logged_replace(src, dst, *args, **kwargs):
    _log_write(dst)
    return _replace(src, dst, *args, **kwargs)


os.replace = _logged_replace
import matplotlib.figure  # noqa: E402
_savefig = matplotlib.figure.Figure.savefig


def _logged_savefig(self, fname, *args, **kwargs):
    _log_write(fname)
    return _savefig(self, fname, *args, **kwargs)


matplotlib.figure.Figure.savefig = _logged_savefig


@HOOKS.register_module(force=True)
class RankRecordHook(Hook):
    """Writes, per rank, its planned and done iterations (the progress bar's total)."""
    priority = 'LOWEST'

    def _path(self, runner):
        return os.path.join(runner.work_dir, f'rank{runner.rank}.json')

    def _record(self, runner, key, value):
        path = self._path(runner)
        data = json.load(open(path)) if os.path.isfile(path) else {}
        data.setdefault(key, []).append(value)
        json.dump(data, open(path, 'w'))

    def after_train(self, runner):
        self._record(runner, 'iters', [runner.train_loop.max_iters, runner.train_loop.iter])


@HOOKS.register_module(force=True)
class KillAfterHook(Hook):
    """SIGKILLs rank 0 right after the checkpoint of experience ``index`` (a real kill:
    torchrun then stops the other ranks)."""
    priority = 'LOWEST'

    def __init__(self, index):
        self.index = index

    def after_experience(self, runner, experience, result=None):
        if experience.index == self.index and runner.rank == 0:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module(force=True)
class KillAtHook(Hook):
    """SIGKILLs this process after training iteration ``iteration`` (0-based, global),
    or, with ``during_save``, in the middle of the first checkpoint write after it (half
    the bytes on disk): the ways a job dies (OOM killer, preemption, power loss)."""
    priority = 'LOWEST'

    def __init__(self, iteration, during_save=False):
        self.iteration, self.during_save = iteration, during_save

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.train_loop.iter != self.iteration:
            return
        if not self.during_save:
            os.kill(os.getpid(), signal.SIGKILL)
        import mmengine.fileio.backends.local_backend as local

        def put_half_then_die(backend, obj, filepath):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        local.LocalBackend.put = put_half_then_die
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def write_config(folder, name: str, text: str) -> str:
    """Write a config (and the test hooks module next to it); return its path."""
    os.makedirs(str(folder), exist_ok=True)
    with open(osp.join(str(folder), '_dist_test_hooks.py'), 'w') as f:
        f.write(HOOKS_MODULE)
    path = osp.join(str(folder), name)
    with open(path, 'w') as f:
        f.write(textwrap.dedent(text))
    return path


def env_for(folder) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable,
               PORT=str(free_port()), CUDA_VISIBLE_DEVICES='', CLBOX_WRITE_LOG=str(folder))
    env['PYTHONPATH'] = os.pathsep.join([str(folder), ROOT, env.get('PYTHONPATH', '')])
    return env


def dist_train(config: str, nproc: int, *args, check: bool = True):
    """``bash tools/dist_train.sh CONFIG NPROC ARGS``; returns the completed process."""
    folder = osp.dirname(config)
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools/dist_train.sh'), config,
                           str(nproc), *args], env=env_for(folder), cwd=folder,
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f'dist_train failed ({proc.returncode}):\n{proc.stderr[-6000:]}')
    return proc


def dist_test(config: str, checkpoint: str, nproc: int, *args):
    folder = osp.dirname(config)
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools/dist_test.sh'), config, checkpoint,
                           str(nproc), *args], env=env_for(folder), cwd=folder,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise AssertionError(f'dist_test failed ({proc.returncode}):\n{proc.stderr[-6000:]}')
    return proc


def train(config: str, *args, check: bool = True):
    """One process: ``python tools/train.py CONFIG ARGS``."""
    folder = osp.dirname(config)
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools/train.py'), config, *args],
                          env=env_for(folder), cwd=folder, capture_output=True, text=True,
                          timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f'train failed ({proc.returncode}):\n{proc.stderr[-6000:]}')
    return proc


def writes(folder, rank: int) -> list:
    """Base names of the files rank ``rank`` put in place (see ``HOOKS_MODULE``)."""
    path = osp.join(str(folder), f'writes{rank}.txt')
    if not osp.isfile(path):
        return []
    with open(path) as f:
        return f.read().split()


def read_json(*parts) -> dict:
    with open(osp.join(*[str(p) for p in parts])) as f:
        return json.load(f)


def _rank_main(rank, world_size, port, queue, fn, args):
    os.environ['GLOO_SOCKET_IFNAME'] = 'lo'  # loopback only, whatever the hostname says
    import torch
    import torch.distributed as dist
    torch.set_num_threads(1)
    try:
        import clbox
        clbox.init_scope()
        try:
            dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                                    world_size=world_size)
        except RuntimeError as e:   # the rendezvous, before any test code ran
            queue.put((rank, None, f'{_INIT_FAILED}{e}'))
            return
        # plain pickle bytes: the queue's own pickler would share tensors through file
        # descriptors that vanish when this process exits before the parent reads them
        import pickle
        queue.put((rank, pickle.dumps(fn(rank, world_size, *args)), None))
    except BaseException:  # report, never hang the parent
        import traceback
        queue.put((rank, None, traceback.format_exc()))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


_INIT_FAILED = 'process group init failed: '


def run_in_ranks(fn, *args, world_size: int = 2, timeout: float = 120, attempts: int = 3):
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` fresh (spawned) processes
    joined by a gloo process group on the loopback; returns their return values in rank
    order.

    ``fn`` must be a module-level function of a test module, and its arguments and
    results must pickle. Spawned, not forked: pytest-xdist workers run threads. A process
    that dies without reporting fails the call at once with its exit code. Only a failed
    rendezvous (gloo's "connectFullMesh failed ... Connection closed by peer" when another
    test's processes took the free port between its choice and its use) is retried, with a
    new port, up to ``attempts`` times; a failure of ``fn`` never is.
    """
    for attempt in range(attempts):
        try:
            return _run_in_ranks_once(fn, args, world_size, timeout)
        except _RendezvousFailed:
            if attempt == attempts - 1:
                raise
    raise AssertionError('unreachable')


class _RendezvousFailed(AssertionError):
    """The ranks could not form their process group (no test code ran)."""


def _run_in_ranks_once(fn, args, world_size: int, timeout: float):
    import multiprocessing as mp
    import queue as queue_module
    import time
    ctx = mp.get_context('spawn')
    results_queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_rank_main,
                         args=(r, world_size, port, results_queue, fn, args))
             for r in range(world_size)]
    for p in procs:
        p.start()
    results, deadline = {}, time.monotonic() + timeout
    try:
        while len(results) < world_size:
            try:
                rank, value, error = results_queue.get(timeout=1.0)
            except queue_module.Empty:
                dead = [(r, p.exitcode) for r, p in enumerate(procs)
                        if r not in results and p.exitcode is not None]
                if dead:
                    raise AssertionError(f'rank {dead[0][0]} died with exit code '
                                         f'{dead[0][1]} without reporting') from None
                if time.monotonic() > deadline:
                    raise AssertionError(f'ranks {sorted(set(range(world_size)) - set(results))} '
                                         f'did not finish in {timeout} s') from None
                continue
            if error and error.startswith(_INIT_FAILED):
                for p in procs:     # the others wait in the rendezvous: stop them now
                    p.kill()
                raise _RendezvousFailed(f'rank {rank}: {error}')
            if error:
                raise AssertionError(f'rank {rank} failed:\n{error}')
            import pickle
            results[rank] = pickle.loads(value)
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return [results[r] for r in range(world_size)]
