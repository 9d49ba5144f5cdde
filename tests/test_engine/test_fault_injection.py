"""Kill -9 a training process at a seeded random moment (after an iteration, or half-way
through writing a checkpoint), ``--resume`` until done, and compare with the
uninterrupted run: the accuracy matrix must be bit-identical.

One kill per method here (ER, LwF, EWC, AR1*, PI for segmentation);
``benchmarks/fault_injection.py --kills N`` draws many more moments.
"""
import os
import os.path as osp
import random
import textwrap

import pytest

from dist_helpers import read_json, train, write_config
from helpers import ROOT

DIGITS = osp.join(ROOT, 'configs/naive/naive_resnet18_1xb32-5e_digits-5exp.py')
AR1 = osp.join(ROOT, 'configs/ar1/ar1star_mobilenetv1-tiny_nicv2-391_core50.py')
SEG = osp.join(ROOT, 'configs/continual_seg/pi_deeplabv3-tiny_1xb16-4e_synthetic-2-2.py')

#: name -> (base config, config body, training iterations of the whole run)
METHODS = {
    'ER': (DIGITS, """
        model = dict(type='ER', buffer=dict(type='ReservoirBuffer', size=40),
                     model=dict(backbone=dict(stem_channels=8, base_channels=8),
                                head=dict(in_channels=64)))
        scenario = dict(num_experiences=3)
        train_cfg = dict(max_epochs=2)
        """),
    'LwF': (DIGITS, """
        model = dict(type='LwF', model=dict(backbone=dict(stem_channels=8, base_channels=8),
                                            head=dict(in_channels=64)))
        scenario = dict(num_experiences=3)
        train_cfg = dict(max_epochs=2)
        """),
    'EWC': (DIGITS, """
        model = dict(type='EWC', ewc_lambda=10.0,
                     model=dict(backbone=dict(stem_channels=8, base_channels=8),
                                head=dict(in_channels=64)))
        scenario = dict(num_experiences=3)
        train_cfg = dict(max_epochs=2)
        """),
    'AR1': (AR1, """
        scenario = dict(data_root={core50!r})
        train_cfg = dict(max_epochs=2)
        """),
    'PI': (SEG, """
        scenario = dict(num_train=24, num_test=8)
        train_cfg = dict(max_epochs=2)
        train_dataloader = dict(batch_size=4)
        """),
}


def config_text(name: str, core50: str, kill: str = '') -> str:
    base, body = METHODS[name]
    hooks = "[dict(type='ContinualResultsHook')" + (f', {kill}' if kill else '') + ']'
    return textwrap.dedent(f"""
    _base_ = [{base!r}]
    custom_imports = dict(imports=['_dist_test_hooks'], allow_failed_imports=False)
    default_hooks = dict(logger=dict(interval=1000), checkpoint=dict(interval=1))
    custom_hooks = {hooks}
    """) + textwrap.dedent(body.format(core50=core50))


def iterations(work_dir) -> int:
    """Training iterations of a finished run (from its last checkpoint's loop state)."""
    from clbox.engine.checkpoint_io import read_checkpoint
    with open(osp.join(str(work_dir), 'last_checkpoint')) as f:
        ckpt = read_checkpoint(f.read().strip())
    return int(ckpt['meta']['clbox']['iter'])


def kill_and_resume(root, name: str, core50: str, iteration: int, during_save: bool):
    folder = root / f'killed-{iteration}-{int(during_save)}'
    kill = f'dict(type="KillAtHook", iteration={iteration}, during_save={during_save})'
    killed = write_config(folder, 'kill.py', config_text(name, core50, kill))
    proc = train(killed, '--work-dir', str(folder), check=False)
    assert proc.returncode != 0, 'the kill did not happen'
    resume = write_config(folder, 'resume.py', config_text(name, core50))
    train(resume, '--work-dir', str(folder), '--resume')
    assert not [f for f in os.listdir(folder) if f.endswith('.tmp')]
    assert not osp.exists(folder / '.clbox.lock')
    return read_json(folder, 'results.json')


@pytest.fixture(scope='module')
def core50(tmp_path_factory):
    from fixtures.core50 import make_core50
    root = str(tmp_path_factory.mktemp('core50'))
    make_core50(root, frames=4, size=32)
    return root


@pytest.mark.parametrize('name', list(METHODS))
def test_kill_at_a_random_moment_then_resume_is_bit_identical(tmp_path, core50, name,
                                                              monkeypatch):
    monkeypatch.setenv('CLBOX_CACHE', str(tmp_path / 'cache'))
    full = write_config(tmp_path / 'full', 'cfg.py', config_text(name, core50))
    train(full, '--work-dir', str(tmp_path / 'full'))
    reference = read_json(tmp_path / 'full', 'results.json')
    rng = random.Random(f'clbox-fault-{name}')
    total = iterations(tmp_path / 'full')
    # a random iteration; every other method is killed half-way through a checkpoint write
    iteration, during_save = rng.randrange(0, total - 1), list(METHODS).index(name) % 2 == 1
    resumed = kill_and_resume(tmp_path, name, core50, iteration, during_save)
    assert resumed['accuracy_matrix'] == reference['accuracy_matrix'], (iteration,
                                                                        during_save)
    assert resumed['initial_accuracy'] == reference['initial_accuracy']
