"""Continual metrics reach the configured visualizer backends after every experience."""
import glob
import json
import os.path as osp

from helpers import build_runner, tiny_cfg


def test_metrics_logged_to_local_and_tensorboard(tmp_path):
    cfg = tiny_cfg(tmp_path, num_experiences=2)
    cfg.visualizer = dict(type='Visualizer', vis_backends=[
        dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
    build_runner(cfg).train()
    scalars = glob.glob(osp.join(str(tmp_path), '*', 'vis_data', 'scalars.json'))
    assert scalars, 'LocalVisBackend wrote nothing'
    with open(scalars[0]) as f:
        records = [json.loads(line) for line in f if 'continual/average_accuracy' in line]
    assert [r['step'] for r in records] == [1, 2]
    assert all(0 <= r['continual/average_accuracy'] <= 100 for r in records)
    assert glob.glob(osp.join(str(tmp_path), '*', 'vis_data', 'events.out.tfevents.*'))
