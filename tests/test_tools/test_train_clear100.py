"""configs/clear's CLEAR-100 config on a CLEAR-100-format fixture, and the feature config
on the release's own features."""
import os.path as osp

from mmengine.config import Config

from fixtures.clear import make_clear, make_clear100, make_release_features
from helpers import ROOT, build_runner


def test_clear100_config_trains_one_iteration_per_bucket(tmp_path):
    """Its own pipeline (sizes shrunk to the fixture) and only the backbone shrunk."""
    data = str(tmp_path / 'clear100')
    make_clear100(data, num_buckets=2, train_per_class=1, test_per_class=1, size=24)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/clear/naive_resnet50_1xb64-70e_clear100.py'))
    cfg.merge_from_dict({
        'work_dir': str(tmp_path / 'work'), 'scenario.dataset_root': data,
        'train_cfg.max_epochs': 1, 'train_dataloader.batch_size': 100,
        'train_dataloader.num_workers': 0, 'val_dataloader.num_workers': 0,
        'scenario.train_pipeline.1.scale': 16, 'scenario.train_pipeline.2.crop_size': 16,
        'scenario.test_pipeline.1.scale': 16, 'scenario.test_pipeline.2.crop_size': 16,
        'model.model.backbone.depth': 18, 'model.model.head.in_channels': 512,
        'default_hooks.checkpoint.interval': -1, 'log_level': 'WARNING'})
    runner = build_runner(cfg)
    assert runner.scenario.num_classes == 100 and runner.scenario.buckets == ['1', '2']
    assert [len(e.dataset) for e in runner.scenario.train_stream] == [100, 100]
    runner.train()
    assert len(runner.train_loop.matrix) == 2
    assert runner.iter == 2  # one iteration per bucket


def test_feature_config_reads_release_features_per_bucket(tmp_path):
    data = str(tmp_path / 'clear10')
    make_clear(data, num_buckets=2, train_per_class=2, test_per_class=1)
    feats = make_release_features(data, dim=8)
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/clear/naive_linear-head_1xb256-70e_clear10-features.py'))
    cfg.merge_from_dict({
        'work_dir': str(tmp_path / 'work'), 'scenario.dataset_root': data,
        'scenario.feature_type': 'moco_b0', 'train_cfg.max_epochs': 1,
        'model.model.backbone.dim': 8, 'model.model.head.in_channels': 8,
        'log_level': 'WARNING'})
    runner = build_runner(cfg)
    scenario = runner.scenario
    assert scenario.feature_source == 'release'
    for exp, b in zip(scenario.train_stream, scenario.buckets):
        rows = exp.dataset.data_list
        assert len(rows) == 22 and {d['bucket'] for d in rows} == {b}
        for d in rows:
            assert (d['feat'] == feats[osp.relpath(d['img_path'], data)]).all()
    runner.train()
    assert len(runner.train_loop.matrix) == 2
