"""The MLP backbone: flattening, widths, dropout, errors, and use in an ImageClassifier."""
import pytest
import torch

from clbox.models.backbones import MLP
from clbox.registry import MODELS


def test_mlp_flattens_and_returns_the_last_hidden_layer():
    mlp = MLP(in_channels=784, hidden_channels=[400, 300])
    out = mlp(torch.randn(5, 1, 28, 28))
    assert isinstance(out, tuple) and len(out) == 1
    assert out[0].shape == (5, 300) and (out[0] >= 0).all()  # after a ReLU
    assert mlp.out_channels == 300
    assert [type(m).__name__ for m in mlp.layers] == ['Linear', 'ReLU', 'Linear', 'ReLU']


def test_mlp_dropout_is_optional():
    mlp = MLP(in_channels=12, hidden_channels=[8], dropout=0.5)
    assert [type(m).__name__ for m in mlp.layers] == ['Linear', 'ReLU', 'Dropout']
    mlp.eval()
    x = torch.randn(3, 12)
    assert torch.equal(mlp(x)[0], mlp(x)[0])  # no dropout in eval mode


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_channels=0), 'positive'),
    (dict(in_channels=4, hidden_channels=[]), 'hidden'),
    (dict(in_channels=4, hidden_channels=[8, 0]), 'hidden'),
    (dict(in_channels=4, dropout=1.0), 'dropout'),
])
def test_mlp_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(**kwargs)


def test_mlp_names_the_size_it_expects():
    with pytest.raises(ValueError, match='expects 784 input values per sample, got 1024'):
        MLP(in_channels=784)(torch.randn(2, 1, 32, 32))


def test_mlp_classifier_from_registry():
    model = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='MLP', in_channels=784, hidden_channels=[400, 400]),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=400, init_cfg=None)))
    model.init_weights()
    assert model(torch.randn(4, 1, 28, 28), mode='tensor').shape == (4, 10)
    n = sum(p.numel() for p in model.parameters())
    assert n == 784 * 400 + 400 + 400 * 400 + 400 + 400 * 10 + 10
