"""Method state under 2 gloo ranks: importances computed from each rank's half of every
batch equal those of one process on the whole batches; buffers split the budget."""
import torch
from mmpretrain.structures import DataSample

from clbox.registry import BUFFERS, MODELS
from dist_helpers import run_in_ranks

MODEL = dict(type='ImageClassifier',
             data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=4, mean=[0.0],
                                    std=[1.0], to_rgb=False),
             backbone=dict(type='mmpretrain.LeNet5', num_classes=-1),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='LinearClsHead', num_classes=4, in_channels=120))


def _batches(rank=0, world_size=1):
    torch.manual_seed(1)
    x = torch.randn(3, 16, 1, 32, 32)
    y = torch.randint(0, 4, (3, 16))
    return [dict(inputs=xb[rank::world_size],
                 data_samples=[DataSample().set_gt_label(int(v)) for v in yb[rank::world_size]])
            for xb, yb in zip(x, y)]


def _fisher(rank, world_size):
    import clbox
    clbox.init_scope()
    torch.manual_seed(0)
    ewc = MODELS.build(dict(type='EWC', model=MODEL))
    return ewc.estimate_fisher(_batches(rank, world_size))


def test_ewc_fisher_is_the_global_batch_fisher():
    one = _fisher(0, 1)
    for two in run_in_ranks(_fisher):
        for name, value in one.items():
            assert torch.allclose(two[name], value, rtol=1e-4, atol=1e-10), name
    # squaring each rank's own half-batch gradient (no reduction) gives another Fisher
    half = _fisher(0, 2)  # one process, rank 0's halves only
    assert not all(torch.allclose(half[n], one[n], rtol=1e-2) for n in one)


def _buffer(rank, world_size):
    buf = BUFFERS.build(dict(type='ReservoirBuffer', size=101))
    buf.add(torch.full((300, 2), float(rank)), torch.zeros(300, dtype=torch.long))
    return buf.size, buf.total_size, len(buf)


def test_buffer_budget_is_split_over_ranks():
    shares = run_in_ranks(_buffer)
    assert [s[0] for s in shares] == [51, 50]
    assert all(s[1] == 101 for s in shares)
    assert sum(s[2] for s in shares) == 101
