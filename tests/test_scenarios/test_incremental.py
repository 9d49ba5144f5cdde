"""Class-, domain-, instance-incremental splits and the online stream."""
import numpy as np
import pytest

from clbox.registry import SCENARIOS
from clbox.scenarios import ArrayDataset, dataset_labels

DIGITS = dict(train=dict(type='Digits', split='train'), test=dict(type='Digits', split='test'))


def test_class_incremental_splits_train_and_test_by_the_same_classes():
    s = SCENARIOS.build(dict(type='ClassIncremental', num_experiences=5, **DIGITS))
    assert [e.classes for e in s.train_stream] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    for tr, te in zip(s.train_stream, s.test_stream):
        assert set(dataset_labels(tr.dataset)) == set(tr.classes)
        assert set(dataset_labels(te.dataset)) == set(tr.classes)
    assert sum(len(e) for e in s.train_stream) == len(s.train_stream[0].dataset.__class__(
        split='train'))
    assert s.num_classes == 10


def test_class_order_seeded_fixed_and_uneven():
    a = SCENARIOS.build(dict(type='ClassIncremental', num_experiences=2, shuffle=True,
                             seed=3, **DIGITS))
    b = SCENARIOS.build(dict(type='ClassIncremental', num_experiences=2, shuffle=True,
                             seed=3, **DIGITS))
    assert a.class_order == b.class_order and a.class_order != list(range(10))
    c = SCENARIOS.build(dict(type='ClassIncremental', classes_per_experience=[6, 2, 2],
                             class_order=[9, 8, 7, 6, 5, 4, 3, 2, 1, 0], task_labels=True,
                             **DIGITS))
    assert [e.classes for e in c.train_stream] == [(9, 8, 7, 6, 5, 4), (3, 2), (1, 0)]
    assert [e.task_label for e in c.train_stream] == [0, 1, 2]
    with pytest.raises(ValueError, match='permutation'):
        SCENARIOS.build(dict(type='ClassIncremental', num_experiences=2,
                             class_order=[0, 1], **DIGITS))


def _domains():
    rng = np.random.RandomState(0)
    images = rng.randint(0, 255, (30, 4, 4), dtype=np.uint8)
    labels = np.arange(30) % 3
    ds = ArrayDataset(images, labels)
    domain = np.repeat(['b', 'a', 'c'], 10)
    for info, d in zip(ds.data_list, domain):
        info['domain'] = str(d)
    return ds


def test_domain_incremental_by_key_and_by_list():
    ds = _domains()
    s = SCENARIOS.build(dict(type='DomainIncremental', train=ds, test=ds, key='domain',
                             order=['b', 'a', 'c']))
    assert [e.meta['domain'] for e in s.train_stream] == ['b', 'a', 'c']
    assert [len(e) for e in s.train_stream] == [10, 10, 10]
    assert all(e.classes == (0, 1, 2) for e in s.train_stream)
    s2 = SCENARIOS.build(dict(type='DomainIncremental', train=[ds, ds], test=[ds, ds]))
    assert len(s2.train_stream) == 2 and len(s2.test_stream) == 2


def test_instance_incremental_random_parts_and_single_test():
    s = SCENARIOS.build(dict(type='InstanceIncremental', num_experiences=4, **DIGITS))
    sizes = [len(e) for e in s.train_stream]
    assert max(sizes) - min(sizes) <= 1 and len(s.test_stream) == 1
    idx = [set(int(d['array_idx']) for d in e.dataset.data_list) for e in s.train_stream]
    assert sum(len(i) for i in idx) == len(set().union(*idx))  # disjoint parts


def test_online_stream_wraps_any_scenario():
    s = SCENARIOS.build(dict(type='OnlineStream', batch_size=7, boundaries='hidden',
                             scenario=dict(type='ClassIncremental', num_experiences=2,
                                           **DIGITS)))
    assert s.batch_size == 7 and s.boundaries == 'hidden' and len(s.train_stream) == 2
    with pytest.raises(ValueError, match='boundaries'):
        SCENARIOS.build(dict(type='OnlineStream', boundaries='maybe', scenario=s.scenario))


def test_subsets_share_pixels_and_keep_images_matched_to_labels():
    s = SCENARIOS.build(dict(type='ClassIncremental', num_experiences=5, **DIGITS))
    full = s.train_stream[0].dataset
    from clbox.scenarios import Digits
    whole = Digits(split='train')
    for exp in s.train_stream:
        ds = exp.dataset
        assert ds._images is full._images
        for i in (0, len(ds) - 1):
            info = ds.get_data_info(i)
            j = info['array_idx']
            assert np.array_equal(info['img'], whole.get_data_info(j)['img'])
            assert info['gt_label'] == whole.get_data_info(j)['gt_label']
