"""CORe50 read from a generated miniature in the official layout."""
import os
import os.path as osp

import numpy as np
import pytest

from clbox.registry import SCENARIOS
from fixtures.core50 import NICV2_BATCHES, OBJECTS, TEST_SESSIONS, make_core50


@pytest.fixture(scope='module')
def core50_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('core50'))
    return root, make_core50(root)


def _snapshot(root):
    return sorted((p, os.path.getmtime(osp.join(p, f)))
                  for p, _, files in os.walk(root) for f in files)


def test_nicv2_batches_follow_the_lists(core50_root):
    root, lists = core50_root
    before = _snapshot(root)
    scenario = SCENARIOS.build(dict(type='CORe50', data_root=root, scenario='NICv2-391',
                                    run=0, num_batches=len(NICV2_BATCHES)))
    assert len(scenario.train_stream) == len(NICV2_BATCHES)
    assert scenario.num_classes == 50
    for i, exp in enumerate(scenario.train_stream):
        rows = lists[f'nicv2_391/{i}']
        paths = [d['img_path'] for d in exp.dataset.data_list]
        assert paths == [osp.join(root, 'core50_128x128', r) for r, _ in rows]
        assert exp.dataset.get_gt_labels().tolist() == [label for _, label in rows]
        assert exp.classes == tuple(sorted({o - 1 for _, o in NICV2_BATCHES[i]}))
    assert scenario.train_stream[3].meta['sessions'] == [1]
    test = scenario.test_stream[0].dataset
    assert sorted({d['session'] for d in test.data_list}) == list(TEST_SESSIONS)
    assert len(test) == len(lists['test'])
    assert _snapshot(root) == before, 'the data root must never be written'


def test_images_load_through_mmpretrain_pipeline(core50_root):
    root, _ = core50_root
    scenario = SCENARIOS.build(dict(type='CORe50', data_root=root, num_batches=1))
    sample = scenario.train_stream[0].dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 8, 8)
    assert int(sample['data_samples'].gt_label) == 0


def test_category_level_uses_object_folder(core50_root):
    root, _ = core50_root
    nc = SCENARIOS.build(dict(type='CORe50', data_root=root, scenario='nc',
                              object_level=False, num_batches=2))
    # NC lists relabel objects (o11 -> 0), categories come from the folder: o11 -> 2
    first = nc.train_stream[0].dataset
    for info in first.data_list:
        assert info['gt_label'] == (info['object']) // 5
    assert nc.train_stream[0].classes == (0, 2)
    obj = SCENARIOS.build(dict(type='CORe50', data_root=root, scenario='nc', num_batches=2))
    assert obj.train_stream[0].classes == (0, 1)  # the list's own labels


def test_ni_scenario_and_test_sessions(core50_root):
    root, _ = core50_root
    ni = SCENARIOS.build(dict(type='CORe50', data_root=root, scenario='ni', num_batches=3))
    assert [e.meta['sessions'] for e in ni.train_stream] == [[1], [2], [4]]
    assert all(e.classes == tuple(o - 1 for o in OBJECTS) for e in ni.train_stream)


def test_missing_data_gives_clear_offline_error(tmp_path, core50_root):
    with pytest.raises(FileNotFoundError, match='never downloads'):
        SCENARIOS.build(dict(type='CORe50', data_root=str(tmp_path)))
    (tmp_path / 'core50_128x128').mkdir()
    with pytest.raises(FileNotFoundError, match='NIC_v2_79'):
        SCENARIOS.build(dict(type='CORe50', data_root=str(tmp_path), scenario='nicv2_79'))
    assert sorted(os.listdir(tmp_path)) == ['core50_128x128']
    root, _ = core50_root
    with pytest.raises(FileNotFoundError, match='train_batch_06'):
        SCENARIOS.build(dict(type='CORe50', data_root=root))  # the miniature has 6 batches


def test_bad_arguments(core50_root):
    root, _ = core50_root
    with pytest.raises(ValueError, match='unknown CORe50 scenario'):
        SCENARIOS.build(dict(type='CORe50', data_root=root, scenario='nicv3'))
    with pytest.raises(ValueError, match='runs 0-9'):
        SCENARIOS.build(dict(type='CORe50', data_root=root, run=10))


def test_test_stream_without_list_scans_sessions(tmp_path):
    make_core50(str(tmp_path))
    os.remove(tmp_path / 'NIC_v2_391' / 'run0' / 'test_filelist.txt')
    scenario = SCENARIOS.build(dict(type='CORe50', data_root=str(tmp_path), num_batches=2))
    test = scenario.test_stream[0].dataset
    assert sorted({d['session'] for d in test.data_list}) == list(TEST_SESSIONS)
    labels = np.array([d['gt_label'] for d in test.data_list])
    assert sorted(np.unique(labels).tolist()) == [o - 1 for o in OBJECTS]
