"""`tools/train.py configs/clear/resnet50.py` end to end on the miniature CLEAR-10."""
import csv
import json
import os
import os.path as osp
import subprocess
import sys

import torch

from fixtures.clear import make_clear
from helpers import ROOT


def test_train_resnet50_config_end_to_end(tmp_path):
    data = str(tmp_path / 'clear10')
    make_clear(data, num_buckets=2, train_per_class=2, test_per_class=1, size=16)
    work = tmp_path / 'work'
    small = ['scenario.train_pipeline.1.scale=16', 'scenario.train_pipeline.2.crop_size=16',
             'scenario.test_pipeline.1.scale=16', 'scenario.test_pipeline.2.crop_size=16']
    cmd = [sys.executable, osp.join(ROOT, 'tools/train.py'),
           osp.join(ROOT, 'configs/clear/resnet50.py'), '--work-dir', str(work),
           '--cfg-options', f'scenario.dataset_root={data}', 'train_cfg.max_epochs=1',
           'train_dataloader.batch_size=11', 'train_dataloader.num_workers=0',
           'val_dataloader.num_workers=0', *small]
    env = dict(os.environ, OMP_NUM_THREADS='1', WANDB_MODE='offline')
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(work / 'results.json') as f:
        results = json.load(f)
    assert len(results['accuracy_matrix']) == 2
    assert all(len(row) == 2 for row in results['accuracy_matrix'])
    with open(work / 'clear_metrics.json') as f:
        clear = json.load(f)
    assert clear['buckets'] == ['1', '2']
    assert set(clear['metrics']) == {'clear/in_domain', 'clear/next_domain', 'clear/accuracy',
                                     'clear/backward_transfer', 'clear/forward_transfer'}
    with open(work / 'resources.json') as f:
        resources = json.load(f)['experiences']
    assert [r['experience'] for r in resources] == [0, 1]
    assert resources[0]['disk_written_mb'] > 1  # the ResNet-50 checkpoint of bucket 1
    for name in ('experience_0.pth', 'experience_1.pth', 'confusion/experience_1.png'):
        assert (work / name).is_file(), name
    csv_files = [osp.join(d, f) for d, _, files in os.walk(work) for f in files
                 if f == 'scalars.csv']
    with open(csv_files[0]) as f:
        tags = {row['tag'] for row in csv.DictReader(f)}
    assert {'loss', 'clear/next_domain', 'resources/time_s'} <= tags


def test_er_config_stores_unaugmented_views_and_replays_new_ones(tmp_path):
    """configs/clear/er_resnet50_1xb64-70e_clear10.py with its own pipelines (sizes and
    the backbone shrunk) on the miniature CLEAR-10."""
    from mmengine.config import Config

    from clbox.engine.utils import unwrap
    from helpers import build_runner
    data = str(tmp_path / 'clear10')
    make_clear(data, num_buckets=2, train_per_class=2, test_per_class=1, size=24)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/clear/er_resnet50_1xb64-70e_clear10.py'))
    cfg.merge_from_dict({
        'work_dir': str(tmp_path / 'work'), 'scenario.dataset_root': data,
        'train_cfg.max_epochs': 1, 'train_dataloader.batch_size': 11,
        'train_dataloader.num_workers': 0, 'val_dataloader.num_workers': 0,
        'scenario.train_pipeline.1.scale': 16, 'scenario.train_pipeline.2.crop_size': 16,
        'scenario.test_pipeline.1.scale': 16, 'scenario.test_pipeline.2.crop_size': 16,
        'model.observe_pipeline.1.scale': 20, 'model.observe_pipeline.2.crop_size': 20,
        'model.replay_augments.0.size': 16,
        'model.model.backbone.depth': 18, 'model.model.head.in_channels': 512,
        'log_level': 'WARNING'})
    runner = build_runner(cfg)
    runner.train()
    algorithm = unwrap(runner.model)
    stored = algorithm.buffer.get_all()['inputs']
    assert stored.dtype == torch.uint8 and stored.shape[1:] == (3, 20, 20)
    assert len(stored) == sum(len(e) for e in runner.scenario.train_stream)
    views = algorithm.preprocess_replay(stored[:8])
    assert views.shape == (8, 3, 16, 16)
    assert not torch.equal(views, algorithm.preprocess_replay(stored[:8]))
    assert len(runner.train_loop.matrix) == 2
