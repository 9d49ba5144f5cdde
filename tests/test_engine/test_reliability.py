"""No lost or mixed work: one run per work dir, checkpoints that refuse what does not fit,
the checkpoint before any other end-of-experience work, errors that name the file."""
import errno
import json
import os
import os.path as osp
import socket
import stat
import subprocess
import sys
import time

import pytest
import torch
from mmengine.hooks import Hook

from clbox.engine import IncompatibleCheckpointError
from clbox.engine.checkpoint_io import CheckpointFileError, DiskFullError, read_checkpoint
from clbox.engine.workdir import LOCK_NAME, WorkDirBusyError, WorkDirLock
from clbox.registry import HOOKS
from helpers import ROOT, build_runner, results, tiny_cfg


# ---------------------------------------------------------------- work-dir lock
def test_second_run_into_a_busy_work_dir_stops_at_once(tmp_path):
    """A live process (another interpreter) holds the lock: the run stops before writing
    anything, naming the owner and the way out."""
    holder = subprocess.Popen(
        [sys.executable, '-c', 'import sys, time; sys.path.insert(0, sys.argv[1]); '
         'from clbox.engine.workdir import WorkDirLock; '
         'WorkDirLock(sys.argv[2]).acquire("holder"); print("locked", flush=True); '
         'time.sleep(60)', ROOT, str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        before = sorted(os.listdir(tmp_path))
        with pytest.raises(WorkDirBusyError, match=rf'in use by another run \(pid '
                                                   rf'{holder.pid} .*--work-dir'):
            build_runner(tiny_cfg(tmp_path))
        assert sorted(os.listdir(tmp_path)) == before  # nothing written
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone: its lock is stale and the next run takes it over
    runner = build_runner(tiny_cfg(tmp_path, num_experiences=2))
    runner.train()
    assert not osp.exists(tmp_path / LOCK_NAME)  # released at the end


def test_lock_of_a_reused_pid_or_garbage_is_stale(tmp_path):
    lock = WorkDirLock(str(tmp_path))
    # pid 1 is alive but was started after this lock was taken (in 1970): a reused pid
    with open(lock.path, 'w') as f:
        json.dump(dict(pid=1, host=socket.gethostname(), started=0.0), f)
    lock.acquire('me')
    assert lock.owner()['pid'] == os.getpid()
    lock.release()
    assert lock.owner() is None
    with open(lock.path, 'w') as f:
        json.dump(dict(pid=1, host='another-host', started=time.time()), f)
    with pytest.raises(WorkDirBusyError, match='another-host.*delete'):
        lock.acquire('me')


def test_fresh_run_moves_the_previous_run_aside(tmp_path):
    naive = tiny_cfg(tmp_path, num_experiences=3)
    build_runner(naive).train()
    first = results(tmp_path)
    er = tiny_cfg(tmp_path, dict(type='ER', buffer=dict(type='ReservoirBuffer', size=30)),
                  num_experiences=2)
    build_runner(er).train()
    archived = os.listdir(tmp_path / 'previous_runs')
    assert len(archived) == 1
    old = tmp_path / 'previous_runs' / archived[0]
    # nothing of the first run is lost, nothing of it is mixed into the second
    assert {'experience_0.pth', 'experience_2.pth', 'results.json'} <= set(os.listdir(old))
    with open(old / 'results.json') as f:
        assert json.load(f) == first
    assert not osp.exists(tmp_path / 'experience_2.pth')
    assert results(tmp_path)['config']['model']['type'] == 'ER'


# ------------------------------------------------------------- checkpoint fit
def test_deeper_backbone_checkpoint_is_refused(tmp_path):
    build_runner(tiny_cfg(tmp_path / 'r18', num_experiences=2)).train()
    ckpt = str(tmp_path / 'r18' / 'experience_1.pth')
    cfg = tiny_cfg(tmp_path / 'r34', num_experiences=2, load_from=ckpt)
    cfg.model.model.backbone.depth = 34
    with pytest.raises(IncompatibleCheckpointError,
                       match=r'missing from the checkpoint \(model\.backbone\.layer1\.2'):
        build_runner(cfg).train()
    # partial loading is possible when the config says so, and is logged
    cfg = tiny_cfg(tmp_path / 'r34b', num_experiences=2, load_from=ckpt,
                   load_cfg=dict(strict=False))
    cfg.model.model.backbone.depth = 34
    runner = build_runner(cfg)
    runner.train()
    assert osp.isfile(tmp_path / 'r34b' / 'experience_1.pth')


def test_tools_test_refuses_a_checkpoint_that_does_not_fit(tmp_path):
    build_runner(tiny_cfg(tmp_path / 'a', num_experiences=2)).train()
    cfg = tiny_cfg(tmp_path / 'b', num_experiences=2)
    cfg.model.model.backbone.depth = 34
    path = tmp_path / 'cfg.py'
    cfg.dump(str(path))
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools/test.py'), str(path),
                           str(tmp_path / 'a' / 'experience_1.pth'),
                           '--work-dir', str(tmp_path / 'b')],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert 'missing from the checkpoint' in proc.stderr
    assert not osp.exists(tmp_path / 'b' / 'test_results.json')


def test_resume_of_another_method_is_refused(tmp_path):
    build_runner(tiny_cfg(tmp_path, num_experiences=3)).train()  # Naive
    os.remove(tmp_path / 'experience_2.pth')
    with open(tmp_path / 'last_checkpoint', 'w') as f:
        f.write(str(tmp_path / 'experience_1.pth'))
    er = tiny_cfg(tmp_path, dict(type='ER', buffer=dict(type='ReservoirBuffer', size=30)),
                  num_experiences=3, resume=True)
    with pytest.raises(IncompatibleCheckpointError,
                       match=r'written by method Naive.*builds ER'):
        build_runner(er).train()


def test_resume_with_other_param_groups_names_the_file(tmp_path):
    build_runner(tiny_cfg(tmp_path, num_experiences=3)).train()
    ckpt = str(tmp_path / 'experience_1.pth')
    cfg = tiny_cfg(tmp_path, num_experiences=3, resume=True, load_from=ckpt,
                   optim_wrapper=dict(paramwise_cfg=dict(
                       custom_keys={'head': dict(lr_mult=10.0)})))
    with pytest.raises(IncompatibleCheckpointError,
                       match=r'experience_1\.pth.*parameter groups.*config'):
        build_runner(cfg).train()


def test_no_spurious_extra_state_warning_on_load_from(tmp_path, caplog):
    build_runner(tiny_cfg(tmp_path / 'a', num_experiences=2)).train()
    cfg = tiny_cfg(tmp_path / 'b', num_experiences=2,
                   load_from=str(tmp_path / 'a' / 'experience_1.pth'))
    cfg.log_level = 'INFO'
    runner = build_runner(cfg)
    runner.train()
    text = '\n'.join(open(f).read() for f in _log_files(tmp_path / 'b'))
    assert 'Load checkpoint from' in text
    assert 'do not match exactly' not in text and 'missing keys in source' not in text


def _log_files(work_dir):
    out = []
    for base, _, files in os.walk(work_dir):
        out += [osp.join(base, f) for f in files if f.endswith('.log')]
    return out


# --------------------------------------------------------------- bad files
@pytest.mark.parametrize('kind', ['empty', 'truncated', 'text', 'garbage', 'pickle'])
def test_unreadable_checkpoint_gives_one_clear_line(tmp_path, kind):
    build_runner(tiny_cfg(tmp_path / 'a', num_experiences=2)).train()
    good = (tmp_path / 'a' / 'experience_1.pth').read_bytes()
    bad = tmp_path / f'{kind}.pth'
    if kind == 'empty':
        bad.write_bytes(b'')
    elif kind == 'truncated':
        bad.write_bytes(good[:len(good) // 2])
    elif kind == 'text':
        bad.write_text('this is not a checkpoint\n')
    elif kind == 'garbage':
        bad.write_bytes(os.urandom(4096))
    else:  # a pickle that would run code if unpickled without weights_only
        import pickle

        class Evil:
            def __reduce__(self):
                return (os.system, ('echo pwned',))

        torch.save({'state_dict': {}, 'x': Evil()}, bad, pickle_module=pickle)
    with pytest.raises(CheckpointFileError) as info:
        read_checkpoint(str(bad))
    message = str(info.value)
    assert str(bad) in message and '\n' not in message
    assert 'weights_only=False' not in message
    expected = dict(empty='is empty', truncated='truncated or corrupt',
                    text='not a PyTorch checkpoint', garbage='checkpoint',
                    pickle='holds Python objects')[kind]
    assert expected in message
    # and through the runner, for load_from
    cfg = tiny_cfg(tmp_path / 'b', num_experiences=2, load_from=str(bad))
    with pytest.raises(CheckpointFileError, match=expected):
        build_runner(cfg).train()


# ----------------------------------------- checkpoint first, failures reported
@HOOKS.register_module(force=True)
class _FailingPlotHook(Hook):
    """A hook whose after_experience work fails (a plot, a logger)."""
    priority = 'NORMAL'

    def after_experience(self, runner, experience, result=None):
        raise RuntimeError('plotting failed')


def test_checkpoint_is_written_before_other_experience_end_work(tmp_path):
    cfg = tiny_cfg(tmp_path, num_experiences=2,
                   custom_hooks=[dict(type='ContinualResultsHook'),
                                 dict(type='_FailingPlotHook')])
    with pytest.raises(RuntimeError, match='plotting failed'):
        build_runner(cfg).train()
    # the experience's checkpoint exists although a later hook failed: resume continues
    assert osp.isfile(tmp_path / 'experience_0.pth')
    assert not osp.exists(tmp_path / 'results.json')  # never more than the checkpoint


def test_confusion_plot_with_more_head_outputs_than_class_names(tmp_path):
    cfg = tiny_cfg(tmp_path, num_experiences=2)
    cfg.model.model.head.num_classes = 12  # more outputs than the 10 digits
    build_runner(cfg).train()
    assert osp.isfile(tmp_path / 'confusion_matrix.png')


def test_failing_plot_is_reported_and_training_goes_on(tmp_path, monkeypatch):
    import clbox.engine.hooks.results as results_hook

    def broken(*args, **kwargs):
        raise ValueError('cannot draw')

    monkeypatch.setattr(results_hook, 'plot_accuracy_matrix', broken)
    cfg = tiny_cfg(tmp_path, num_experiences=2)
    cfg.log_level = 'INFO'
    build_runner(cfg).train()
    assert len(results(tmp_path)['accuracy_matrix']) == 2
    text = '\n'.join(open(f).read() for f in _log_files(tmp_path))
    assert 'accuracy_matrix.png' in text and 'cannot draw' in text


def test_disk_full_names_the_path_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    import mmengine.fileio.backends.local_backend as local

    build_runner(tiny_cfg(tmp_path, num_experiences=2)).train()
    previous = (tmp_path / 'experience_1.pth').read_bytes()
    real_put = local.LocalBackend.put

    def full_disk(self, obj, filepath):
        with open(filepath, 'wb') as f:
            f.write(obj[:100])  # a partial write, then the disk is full
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(local.LocalBackend, 'put', full_disk)
    cfg = tiny_cfg(tmp_path, num_experiences=3, resume=True)
    with pytest.raises(DiskFullError, match=r'experience_2\.pth.*needs about .*free'):
        build_runner(cfg).train()
    monkeypatch.setattr(local.LocalBackend, 'put', real_put)
    # nothing half-written: the old checkpoint is intact, no temporary file is left
    assert (tmp_path / 'experience_1.pth').read_bytes() == previous
    assert not osp.exists(tmp_path / 'experience_2.pth')
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]
    assert len(results(tmp_path)['accuracy_matrix']) == 2  # never ahead of a checkpoint


def test_written_files_have_the_usual_mode(tmp_path):
    build_runner(tiny_cfg(tmp_path, num_experiences=2)).train()
    mask = os.umask(0)
    os.umask(mask)
    for name in ('results.json', 'last_checkpoint', 'experience_1.pth',
                 'accuracy_matrix.png'):
        mode = stat.S_IMODE(os.stat(tmp_path / name).st_mode)
        assert mode == 0o666 & ~mask, (name, oct(mode))


def test_plots_per_experience_on_request(tmp_path, monkeypatch):
    import clbox.engine.hooks.results as results_hook
    calls = []
    monkeypatch.setattr(results_hook, 'plot_accuracy_curve',
                        lambda matrix, path: calls.append(len(matrix)))
    cfg = tiny_cfg(tmp_path, num_experiences=2,
                   custom_hooks=[dict(type='ContinualResultsHook', plots='experience')])
    build_runner(cfg).train()
    assert calls == [1, 2]  # redrawn after each experience (the default: once, [2])
    with pytest.raises(ValueError, match="plots must be 'end', 'experience' or False"):
        results_hook.ContinualResultsHook(plots='sometimes')


def test_max_keep_ckpts_keeps_the_newest_and_resume_still_works(tmp_path):
    common = dict(default_hooks=dict(checkpoint=dict(interval=1, max_keep_ckpts=2)))
    full = tiny_cfg(tmp_path / 'full', num_experiences=3, epochs=2)
    build_runner(full).train()
    cfg = tiny_cfg(tmp_path / 'keep', num_experiences=3, epochs=2, **common)
    build_runner(cfg).train()
    kept = sorted(f for f in os.listdir(tmp_path / 'keep') if f.endswith('.pth'))
    # saves: e0_epoch_1, e0, e1_epoch_1, e1, e2_epoch_1, e2 -> the last two remain
    assert kept == ['experience_2.pth', 'experience_2_epoch_1.pth']
    # resume from what is kept reproduces the uninterrupted run
    os.remove(tmp_path / 'keep' / 'experience_2.pth')
    with open(tmp_path / 'keep' / 'last_checkpoint', 'w') as f:
        f.write(str(tmp_path / 'keep' / 'experience_2_epoch_1.pth'))
    build_runner(tiny_cfg(tmp_path / 'keep', num_experiences=3, epochs=2, resume=True,
                          **common)).train()
    assert results(tmp_path / 'keep')['accuracy_matrix'] == \
        results(tmp_path / 'full')['accuracy_matrix']
