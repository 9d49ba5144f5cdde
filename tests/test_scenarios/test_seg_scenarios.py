"""The MiB/PLOP protocol on a miniature VOC: class sets, kept images, background mapping."""
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from clbox.scenarios import SyntheticSegIncremental, VOCSegIncremental
from clbox.scenarios.seg_tasks import ADE_TASKS, VOC_TASKS, parse_task
from fixtures.voc import TRAIN, label_map, make_mini_voc


def names(exp):
    return sorted(osp.basename(s['img_path'])[:-4] for s in exp.dataset._samples)


def label_of(exp, name):
    i = names(exp).index(name)
    idx = [osp.basename(s['img_path'])[:-4] for s in exp.dataset._samples].index(name)
    assert i is not None
    return exp.dataset[idx]['data_samples'].gt_sem_seg.data.numpy()[0]


@pytest.fixture(scope='module')
def voc(tmp_path_factory):
    return make_mini_voc(str(tmp_path_factory.mktemp('voc')))


def test_task_tables_are_partitions():
    for table in VOC_TASKS.values():
        parse_task(table, 21)
    for table in ADE_TASKS.values():
        parse_task(table, 151)
    assert VOC_TASKS['15-1'] == VOC_TASKS['15-5s']
    assert len(VOC_TASKS['10-1']) == 11 and VOC_TASKS['10-1'][10] == [20]
    assert [len(v) for v in ADE_TASKS['100-10'].values()] == [101] + [10] * 5
    assert [len(v) for v in ADE_TASKS['100-5'].values()] == [101] + [5] * 10
    assert [len(v) for v in ADE_TASKS['50b'].values()] == [51, 50, 50]
    with pytest.raises(ValueError, match='unknown segmentation task'):
        parse_task('15x5', 21, VOC_TASKS)


def test_overlapped_15_5_keeps_every_image_with_a_new_class(voc):
    sc = VOCSegIncremental(voc, task='15-5', overlap=True)
    assert [e.classes for e in sc.train_stream] == [tuple(range(16)), (16, 17, 18, 19, 20)]
    assert names(sc.train_stream[0]) == sorted(['base_only', 'base_and_16', 'c5_c18',
                                                'c3_c15'])
    assert names(sc.train_stream[1]) == sorted(['base_and_16', 'only_16', 'c17_c20',
                                                'c5_c18', 'only_20'])


def test_disjoint_15_5_drops_images_with_future_classes(voc):
    sc = VOCSegIncremental(voc, task='15-5', overlap=False)
    assert names(sc.train_stream[0]) == sorted(['base_only', 'c3_c15'])
    assert names(sc.train_stream[1]) == sorted(['base_and_16', 'only_16', 'c17_c20',
                                                'c5_c18', 'only_20'])


def test_old_and_future_pixels_become_background_and_255_stays(voc):
    sc = VOCSegIncremental(voc, task='15-5', overlap=True)
    raw = label_map(TRAIN['base_and_16'])
    step1 = label_of(sc.train_stream[1], 'base_and_16')
    assert (step1[raw == 1] == 0).all() and (step1[raw == 16] == 16).all()
    assert (step1[raw == 255] == 255).all() and (step1[raw == 0] == 0).all()
    raw = label_map(TRAIN['c5_c18'])
    step0 = label_of(sc.train_stream[0], 'c5_c18')
    assert (step0[raw == 18] == 0).all() and (step0[raw == 5] == 5).all()


def test_15_1_steps_and_test_stream(voc):
    sc = VOCSegIncremental(voc, task='15-1', overlap=True)
    assert len(sc.train_stream) == 6 and sc.train_stream[1].classes == (16,)
    assert names(sc.train_stream[5]) == sorted(['c17_c20', 'only_20'])
    # test experience t: validation images with a class of step t, labels untouched
    assert names(sc.test_stream[0]) == sorted(['v_base', 'v_2_19'])
    assert names(sc.test_stream[1]) == ['v_16']
    assert names(sc.test_stream[4]) == ['v_2_19']
    lab = label_of(sc.test_stream[4], 'v_2_19')
    assert (lab[label_map([2, 19]) == 19] == 19).all()


def test_custom_class_order_remaps_to_step_order(voc):
    order = {0: [0] + list(range(2, 21)), 1: [1]}
    sc = VOCSegIncremental(voc, task=order, overlap=True)
    assert sc.train_stream[1].classes == (20,)
    lab = label_of(sc.train_stream[1], 'base_only')
    assert (lab[label_map([1]) == 1] == 20).all()
    lab = label_of(sc.train_stream[0], 'c3_c15')
    assert (lab[label_map([3, 15]) == 3] == 2).all()


def test_label_outside_task_is_a_clear_error(tmp_path):
    root = make_mini_voc(str(tmp_path), train={'bad': [30]}, val={'v': [1]})
    with pytest.raises(ValueError, match=r'bad\.png: label ids \[30\] are outside'):
        VOCSegIncremental(root, task='15-5')


def test_size_mismatch_is_a_clear_error(tmp_path):
    root = make_mini_voc(str(tmp_path))
    Image.fromarray(np.zeros((5, 7), np.uint8)).save(
        osp.join(root, 'SegmentationClassAug', 'only_16.png'))
    with pytest.raises(ValueError, match='only_16.png: label map is'):
        VOCSegIncremental(root, task='15-5')


def test_missing_split_list_is_a_clear_error(tmp_path):
    root = make_mini_voc(str(tmp_path), split_lists=False)
    with pytest.raises(FileNotFoundError, match='train_aug.txt not found'):
        VOCSegIncremental(root, task='15-5')


def test_synthetic_set_is_seeded_and_protocol_shaped(tmp_path):
    a = SyntheticSegIncremental(task='2-2', data_root=str(tmp_path / 'a'), num_train=16,
                                num_test=8)
    b = SyntheticSegIncremental(task='2-2', data_root=str(tmp_path / 'b'), num_train=16,
                                num_test=8)
    assert [e.classes for e in a.train_stream] == [(0, 1, 2), (3, 4)]
    la = np.asarray(Image.open(a.train_stream[1].dataset._samples[0]['seg_map_path']))
    lb = np.asarray(Image.open(b.train_stream[1].dataset._samples[0]['seg_map_path']))
    assert (la == lb).all() and set(np.unique(la)) <= {0, 1, 2, 3, 4, 255}
    sample = a.train_stream[1].dataset[0]['data_samples'].gt_sem_seg.data
    assert set(sample.unique().tolist()) <= {0, 3, 4, 255}
