"""An mmengine checkpoint saved mid-training resumes under torch's weights_only default."""
import io
import pickle

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

import clbox.compat  # noqa: F401


class _Toy(BaseModel):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.fc(torch.stack(inputs) if isinstance(inputs, list) else inputs)
        if mode == 'loss':
            return dict(loss=(out.squeeze(1) - torch.stack(labels)).pow(2).mean())
        return out


class _Data(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.tensor([float(i), 1.0]), labels=torch.tensor(float(i)))


def _runner(work_dir, epochs, resume=False):
    return Runner(model=_Toy(), work_dir=str(work_dir),
                  train_dataloader=dict(dataset=_Data(), batch_size=4,
                                        sampler=dict(type='DefaultSampler', shuffle=True)),
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.001)),
                  train_cfg=dict(by_epoch=True, max_epochs=epochs), resume=resume,
                  default_scope='mmengine', randomness=dict(seed=0),
                  experiment_name=f'toy-{epochs}-{resume}',
                  default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)))


def test_mmengine_checkpoint_resumes_with_weights_only_default(tmp_path):
    _runner(tmp_path, epochs=1).train()
    ckpt = torch.load(tmp_path / 'epoch_1.pth')  # weights_only=True by default
    assert isinstance(ckpt['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    runner = _runner(tmp_path, epochs=2, resume=True)
    runner.train()
    assert runner.epoch == 2


def test_getattr_is_limited_to_history_buffer_methods():
    class Sneaky:
        def __reduce__(self):
            return (getattr, (torch.Tensor, '__init__'))

    buf = io.BytesIO()
    torch.save({'x': Sneaky()}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match='only allows HistoryBuffer'):
        torch.load(buf)


def test_subsets_do_not_share_a_deep_copy_memo():
    """mmengine's _copy_without_annotation(memo=dict()) kept one memo per process: stale
    copies came back for new objects that reused a collected object's id."""
    import gc

    import numpy as np
    from mmengine.dataset import BaseDataset

    from clbox.scenarios import ArrayDataset
    from clbox.scenarios.base import subset
    assert BaseDataset._copy_without_annotation._clbox_fresh_memo
    for seed in range(30):
        data = ArrayDataset(np.full((6, 2, 2), seed, dtype=np.uint8), list(range(6)),
                            pipeline=[dict(type='PackInputs')])
        part = subset(data, [1, 2])
        assert part._images is data._images
        assert int(part[0]['inputs'].max()) == seed
        del data, part
        gc.collect()
