"""Registries: clbox first, then mmengine, mmpretrain, mmseg, mmcv; close-match errors."""
import pytest

from clbox.registry import BUFFERS, MODELS, SCENARIOS, TRANSFORMS


def test_clbox_types_resolve_without_imports():
    assert MODELS.get('ER').__module__ == 'clbox.algorithms.er'
    assert SCENARIOS.get('ClassIncremental').__name__ == 'ClassIncremental'
    assert BUFFERS.get('ClassBalancedBuffer').__name__ == 'ClassBalancedBuffer'


@pytest.mark.parametrize('registry,name,module', [
    (MODELS, 'ImageClassifier', 'mmpretrain'),
    (MODELS, 'ResNet_CIFAR', 'mmpretrain'),
    (MODELS, 'ClsDataPreprocessor', 'mmpretrain'),
    (MODELS, 'ASPPHead', 'mmseg'),
    (MODELS, 'EncoderDecoder', 'mmseg'),
    (MODELS, 'mmseg.CrossEntropyLoss', 'mmseg'),
    (MODELS, 'CrossEntropyLoss', 'mmpretrain'),  # first fallback scope wins a clash
    (TRANSFORMS, 'PackInputs', 'mmpretrain'),
    (TRANSFORMS, 'PackSegInputs', 'mmseg'),
    (TRANSFORMS, 'LoadImageFromFile', 'mmcv'),
])
def test_upstream_types_resolve(registry, name, module):
    assert registry.get(name).__module__.startswith(module)


def test_unknown_type_raises_with_close_matches():
    with pytest.raises(KeyError, match='Close matches: ResNet'):
        MODELS.build(dict(type='ResNett', depth=18))
    assert 'ResNett' not in MODELS and 'ResNet' in MODELS


def test_upstream_model_builds_inside_clbox_scope():
    model = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1, base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=64)))
    assert model.head.num_classes == 3
