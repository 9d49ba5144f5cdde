"""CLEAR read natively from the public layout: right buckets, both protocols, clear errors."""
import json
import os
import os.path as osp
from collections import Counter

import numpy as np
import pytest

from clbox.registry import SCENARIOS
from clbox.scenarios.clear import CLEAR
from clbox.scenarios.clear_layout import CLEARLayoutError
from fixtures.clear import CLEAR10_CLASSES, make_clear, make_clear_filelists


@pytest.fixture(scope='module')
def mini(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('clear10'))
    truth = make_clear(root, num_buckets=3, train_per_class=3, test_per_class=2)
    return root, truth


def _rel(root, paths):
    return sorted(osp.relpath(p, root) for p in paths)


def _truth(truth, split, bucket):
    return sorted(p for p, (b, _) in truth[split].items() if b == bucket)


def _snapshot(root):
    return sorted((osp.relpath(osp.join(d, f), root), os.stat(osp.join(d, f)).st_mtime_ns)
                  for d, _, files in os.walk(root) for f in files) + \
        sorted(osp.relpath(d, root) for d, _, _ in os.walk(root))


def test_streaming_experience_holds_exactly_its_bucket(mini):
    root, truth = mini
    scenario = SCENARIOS.build(dict(type='CLEAR', dataset_root=root))
    assert scenario.buckets == ['1', '2', '3']
    assert scenario.extra_test_buckets == ['0']
    assert scenario.num_classes == 11 and scenario.class_names == list(CLEAR10_CLASSES)
    for bucket, (train, test) in scenario.bucket_records().items():
        # every image of the bucket, once, and nothing of another bucket (the Avalanche
        # 0.6 loader gives every bucket all images)
        assert _rel(root, train) == _truth(truth, 'train', bucket)
        assert _rel(root, test) == _truth(truth, 'test', bucket)
    exp = scenario.train_stream[1]
    labels = exp.dataset.get_gt_labels()
    expected = [truth['train'][osp.relpath(d['img_path'], root)][1]
                for d in exp.dataset.data_list]
    assert labels.tolist() == expected
    assert Counter(labels.tolist()) == {c: 3 for c in range(11)}
    assert exp.meta['bucket'] == '2' and exp.name == 'train/bucket-2'


def test_iid_is_a_seeded_stratified_split_within_each_bucket(mini):
    root, truth = mini
    a = SCENARIOS.build(dict(type='CLEAR', dataset_root=root, evaluation_protocol='iid',
                             seed=0))
    b = SCENARIOS.build(dict(type='CLEAR', dataset_root=root, evaluation_protocol='iid',
                             seed=0))
    c = SCENARIOS.build(dict(type='CLEAR', dataset_root=root, evaluation_protocol='iid',
                             seed=1))
    assert a.bucket_records() == b.bucket_records()
    assert a.bucket_records() != c.bucket_records()
    for bucket, (train, test) in a.bucket_records().items():
        train, test = _rel(root, train), _rel(root, test)
        assert not set(train) & set(test)
        # all labeled images of the bucket (train and test folders), none of another
        assert sorted(train + test) == sorted(_truth(truth, 'train', bucket) +
                                              _truth(truth, 'test', bucket))
        # 5 images per class: round(5 * 0.3) = 2 held out per class
        test_labels = Counter(truth['train'].get(p, truth['test'].get(p))[1] for p in test)
        assert test_labels == {c: 2 for c in range(11)}
    assert len(a.test_stream) == len(a.train_stream) == 3  # no extra bucket-0 experience


def test_pipelines_produce_model_inputs(mini):
    root, _ = mini
    pipeline = [dict(type='LoadImageFromFile'), dict(type='ResizeEdge', scale=8),
                dict(type='CenterCrop', crop_size=8), dict(type='PackInputs')]
    scenario = SCENARIOS.build(dict(type='CLEAR', dataset_root=root, buckets=['2'],
                                    train_pipeline=pipeline, test_pipeline=pipeline))
    assert scenario.num_experiences == 1
    sample = scenario.train_stream[0].dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 8, 8)
    assert sample['data_samples'].gt_label.item() == 0


def test_filelist_layout_of_the_neurips_archive(tmp_path):
    truth = make_clear_filelists(str(tmp_path), num_buckets=2, per_class=4)
    streaming = CLEAR(str(tmp_path))
    for bucket, (train, test) in streaming.bucket_records().items():
        expected = sorted(p for p, (b, _) in truth.items() if b == bucket)
        assert _rel(str(tmp_path), train) == expected == _rel(str(tmp_path), test)
    iid = CLEAR(str(tmp_path), evaluation_protocol='iid', seed=0)
    assert iid.split_dir.endswith(osp.join('testset_ratio_0.3', 'split_0'))
    for bucket, (train, test) in iid.bucket_records().items():
        expected = sorted(p for p, (b, _) in truth.items() if b == bucket)
        assert _rel(str(tmp_path), train) == expected[::2]
        assert _rel(str(tmp_path), test) == expected[1::2]


def test_reading_never_writes_into_the_root(mini):
    root, _ = mini
    before = _snapshot(root)
    for protocol in ('streaming', 'iid'):
        scenario = CLEAR(root, evaluation_protocol=protocol,
                         train_pipeline=[dict(type='LoadImageFromFile'),
                                         dict(type='PackInputs')])
        scenario.train_stream[0].dataset[0]
    assert _snapshot(root) == before


def test_missing_root_says_where_the_data_comes_from(tmp_path):
    with pytest.raises(CLEARLayoutError, match='does not exist.*never downloads.*clear-'):
        CLEAR(str(tmp_path / 'nowhere'))
    with pytest.raises(CLEARLayoutError, match='no labeled_metadata.json'):
        CLEAR(str(tmp_path))


@pytest.fixture
def fresh(tmp_path):
    root = str(tmp_path / 'clear10')
    make_clear(root, num_buckets=2, train_per_class=1, test_per_class=1, size=8)
    return root


def test_missing_class_metadata_file_is_named(fresh):
    os.remove(osp.join(fresh, 'train', 'labeled_metadata', '2', 'laptop.json'))
    with pytest.raises(CLEARLayoutError, match=r'class "laptop" in bucket 2.*laptop\.json'):
        CLEAR(fresh)


def test_missing_image_is_reported_with_its_path(fresh):
    victim = osp.join('train', 'labeled_images', '1', 'bus')
    name = os.listdir(osp.join(fresh, victim))[0]
    os.remove(osp.join(fresh, victim, name))
    with pytest.raises(CLEARLayoutError, match=f'1 image.*{name}.*re-extract'):
        CLEAR(fresh)


def test_malformed_metadata_is_reported(fresh):
    with open(osp.join(fresh, 'test', 'labeled_metadata.json'), 'w') as f:
        f.write('{"1": ')
    with pytest.raises(ValueError, match='not valid JSON'):
        CLEAR(fresh)
    with open(osp.join(fresh, 'test', 'labeled_metadata.json'), 'w') as f:
        json.dump({'1': {'bus': 'x.json'}}, f)
    with pytest.raises(ValueError, match='no entry for class'):
        CLEAR(fresh)


def test_corrupt_image_gives_a_clear_error(fresh):
    scenario = CLEAR(fresh, train_pipeline=[dict(type='LoadImageFromFile'),
                                            dict(type='PackInputs')])
    dataset = scenario.train_stream[0].dataset
    path = dataset.get_data_info(3)['img_path']
    with open(path, 'wb') as f:
        f.write(b'not a jpeg')
    dataset[2]  # its neighbours still load
    with pytest.raises(OSError, match=f'cannot read image "{path}".*corrupt'):
        dataset[3]


def test_bad_arguments(fresh):
    with pytest.raises(ValueError, match='evaluation_protocol'):
        CLEAR(fresh, evaluation_protocol='online')
    with pytest.raises(ValueError, match='data_name'):
        CLEAR(fresh, data_name='clear1000')
    with pytest.raises(ValueError, match=r"bucket\(s\) \['7'\]"):
        CLEAR(fresh, buckets=[7])
    with pytest.raises(FileNotFoundError, match='split list'):
        CLEAR(fresh, evaluation_protocol='iid', split_dir=osp.dirname(fresh))


def test_incomplete_test_split_is_reported(fresh):
    meta = osp.join(fresh, 'test', 'labeled_metadata.json')
    with open(meta) as f:
        index = json.load(f)
    del index['2']
    with open(meta, 'w') as f:
        json.dump(index, f)
    with pytest.raises(ValueError, match=r"bucket\(s\) \['2'\] have no test images"):
        CLEAR(fresh)
    assert np.array_equal(CLEAR(fresh, buckets=['1']).test_stream[0].dataset.get_gt_labels(),
                          np.arange(11))
