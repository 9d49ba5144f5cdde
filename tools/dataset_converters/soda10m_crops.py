"""Write the SODA10M object crops once, for fast SSLAD Track 3A training:

    python tools/dataset_converters/soda10m_crops.py DATA_ROOT CACHE_DIR [--split val train]

DATA_ROOT is the ``SSLAD-2D/labeled`` folder. Every object the ``SODA10M`` reader keeps
(area >= 1024, not ``occluded == 0``) is cut and resized exactly as the reader does on
access and saved losslessly as ``CACHE_DIR/<split>/<object id>.png``; the reader then takes
it from there (``dict(type='SODA10M', data_root=DATA_ROOT, cache_dir=CACHE_DIR)``). Each
file is written atomically and existing ones are kept, so an interrupted run can be
restarted. Nothing is written into DATA_ROOT (a CACHE_DIR inside it is refused).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Cache the SODA10M object crops')
    parser.add_argument('data_root', help='the SSLAD-2D/labeled folder')
    parser.add_argument('cache_dir', help='where the crops go (outside DATA_ROOT)')
    parser.add_argument('--split', nargs='+', default=['val'], choices=['train', 'val'])
    parser.add_argument('--crop-size', type=int, default=64)
    return parser.parse_args(argv)


def write_crops(data_root: str, cache_dir: str, splits, crop_size: int = 64) -> int:
    """Write the missing crops of ``splits``; returns how many were written.

    Raises:
        ValueError: If ``cache_dir`` is inside ``data_root``.
    """
    from PIL import Image

    from clbox.engine.checkpoint_io import atomic_replace
    from clbox.scenarios.soda10m import SODA10M, cache_file, crop_object
    root, cache = osp.realpath(data_root), osp.realpath(cache_dir)
    if cache == root or cache.startswith(root + os.sep):
        raise ValueError(f'cache_dir "{cache_dir}" is inside the data root "{data_root}": '
                         'clbox never writes into a dataset; choose a folder outside it.')
    written = 0
    for split in splits:
        dataset = SODA10M(data_root=data_root, split=split, crop_size=crop_size)
        os.makedirs(osp.join(cache_dir, split), exist_ok=True)
        for entry in dataset.data_list:
            path = cache_file(cache_dir, split, entry['obj_id'])
            if osp.isfile(path):
                continue
            crop = Image.fromarray(crop_object(entry['img_path'], entry['bbox'], crop_size))
            atomic_replace(path, lambda tmp: crop.save(tmp, format='PNG'))
            written += 1
    return written


def main(argv=None):
    args = parse_args(argv)
    n = write_crops(args.data_root, args.cache_dir, args.split, args.crop_size)
    print(f'{n} crops written to {args.cache_dir}')


if __name__ == '__main__':
    main()
