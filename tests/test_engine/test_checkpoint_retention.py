"""Checkpoint retention: ``default_hooks.checkpoint.max_keep_ckpts=N`` keeps the newest N
``experience_*.pth`` files (as mmengine's ``CheckpointHook``), never the one just written,
the ``last_checkpoint`` target, later stream positions or other files, and ``--resume``
still works from what is kept."""
import os

import pytest

from clbox.engine.hooks.checkpoint import (ExperienceCheckpointHook, prune_checkpoints,
                                           stream_checkpoints, stream_position)
from helpers import build_runner, results, tiny_cfg

KEEP = dict(default_hooks=dict(checkpoint=dict(max_keep_ckpts=2)))


def _pth(folder):
    return sorted(f for f in os.listdir(folder) if f.endswith('.pth'))


def test_five_experiences_keep_the_last_two_and_resume_works(tmp_path):
    full = tiny_cfg(tmp_path / 'full', num_experiences=5)
    build_runner(full).train()
    assert len(_pth(tmp_path / 'full')) == 5  # the default keeps all
    work = tmp_path / 'keep'
    build_runner(tiny_cfg(work, num_experiences=5, **KEEP)).train()
    assert _pth(work) == ['experience_3.pth', 'experience_4.pth']
    with open(work / 'last_checkpoint') as f:
        assert f.read().strip() == str(work / 'experience_4.pth')
    assert not [f for f in os.listdir(work) if f.endswith('.tmp')]
    # the run dies during experience 4: resume from the older of the two kept files
    os.remove(work / 'experience_4.pth')
    with open(work / 'last_checkpoint', 'w') as f:
        f.write(str(work / 'experience_3.pth'))
    build_runner(tiny_cfg(work, num_experiences=5, resume=True, **KEEP)).train()
    assert _pth(work) == ['experience_3.pth', 'experience_4.pth']
    assert results(work)['accuracy_matrix'] == results(tmp_path / 'full')['accuracy_matrix']


def _touch(folder, *names):
    for name in names:
        (folder / name).write_bytes(b'x')


def test_prune_spares_the_saved_file_the_pointer_target_later_files_and_others(tmp_path):
    _touch(tmp_path, 'experience_0.pth', 'experience_1_epoch_1.pth', 'experience_1.pth',
           'experience_2.pth', 'experience_7.pth', 'checkpoint_0000.0500.pth',
           'best_experience_0.pth', '.experience_3.pth.123.abcd1234.tmp')
    # last_checkpoint names an old file (e.g. a resume started from it)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'experience_0.pth'))
    saved = str(tmp_path / 'experience_2.pth')
    removed = prune_checkpoints(str(tmp_path), saved, keep=1)
    assert sorted(os.path.basename(p) for p in removed) == ['experience_1.pth',
                                                           'experience_1_epoch_1.pth']
    assert sorted(os.listdir(tmp_path)) == sorted([
        '.experience_3.pth.123.abcd1234.tmp', 'best_experience_0.pth',
        'checkpoint_0000.0500.pth', 'experience_0.pth', 'experience_2.pth',
        'experience_7.pth', 'last_checkpoint'])
    # a file that vanished meanwhile is not an error
    assert prune_checkpoints(str(tmp_path), saved, keep=1) == []


def test_stream_order_puts_an_experience_end_after_its_epochs(tmp_path):
    _touch(tmp_path, 'experience_10.pth', 'experience_2.pth', 'experience_2_epoch_3.pth',
           'experience_2_epoch_10.pth')
    assert [os.path.basename(p) for p in stream_checkpoints(str(tmp_path))] == [
        'experience_2_epoch_3.pth', 'experience_2_epoch_10.pth', 'experience_2.pth',
        'experience_10.pth']
    assert stream_position('/a/experience_4.pth') == (4, float('inf'))
    assert stream_position('/a/best_experience_4.pth') is None
    assert stream_position('/a/experience_4.pth.tmp') is None


@pytest.mark.parametrize('bad', [1.5, '2', True, None])
def test_bad_max_keep_ckpts_is_named(bad):
    with pytest.raises(ValueError, match='max_keep_ckpts must be an int'):
        ExperienceCheckpointHook(max_keep_ckpts=bad)
