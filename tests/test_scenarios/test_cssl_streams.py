"""Class-sequential and continual-split streams, the unlabeled-stream scenario and the
epoch chunk sampler, on fixtures in the reference's on-disk formats (PNG / JPEG files,
text lists, fixed-width memmap lists)."""
import logging
import os.path as osp
import random

import numpy as np
import pytest
from PIL import Image

from clbox.scenarios import (ClassSequentialStream, ContinualSplitStream, EpochChunkSampler,
                             SelfSupStream)
from clbox.scenarios.cssl_streams import class_sequential_order
from clbox.scenarios.ssl_streams import write_memmap_list

LOAD = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
LOAD_SPLIT = [dict(type='LoadImageFromFile'),
              dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'split', 'stage'))]


def _image(path, value, ext='png'):
    img = Image.fromarray(np.full((6, 5, 3), value, dtype=np.uint8))
    img.save(path, format='JPEG' if ext == 'jpg' else 'PNG', quality=100)


def _class_folders(root, sizes):
    """Images ``<class>/<i>.png`` (value = 10 * class position + i); the list interleaves
    the classes the way a shuffled file list would."""
    names = []
    for c, (name, n) in enumerate(sizes.items()):
        (root / name).mkdir()
        for i in range(n):
            _image(root / name / f'{i}.png', 10 * c + i)
            names.append(f'{name}/{i}.png')
    rng = np.random.RandomState(3)
    names = [names[i] for i in rng.permutation(len(names))]
    (root / 'list.txt').write_text('\n'.join(names) + '\n')
    return names


def _reference_rule(files, run_length, seed):
    """ClassSequentialDataset's order restated from its description (the reference's
    datasets/imagelistdataset.py lines 175-203) with the global ``random`` seeded as
    main.py does: classes by folder, sorted names -> ids; a dict of class -> files in
    first-appearance order; each class's files shuffled; then draw a remaining class with
    ``random.sample`` over the keys, take its next ``run_length`` files, delete it when
    empty."""
    state = random.getstate()
    try:
        random.seed(seed)
        folder = [f.split('/')[-2] for f in files]
        ids = {name: i for i, name in enumerate(sorted(set(folder)))}
        pending = {}
        for f, name in zip(files, folder):
            pending.setdefault(ids[name], []).append(f)
        for key in pending:
            random.shuffle(pending[key])
        out = []
        while pending:
            key = random.sample(tuple(pending), 1)[0]   # the keys view, Python <= 3.10
            out += pending[key][:run_length]
            pending[key] = pending[key][run_length:]
            if not pending[key]:
                del pending[key]
        return out
    finally:
        random.setstate(state)


def test_class_sequential_runs_match_the_reference_rule(tmp_path):
    sizes = {'n02': 5, 'n01': 3, 'n03': 7}
    names = _class_folders(tmp_path, sizes)
    stream = ClassSequentialStream('list.txt', data_root=str(tmp_path), run_length=2, seed=4,
                                   pipeline=LOAD)
    order = [osp.relpath(stream.get_data_info(i)['img_path'], tmp_path)
             for i in range(len(stream))]
    assert order == _reference_rule(names, 2, 4)
    assert sorted(order) == sorted(names) and len(stream) == 15
    labels = stream.get_gt_labels()
    assert stream.metainfo['classes'] == ('n01', 'n02', 'n03')
    assert [stream.metainfo['classes'][y] for y in labels] == [n.split('/')[0] for n in order]
    _check_runs(labels, {0: 3, 1: 5, 2: 7}, 2)
    sample = stream[3]
    assert sample['data_samples'].sample_idx == 3
    assert int(sample['data_samples'].gt_label) == labels[3]
    c, i = order[3].split('/')
    assert int(sample['inputs'][0, 0, 0]) == 10 * list(sizes).index(c) + int(i[0])
    # deterministic per seed; run_length <= 0 keeps the file order (lines 181-183)
    again = ClassSequentialStream('list.txt', data_root=str(tmp_path), run_length=2, seed=4)
    assert [again.get_data_info(i)['img_path'] for i in range(15)] == \
        [stream.get_data_info(i)['img_path'] for i in range(15)]
    other = class_sequential_order([0] * 5 + [1] * 5 + [2] * 5, 2, seed=5)
    assert other != class_sequential_order([0] * 5 + [1] * 5 + [2] * 5, 2, seed=4)
    plain = ClassSequentialStream('list.txt', data_root=str(tmp_path), run_length=0)
    assert [osp.relpath(plain.get_data_info(i)['img_path'], tmp_path)
            for i in range(15)] == names


def _check_runs(labels, sizes, run_length):
    """The stream is a sequence of runs, each the next ``min(run_length, left)`` images of
    one class (a class may be drawn twice in a row)."""
    taken, pos = dict.fromkeys(sizes, 0), 0
    while pos < len(labels):
        label = int(labels[pos])
        n = min(run_length, sizes[label] - taken[label])
        assert n > 0 and set(np.asarray(labels[pos:pos + n]).tolist()) == {label}
        taken[label] += n
        pos += n
    assert taken == sizes


def test_class_sequential_default_is_64_in_a_row():
    labels = np.array([0] * 150 + [1] * 70 + [2] * 64)
    order = class_sequential_order(labels, 64, seed=0)
    assert sorted(order) == list(range(len(labels)))
    _check_runs(labels[order], {0: 150, 1: 70, 2: 64}, 64)
    assert ClassSequentialStream.__init__.__defaults__[1] == 64


def test_class_sequential_missing_files(tmp_path, caplog):
    names = _class_folders(tmp_path, {'a': 3, 'b': 2})
    (tmp_path / 'list.txt').write_text('\n'.join(names + ['b/gone.png']) + '\n')
    stream = ClassSequentialStream('list.txt', data_root=str(tmp_path), run_length=2)
    errors = []
    for i in range(len(stream)):
        try:
            stream.get_data_info(i)
        except FileNotFoundError as e:
            errors.append((i, str(e)))
    assert len(errors) == 1 and len(stream) == 6
    assert f'gone.png (stream index {errors[0][0]}, listed in' in errors[0][1]
    assert "missing='skip'" in errors[0][1]
    with caplog.at_level(logging.WARNING):
        skipping = ClassSequentialStream('list.txt', data_root=str(tmp_path), run_length=2,
                                         missing='skip')
    assert len(skipping) == 5
    assert not any('gone' in skipping.get_data_info(i)['img_path'] for i in range(5))
    (tmp_path / 'flat.txt').write_text('x.png\n')
    with pytest.raises(ValueError, match='no class folder'):
        ClassSequentialStream('flat.txt', data_root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match='file list'):
        ClassSequentialStream('nope.txt', data_root=str(tmp_path))
    with pytest.raises(ValueError, match='missing must be'):
        ClassSequentialStream('list.txt', data_root=str(tmp_path), missing='retry')


def _splits(root, sizes, fmt='memmap', ext='png'):
    """Split k holds ``sizes[k]`` images ``s<k>/<i>.<ext>`` of value 40 k + i, listed as a
    memmap (or text) list ``lists/split<k>``."""
    (root / 'lists').mkdir(parents=True, exist_ok=True)
    files = []
    for k, n in enumerate(sizes):
        (root / f's{k}').mkdir()
        names = [f's{k}/{i}.{ext}' for i in range(n)]
        for i, name in enumerate(names):
            _image(root / name, 40 * k + i, ext)
        if fmt == 'memmap':
            write_memmap_list(names, str(root / 'lists' / f'split{k}.memmap'), width=32)
            files.append(f'lists/split{k}.memmap')
        else:
            (root / 'lists' / f'split{k}.txt').write_text('\n'.join(names) + '\n')
            files.append(f'lists/split{k}.txt')
    return files


def _names(stream):
    return [osp.basename(osp.dirname(p)) + '/' + osp.basename(p) for p in
            (stream.get_data_info(i)['img_path'] for i in range(len(stream)))]


def test_continual_splits_in_the_given_order(tmp_path):
    files = _splits(tmp_path, [3, 2, 4, 1])
    stream = ContinualSplitStream(files, order='0312', data_root=str(tmp_path), width=32,
                                  pipeline=LOAD_SPLIT)
    assert len(stream) == 10
    assert _names(stream) == ['s0/0.png', 's0/1.png', 's0/2.png', 's3/0.png', 's1/0.png',
                              's1/1.png', 's2/0.png', 's2/1.png', 's2/2.png', 's2/3.png']
    assert [stream.split_of(i) for i in range(10)] == [0, 0, 0, 3, 1, 1, 2, 2, 2, 2]
    assert [stream.stage_of(i) for i in range(10)] == [0, 0, 0, 1, 2, 2, 3, 3, 3, 3]
    assert stream.boundaries() == [3, 4, 6, 10]
    sample = stream[4]                             # split 1, first image: value 40
    meta = sample['data_samples']
    assert (meta.sample_idx, meta.split, meta.stage) == (4, 1, 2)
    assert int(sample['inputs'][0, 0, 0]) == 40
    with pytest.raises(IndexError):
        stream.split_of(10)
    reverse = ContinualSplitStream(files, order='3210', data_root=str(tmp_path), width=32)
    assert _names(reverse)[:3] == ['s3/0.png', 's2/0.png', 's2/1.png']
    assert reverse.boundaries() == [1, 5, 7, 10]


def test_equal_splits_subsampled_end_at_the_quarters(tmp_path):
    files = _splits(tmp_path, [8, 8, 8, 8], fmt='text', ext='jpg')
    full = ContinualSplitStream(files, order='3120', data_root=str(tmp_path))
    assert len(full) == 32 and full.boundaries() == [8, 16, 24, 32]
    every4 = ContinualSplitStream(files, order='3120', data_root=str(tmp_path), subsample=4)
    assert len(every4) == 8 and every4.boundaries() == [2, 4, 6, 8]   # 25/50/75/100 %
    assert _names(every4) == _names(full)[::4]
    assert [every4.split_of(i) for i in range(8)] == [3, 3, 1, 1, 2, 2, 0, 0]
    # the reference's length, num_files // subsample (imagelistdataset.py line 449)
    uneven = ContinualSplitStream(_splits(tmp_path / 'u', [5, 2, 3, 1]), order='0123',
                                  data_root=str(tmp_path / 'u'), width=32, subsample=3)
    assert len(uneven) == 11 // 3
    assert _names(uneven) == ['s0/0.png', 's0/3.png', 's1/1.png']
    assert uneven.boundaries() == [2, 3, 3, 3]   # entries 0, 3 | 6 | (9 > len) | -


@pytest.mark.parametrize('order, match', [
    ('0113', 'not a permutation'), ('012', 'not a permutation'),
    ('01234', 'not a permutation'), ('0a12', 'not a permutation'),
    (312, 'quote it'), (None, 'string of split ids')])
def test_bad_orders_are_clear_errors(tmp_path, order, match):
    files = _splits(tmp_path, [1, 1, 1, 1])
    with pytest.raises(ValueError, match=match):
        ContinualSplitStream(files, order=order, data_root=str(tmp_path), width=32)


def test_continual_split_missing_files(tmp_path, caplog):
    files = _splits(tmp_path, [2, 2], fmt='text')
    (tmp_path / 'lists' / 'split1.txt').write_text('s1/0.png\ns1/gone.png\ns1/1.png\n')
    stream = ContinualSplitStream(files, order='10', data_root=str(tmp_path))
    with pytest.raises(FileNotFoundError,
                       match=r"gone.png \(stream index 1, entry 1 of split 1.*missing='skip'"):
        stream.get_data_info(1)
    with caplog.at_level(logging.WARNING):
        skipping = ContinualSplitStream(files, order='10', data_root=str(tmp_path),
                                        missing='skip')
    assert _names(skipping) == ['s1/0.png', 's1/1.png', 's0/0.png', 's0/1.png']
    assert skipping.boundaries() == [2, 4]
    mm = _splits(tmp_path / 'm', [2, 2])
    write_memmap_list(['s1/0.png', 's1/gone.png'], str(tmp_path / 'm' / mm[1]), width=32)
    memmap = ContinualSplitStream(mm, order='01', data_root=str(tmp_path / 'm'), width=32)
    with pytest.raises(FileNotFoundError, match=r'gone.png .*entry 1 of split 1, .*split1'):
        memmap.get_data_info(3)
    with pytest.raises(ValueError, match="missing='skip' needs text lists"):
        ContinualSplitStream(mm, order='01', data_root=str(tmp_path / 'm'), width=32,
                             missing='skip')
    with pytest.raises(FileNotFoundError, match='split list'):
        ContinualSplitStream(['lists/none.txt'], order='0', data_root=str(tmp_path))
    with pytest.raises(ValueError, match='multiple of width'):
        ContinualSplitStream(mm, order='01', data_root=str(tmp_path / 'm'), width=7)
    with pytest.raises(ValueError, match='subsample'):
        ContinualSplitStream(files, order='01', data_root=str(tmp_path), subsample=0)


def test_self_sup_stream_reads_no_training_labels(tmp_path):
    files = _splits(tmp_path, [3, 3])
    (tmp_path / 'probe').mkdir()
    _class_folders(tmp_path / 'probe', {'a': 2, 'b': 2})
    scenario = SelfSupStream(
        train=dict(type='ContinualSplitStream', splits=files, order='10', width=32,
                   data_root=str(tmp_path), pipeline=LOAD),
        test=dict(type='ClassSequentialStream', ann_file='list.txt', run_length=0,
                  data_root=str(tmp_path / 'probe'), pipeline=LOAD))
    assert len(scenario.train_stream) == 1 and scenario.train_stream[0].classes == ()
    assert len(scenario.train_stream[0]) == 6
    assert scenario.test_stream[0].classes == (0, 1) and scenario.num_classes == 2


class _Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


def test_epoch_chunk_sampler_deals_whole_blocks_every_epoch():
    sampler = EpochChunkSampler(_Sized(70), batch_size=8, seed=1)
    assert len(sampler) == len(sampler.indices()) == 64
    first = list(sampler)
    sampler.set_epoch(1)
    assert sorted(first) != first and list(sampler) != first
    frozen = EpochChunkSampler(_Sized(70), batch_size=8, seed=1, same_order_every_epoch=True)
    frozen.set_epoch(3)
    assert list(frozen) == first
    videos = EpochChunkSampler(_Sized(6 * 8), batch_size=8, block=8, seed=0)
    order = list(videos)
    blocks = [order[i:i + 8] for i in range(0, len(order), 8)]
    assert all(b == list(range(b[0], b[0] + 8)) and b[0] % 8 == 0 for b in blocks)
    assert len(blocks) == 5 == len(videos) // 8   # the reference drops a round of starts
    ordered = EpochChunkSampler(_Sized(20), batch_size=4, shuffle=False)
    assert list(ordered) == list(range(20))
