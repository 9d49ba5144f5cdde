"""Continuous-SSL image streams on fixtures in the reference's on-disk formats."""
import logging
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from clbox.scenarios import ImageListStream, KineticsFrames, MemmapImageList
from clbox.scenarios.ssl_streams import write_memmap_list

LOAD = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def _image(path, value):
    Image.fromarray(np.full((6, 5, 3), value, dtype=np.uint8)).save(path)


def test_image_list_in_file_order_and_missing_files(tmp_path, caplog):
    (tmp_path / 'img').mkdir()
    for i in range(4):
        _image(tmp_path / 'img' / f'{i}.png', 10 * i)
    names = ['img/2.png', 'img/0.png', 'img/gone.png', 'img/3.png 7']
    (tmp_path / 'list.txt').write_text('\n'.join(names) + '\n')
    stream = ImageListStream('list.txt', data_root=str(tmp_path), pipeline=LOAD)
    assert len(stream) == 4
    sample = stream[1]
    assert int(sample['inputs'][0, 0, 0]) == 0 and sample['data_samples'].sample_idx == 1
    assert int(stream[3]['inputs'][0, 0, 0]) == 30
    with pytest.raises(FileNotFoundError, match=r"gone.png .*stream index 2.*missing='skip'"):
        stream[2]
    with caplog.at_level(logging.WARNING):
        skipping = ImageListStream('list.txt', data_root=str(tmp_path), pipeline=LOAD,
                                   missing='skip')
    assert len(skipping) == 3
    assert [osp.basename(skipping.get_data_info(i)['img_path']) for i in range(3)] == \
        ['2.png', '0.png', '3.png']
    with pytest.raises(ValueError, match='missing must be'):
        ImageListStream('list.txt', data_root=str(tmp_path), missing='random')
    with pytest.raises(FileNotFoundError, match='file list'):
        ImageListStream('nope.txt', data_root=str(tmp_path))


def test_memmap_list_reads_fixed_width_entries(tmp_path):
    for i in range(3):
        _image(tmp_path / f'im{i}-256p.jpg', 50 * i)
    write_memmap_list([f'im{i}.jpg' for i in range(3)], str(tmp_path / 'list.memmap'),
                      width=40)
    raw = np.memmap(tmp_path / 'list.memmap', dtype='S40', mode='r')
    assert raw[1].decode() == 'im1.jpg'
    stream = MemmapImageList('list.memmap', data_root=str(tmp_path), width=40,
                             replace=('.jpg', '-256p.jpg'), pipeline=LOAD)
    assert len(stream) == 3
    assert stream.get_data_info(2)['img_path'].endswith('im2-256p.jpg')
    assert stream[2]['data_samples'].sample_idx == 2
    plain = MemmapImageList('list.memmap', data_root=str(tmp_path), width=40)
    with pytest.raises(FileNotFoundError, match='im0.jpg .*entry 0'):
        plain.get_data_info(0)
    with pytest.raises(ValueError, match='multiple of width'):
        MemmapImageList('list.memmap', data_root=str(tmp_path), width=7)
    with pytest.raises(ValueError, match='longer than'):
        write_memmap_list(['x' * 50], str(tmp_path / 'bad.memmap'), width=40)


def _videos(root, counts):
    lines = []
    for v, n in enumerate(counts):
        d = root / f'vid{v}'
        d.mkdir()
        for f in range(n):
            _image(d / f'{f + 1:03d}.jpeg', 3 * f + 1)
        lines.append(f'vid{v} {n}')
    (root / 'videos.txt').write_text('\n'.join(lines) + '\n')


def test_frames_consecutive_and_random(tmp_path):
    _videos(tmp_path, [12, 3, 9])
    stream = KineticsFrames('videos.txt', data_root=str(tmp_path), frames_per_video=4,
                            seed=1, pipeline=LOAD)
    assert len(stream) == 12
    frames = [stream.frame_of(i) for i in range(12)]
    first = frames[0]
    assert 0 <= first < 12 - 4 - 1 and frames[:4] == [first + k for k in range(4)]
    assert frames[4:8] == [0, 1, 2, 2]                  # a short video: clamped at its end
    assert stream.video_of(9) == 2
    assert frames == [stream.frame_of(i) for i in range(12)]   # fixed within a pass
    sample = stream[5]
    assert int(sample['inputs'][0, 0, 0]) == 4 and sample['data_samples'].sample_idx == 5
    starts = set()
    for epoch in range(20):
        stream.set_epoch(epoch)
        starts.add(stream.frame_of(0))
    assert len(starts) > 1
    random_stream = KineticsFrames('videos.txt', data_root=str(tmp_path),
                                   frames_per_video=4, sampling='random')
    np.random.seed(0)
    seen = {random_stream.frame_of(9) for _ in range(50)}
    assert seen <= set(range(9)) and len(seen) > 4


def test_frame_folder_errors_name_the_folder(tmp_path):
    _videos(tmp_path, [4])
    (tmp_path / 'videos.txt').write_text('vid0 6\n')
    stream = KineticsFrames('videos.txt', data_root=str(tmp_path), frames_per_video=6)
    with pytest.raises(FileNotFoundError, match=r'vid0 should hold 6 frames .*frame 5'):
        stream.get_data_info(4)
    (tmp_path / 'bad.txt').write_text('vid0\n')
    with pytest.raises(ValueError, match='line 1'):
        len(KineticsFrames('bad.txt', data_root=str(tmp_path)))
    with pytest.raises(ValueError, match='sampling'):
        KineticsFrames('videos.txt', data_root=str(tmp_path), sampling='every')
