"""CLEAR's own released features (``<split>/features/<type>/features.json``) per bucket,
and the CLEAR-100 config on a CLEAR-100-format fixture."""
import json
import os.path as osp

import numpy as np
import pytest
import torch

from clbox.registry import SCENARIOS
from fixtures.clear import make_clear, make_clear100, make_release_features


@pytest.fixture(scope='module')
def mini(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('clear10-feat'))
    truth = make_clear(root, num_buckets=3, train_per_class=2, test_per_class=1)
    feats = make_release_features(root, dim=8)
    return root, truth, feats


class NotATensor:
    pass


def _build(root, **kw):
    return SCENARIOS.build(dict(type='CLEAR', dataset_root=root, feature_type='moco_b0',
                                **kw))


def _avalanche_loop(root, split, classes):
    """Avalanche 0.6 ``_CLEARFeature._load_metadata_new`` (clear.py:502-528): the lists
    start before the bucket loop, so bucket i's entry holds buckets 1..i."""
    folder = osp.join(root, split)
    with open(osp.join(folder, 'features', 'moco_b0', 'features.json')) as f:
        metadata = json.load(f)
    per_bucket, tensors = [], []
    for bucket, data in metadata.items():
        for name in classes:
            tensors += list(torch.load(osp.join(folder, data[name]),
                                       weights_only=True).values())
        per_bucket.append((bucket, list(tensors)))
    return dict(per_bucket)


def test_release_features_are_read_per_bucket(mini):
    root, truth, feats = mini
    scenario = _build(root)  # default source: the release's, since features.json exists
    assert scenario.feature_source == 'release'
    for exp, b in zip(scenario.train_stream, scenario.buckets):
        rows = exp.dataset.data_list
        rel = sorted(osp.relpath(d['img_path'], root) for d in rows)
        assert rel == sorted(p for p, (bb, _) in truth['train'].items() if bb == b)
        for d in rows:
            key = osp.relpath(d['img_path'], root)
            np.testing.assert_array_equal(d['feat'], feats[key])
            assert d['gt_label'] == truth['train'][key][1]
    for exp, b in zip(scenario.test_stream, scenario.buckets):
        rel = sorted(osp.relpath(d['img_path'], root) for d in exp.dataset.data_list)
        assert rel == sorted(p for p, (bb, _) in truth['test'].items() if bb == b)
    sample = scenario.train_stream[0].dataset[0]
    assert tuple(sample['inputs'].shape) == (8,)
    # bucket 2 holds only its own 22 features; Avalanche's loop gives it buckets 1 and 2
    ava = _avalanche_loop(root, 'train', scenario.class_names)
    own = {tuple(d['feat']) for d in scenario.train_stream[1].dataset.data_list}
    first = {tuple(d['feat']) for d in scenario.train_stream[0].dataset.data_list}
    assert len(own) == 22 and not own & first
    assert len(ava['2']) == 44 and first <= {tuple(t.numpy()) for t in ava['2']}


def test_release_features_iid(mini):
    root, truth, feats = mini
    scenario = _build(root, evaluation_protocol='iid')
    for exp in scenario.train_stream + scenario.test_stream:
        for d in exp.dataset.data_list:
            np.testing.assert_array_equal(d['feat'], feats[osp.relpath(d['img_path'], root)])
    assert scenario.bucket_records()


def test_release_features_errors(tmp_path):
    root = str(tmp_path / 'c')
    make_clear(root, num_buckets=1, train_per_class=1, test_per_class=1, num_classes=2)
    with pytest.raises(FileNotFoundError, match='features.json'):
        _build(root, feature_source='release')
    with pytest.raises(ValueError, match='feature_source'):
        _build(root, feature_source='bogus')
    make_release_features(root, dim=4)
    bad = osp.join(root, 'train', 'features', 'moco_b0', '1', 'baseball.pth')
    torch.save({'1001': NotATensor()}, bad)  # a pickle weights_only refuses
    with pytest.raises(ValueError, match='baseball.pth.*weights-only'):
        _build(root)
    torch.save(dict(a=[1, 2]), bad)
    with pytest.raises(ValueError, match='baseball.pth.*image id -> tensor'):
        _build(root)
    torch.save({'999999': torch.zeros(4)}, bad)
    with pytest.raises(KeyError, match='baseball.pth'):
        _build(root)
    with open(osp.join(root, 'train', 'features', 'moco_b0', 'features.json'), 'w') as f:
        json.dump({'1': ['oops']}, f)
    with pytest.raises(ValueError, match='features.json'):
        _build(root)
