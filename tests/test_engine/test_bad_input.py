"""Every bad input stops with an error that names the thing and the fix; nothing written
before is lost."""
import os.path as osp

import pytest
import torch

from clbox.algorithms import Naive, NonFiniteLossError
from clbox.engine import IncompatibleCheckpointError
from clbox.registry import MODELS
from helpers import build_runner, results, tiny_cfg


def test_unknown_type_lists_close_matches(tmp_path):
    cfg = tiny_cfg(tmp_path, dict(type='ERR'))
    with pytest.raises(KeyError, match=r"'ERR'.*Close matches: .*\bER\b"):
        build_runner(cfg)


def test_missing_data_root_names_the_folder(tmp_path):
    cfg = tiny_cfg(tmp_path)
    cfg.scenario.train = dict(type='FashionMNIST', data_root=str(tmp_path / 'nope'))
    cfg.scenario.test = dict(type='FashionMNIST', data_root=str(tmp_path / 'nope'),
                             split='test')
    runner = build_runner(cfg)
    with pytest.raises(FileNotFoundError, match='nope.*dataset-fashion-mnist'):
        runner.train()


def test_class_ids_outside_num_classes(tmp_path):
    cfg = tiny_cfg(tmp_path)
    cfg.model.model.head.num_classes = 6
    with pytest.raises(ValueError, match='num_classes=10'):
        build_runner(cfg).train()
    cfg = tiny_cfg(tmp_path / 'b', **{'scenario.num_classes': 5})
    with pytest.raises(ValueError, match=r'class id \d+ outside \[0, 5\).*at least 10'):
        build_runner(cfg).train()


def test_incompatible_checkpoint_names_the_tensor(tmp_path):
    build_runner(tiny_cfg(tmp_path / 'a', num_experiences=2)).train()
    cfg = tiny_cfg(tmp_path / 'b', num_experiences=2,
                   load_from=str(tmp_path / 'a' / 'experience_1.pth'))
    cfg.model.model.head.num_classes = 12
    with pytest.raises(IncompatibleCheckpointError, match=r'head\.fc\.weight.*\(10, 64\).*\(12, 64\)'):
        build_runner(cfg).train()
    cfg = tiny_cfg(tmp_path / 'c', load_from=str(tmp_path / 'missing.pth'))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        build_runner(cfg).train()


@MODELS.register_module(force=True)
class _NaNAtExperience1(Naive):
    """Naive whose loss turns NaN during experience 1."""

    def loss(self, inputs, data_samples):
        losses = super().loss(inputs, data_samples)
        if self.experience_index == 1:
            losses = {k: v * float('nan') for k, v in losses.items()}
        return losses


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    cfg = tiny_cfg(tmp_path, dict(type='_NaNAtExperience1'))
    with pytest.raises(NonFiniteLossError, match=r'nan.*experience 1, epoch 0, iteration 0'):
        build_runner(cfg).train()
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read().endswith('experience_0.pth')
    ckpt = torch.load(tmp_path / 'experience_0.pth')
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values()
               if isinstance(v, torch.Tensor) and v.is_floating_point())
    assert not osp.exists(tmp_path / 'experience_1.pth')
    assert len(results(tmp_path)['accuracy_matrix']) == 1


def test_unwritable_work_dir(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    with pytest.raises(PermissionError, match='not writable.*--work-dir'):
        build_runner(tiny_cfg(blocker / 'run'))


def test_resume_needs_a_clbox_checkpoint(tmp_path):
    build_runner(tiny_cfg(tmp_path / 'a', num_experiences=2)).train()
    ckpt = torch.load(tmp_path / 'a' / 'experience_0.pth')
    del ckpt['meta']['clbox']
    torch.save(ckpt, tmp_path / 'plain.pth')
    cfg = tiny_cfg(tmp_path / 'b', num_experiences=2, resume=True,
                   load_from=str(tmp_path / 'plain.pth'))
    with pytest.raises(IncompatibleCheckpointError, match='Use load_from'):
        build_runner(cfg).train()


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    runner = build_runner(tiny_cfg(tmp_path, num_experiences=2))
    runner.train()
    before = (tmp_path / 'experience_1.pth').read_bytes()

    def failing_save(*args, **kwargs):
        raise OSError(28, 'No space left on device')

    import mmengine.runner.runner as mm_runner
    monkeypatch.setattr(mm_runner, 'save_checkpoint', failing_save)
    with pytest.raises(OSError, match='(?i)no space left'):
        runner.save_checkpoint(str(tmp_path), 'experience_1.pth')
    assert (tmp_path / 'experience_1.pth').read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith('.tmp')]
