"""The SODA10M reader of SSLAD Track 3A against the starter kit's rules (VerwimpEli/
SSLAD_Track_3 track3A, haitain_classification.py; ../shared/specs/sslad-3a.md sec. 1),
on a fixture in the real layout (1920 x 1080 JPEGs, instance_{split}.json)."""
import datetime
import json
import os
import sys

import numpy as np
import pytest
from PIL import Image

from clbox.scenarios.soda10m import (SODA10M, chronological_order, correct_image_fields,
                                     keep_object, square_crop)
from helpers import ROOT


def _reference_box(bbox):
    """_rescale_bbox, written out: (yb, ye, xb, xe)."""
    x, y, w, h = bbox
    s = max(w, h) // 2 + 5
    s = 539 if s > 539 else s
    cx, cy = x + w // 2, y + h // 2
    xb, xe, yb, ye = cx - s, cx + s, cy - s, cy + s
    if xb < 0:
        xe, xb = xe - xb, 0
    if xe >= 1920:
        xb, xe = xb - (xe - 1919), 1919
    if yb < 0:
        ye, yb = ye - yb, 0
    if ye >= 1080:
        yb, ye = yb - (ye - 1079), 1079
    return yb, ye, xb, xe


def test_square_crop_is_the_kits():
    rng = np.random.RandomState(0)
    boxes = [[0, 0, 40, 30], [1900, 1060, 20, 20], [5, 1000, 300, 79], [900, 400, 1500, 1000],
             [1919, 0, 1, 1], [100, 100, 33, 64]]
    boxes += [[int(rng.randint(0, 1900)), int(rng.randint(0, 1060)), int(rng.randint(1, 600)),
               int(rng.randint(1, 400))] for _ in range(200)]
    for box in boxes:
        x0, y0, x1, y1 = square_crop(box)
        assert (y0, y1, x0, x1) == _reference_box(box), box
        assert x1 - x0 == y1 - y0 and 0 <= x0 and 0 <= y0 and x1 <= 1919 and y1 <= 1079


def test_object_filter_and_field_fixes():
    assert keep_object(dict(area=1024, occluded=1))
    assert not keep_object(dict(area=1023, occluded=1))
    assert not keep_object(dict(area=5000, occluded=0))
    assert keep_object(dict(area=5000, occluded=0), remove_occluded=False)
    train = [dict(time=t, date=d) for t, d in [('145960', '201810152'), (' 13:00', '50181015'),
                                              ('102360', '20181015'), ('120000', '20181016')]]
    correct_image_fields(train, 'train')
    assert [(i['time'], i['date']) for i in train] == [
        ('150000', '20181015'), ('130000', '20181015'), ('102400', '20181015'),
        ('120000', '20181016')]
    val = [dict(time=' 1111523 ', date=' 20191111'), dict(time='13:00', date='20191117')]
    correct_image_fields(val, 'val')
    assert [(i['time'], i['date']) for i in val] == [('111152', '20191111'),
                                                     ('13:00', '20191117')]


def test_chronological_order_compares_ids_as_strings_and_is_stable():
    t = datetime.datetime(2019, 11, 11, 10, 0, 0)
    later = t + datetime.timedelta(seconds=1)
    entries = [dict(timestamp=later, video_id='2', seq_id='1', n=0),
               dict(timestamp=t, video_id='10', seq_id='5', n=1),
               dict(timestamp=t, video_id='9', seq_id='1', n=2),    # '10' < '9' as strings
               dict(timestamp=t, video_id='10', seq_id='5', n=3),   # same image: kept order
               dict(timestamp=t, video_id='10', seq_id='12', n=4)]  # '12' < '5'
    order = chronological_order(entries)
    assert [entries[i]['n'] for i in order] == [4, 1, 3, 2, 0]


def _write_fixture(root, split='val'):
    """Two 1920 x 1080 JPEGs and five objects: one too small, one occluded == 0."""
    os.makedirs(root / 'annotations', exist_ok=True)
    os.makedirs(root / split / 'sub', exist_ok=True)
    rng = np.random.RandomState(1)
    images = []
    for k in range(2):
        array = rng.randint(0, 256, (1080, 1920, 3)).astype(np.uint8)
        Image.fromarray(array).save(root / split / 'sub' / f'img{k}.jpg', quality=95)
        images.append(dict(id=k + 1, file_name=f'sub/img{k}.jpg',
                           file_name_old=f'HT_TRAIN_{k:06d}_SH_0{k + 3}.jpg',
                           date=' 20191111' if k else '20191111', time='101010' if k else
                           ' 1111523', period='Daytime', weather='Clear', city='Shanghai',
                           location='Citystreet'))
    anns = [dict(id=11, image_id=1, category_id=3, bbox=[100, 200, 64, 40], area=2560,
                 occluded=1),
            dict(id=12, image_id=1, category_id=1, bbox=[1890, 1050, 30, 30], area=900,
                 occluded=1),                                          # too small
            dict(id=13, image_id=2, category_id=6, bbox=[0, 0, 50, 80], area=4000,
                 occluded=0),                                          # occluded == 0
            dict(id=14, image_id=2, category_id=2, bbox=[1800, 1000, 120, 80], area=9600,
                 occluded=2),
            dict(id=15, image_id=1, category_id=4, bbox=[500, 500, 700, 600], area=420000,
                 occluded=1)]
    with open(root / 'annotations' / f'instance_{split}.json', 'w') as f:
        json.dump(dict(images=images, annotations=anns, categories=[]), f)
    return images, anns


def test_reader_on_the_real_layout_and_the_crop_cache(tmp_path):
    root = tmp_path / 'SSLAD-2D' / 'labeled'
    _, anns = _write_fixture(root)
    ds = SODA10M(data_root=str(root), split='val')
    assert [d['obj_id'] for d in ds.data_list] == [11, 14, 15]
    assert ds.get_gt_labels().tolist() == [3, 2, 4]
    info = ds.get_data_info(1)
    assert info['img'].shape == (64, 64, 3) and info['img'].dtype == np.uint8
    assert (info['video_id'], info['seq_id']) == ('000001', '04')
    assert info['time'] == '101010' and ds.get_data_info(0)['time'] == '111152'
    # the crop: the kit's square of the RGB image, PIL's default resize
    x0, y0, x1, y1 = square_crop(anns[3]['bbox'])
    with Image.open(root / 'val' / 'sub' / 'img1.jpg') as img:
        expected = np.asarray(img.convert('RGB').crop((x0, y0, x1, y1)).resize((64, 64)))
    np.testing.assert_array_equal(info['img'], expected)

    sys.path.insert(0, os.path.join(ROOT, 'tools', 'dataset_converters'))
    from soda10m_crops import write_crops
    with pytest.raises(ValueError, match='inside the data root'):
        write_crops(str(root), str(root / 'cache'), ['val'])
    cache = tmp_path / 'crops'
    assert write_crops(str(root), str(cache), ['val']) == 3
    assert write_crops(str(root), str(cache), ['val']) == 0           # kept, not rewritten
    cached = SODA10M(data_root=str(root), split='val', cache_dir=str(cache))
    os.remove(root / 'val' / 'sub' / 'img1.jpg')                      # read from the cache
    np.testing.assert_array_equal(cached.get_data_info(1)['img'], expected)
    with pytest.raises(FileNotFoundError, match='img1.jpg'):
        ds.get_data_info(1)


def test_reader_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='instance_val.json'):
        SODA10M(data_root=str(tmp_path), split='val')
    with pytest.raises(ValueError, match="'train' or 'val'"):
        SODA10M(data_root=str(tmp_path), split='test')
    root = tmp_path / 'labeled'
    images, _ = _write_fixture(root)
    with open(root / 'annotations' / 'instance_val.json') as f:
        data = json.load(f)
    data['images'][0]['file_name_old'] = 'no_numbers.jpg'
    with open(root / 'annotations' / 'instance_val.json', 'w') as f:
        json.dump(data, f)
    with pytest.raises(ValueError, match='exactly two numbers'):
        SODA10M(data_root=str(root), split='val')
    # the stock (not timestamped) annotations, and a category outside 1..6
    for change, message in ((lambda d: d['images'][0].pop('date'), 'timestamped'),
                            (lambda d: d['annotations'][0].update(category_id=7),
                             'category_id 7')):
        fixed = json.loads(json.dumps(data))
        fixed['images'][0]['file_name_old'] = images[0]['file_name_old']
        change(fixed)
        with open(root / 'annotations' / 'instance_val.json', 'w') as f:
            json.dump(fixed, f)
        with pytest.raises(ValueError, match=message):
            SODA10M(data_root=str(root), split='val')


def _write_stream_fixture(root):
    """Small images (the crop is shifted into 1920 x 1080, so the files are full size but
    few): val objects for the 6 tasks and for V1, train objects for V2 and others."""
    from clbox.scenarios.sslad import TASKS
    rng = np.random.RandomState(2)
    array = rng.randint(0, 256, (1080, 1920, 3)).astype(np.uint8)
    for split in ('val', 'train'):
        os.makedirs(root / split, exist_ok=True)
        Image.fromarray(array).save(root / split / 'frame.jpg', quality=90)
    os.makedirs(root / 'annotations', exist_ok=True)
    box = dict(bbox=[300, 300, 60, 50], area=3000, occluded=1)

    def image(i, date, time, period, video=1, seq=1):
        return dict(id=i, file_name='frame.jpg', file_name_old=f'v_{video}_s_{seq}.jpg',
                    date=date, time=time, period=period, weather='Clear', city='Shanghai',
                    location='Citystreet')
    val_images, val_anns = [], []
    for k, (date, period) in enumerate(TASKS):
        # two images per task, the later one listed first: the stream reorders them
        val_images += [image(10 * k + 1, date, '120000', period, video=2),
                       image(10 * k + 2, date, '110000', period, video=1)]
        val_anns += [dict(id=100 * k + 1, image_id=10 * k + 1, category_id=1 + k % 6, **box),
                     dict(id=100 * k + 2, image_id=10 * k + 2, category_id=3, **box)]
    val_images += [image(900, '20191120', '120000', 'Night'),    # not V1: date 20191120
                   image(901, '20191121', '100000', 'Daytime'),  # V1
                   image(902, '20191201', '100000', 'Daytime')]  # V1
    val_anns += [dict(id=9000 + i, image_id=900 + i, category_id=4, **box) for i in range(3)]
    train_images = [image(1, '20181015', '152030', 'Daytime'), image(2, '20181015', '101010',
                                                                     'Daytime'),
                    image(3, '20181016', '160000', 'Daytime')]
    train_anns = [dict(id=1, image_id=1, category_id=2, **box),    # V2: cyclist at 152030
                  dict(id=2, image_id=2, category_id=2, **box),    # not V2: other time
                  dict(id=3, image_id=3, category_id=6, **box),    # V2: tricycle
                  dict(id=4, image_id=3, category_id=3, **box)]    # not V2
    for split, images, anns in (('val', val_images, val_anns),
                                ('train', train_images, train_anns)):
        with open(root / 'annotations' / f'instance_{split}.json', 'w') as f:
            json.dump(dict(images=images, annotations=anns), f)


def test_sslad3a_tasks_order_and_validation_sets(tmp_path):
    from clbox.scenarios.sslad import SSLAD3A
    root = tmp_path / 'labeled'
    _write_stream_fixture(root)
    scenario = SSLAD3A(data_root=str(root))
    assert len(scenario.train_stream) == 6 and scenario.num_classes == 7
    for k, exp in enumerate(scenario.train_stream):
        # time order: the 11:00 image (listed second) comes first
        assert [exp.dataset.get_data_info(i)['obj_id'] for i in range(len(exp))] == \
            [100 * k + 2, 100 * k + 1]
    # 20191120 Night is outside task 5 (20191120 Daytime) but its date is excluded from V1
    test = scenario.test_stream[0]
    assert test.meta == dict(v1=2, v2=2) and len(test.dataset) == 4
    labels = [test.dataset[i]['gt_label'] for i in range(4)]   # no pipeline: the info
    assert sorted(labels) == [2, 4, 4, 6]
    assert (scenario.batch_size, scenario.shuffle, scenario.boundaries) == (10, False, 'given')
    with pytest.raises(ValueError, match='at most 10'):
        SSLAD3A(data_root=str(root), batch_size=16)


def test_challenge_rules_are_enforced():
    from clbox.buffers import ReservoirBuffer
    from clbox.engine.loops.online import check_rules
    from clbox.scenarios.sslad import SSLAD3A
    scenario = SSLAD3A.__new__(SSLAD3A)
    check_rules(scenario, 10, ReservoirBuffer(size=1000))
    with pytest.raises(ValueError, match='model.buffer.size to 1000'):
        check_rules(scenario, 10, ReservoirBuffer(size=1001))
    with pytest.raises(ValueError, match='at most 10'):
        check_rules(scenario, 11, None)
