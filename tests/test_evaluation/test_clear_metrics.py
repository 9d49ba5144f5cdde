"""CLEAR's matrix metrics, the CLEAR and resource hooks, and the CSV backend."""
import csv
import json
import logging
import os.path as osp
from types import SimpleNamespace

import pytest

from clbox.engine.hooks.clear_metrics import CLEARMetricsHook
from clbox.engine.hooks.resources import ResourceMonitorHook
from clbox.evaluation.clear import clear_metrics
from clbox.scenarios.base import Experience
from clbox.visualization.csv_backend import CSVVisBackend

R = [[50., 40., 30.],
     [45., 60., 35.],
     [42., 55., 70.]]


def test_metrics_of_a_full_matrix_match_the_paper_definitions():
    m = clear_metrics(R)
    assert m['clear/in_domain'] == pytest.approx((50 + 60 + 70) / 3)
    assert m['clear/next_domain'] == pytest.approx((40 + 35) / 2)
    assert m['clear/accuracy'] == pytest.approx((50 + 45 + 60 + 42 + 55 + 70) / 6)
    assert m['clear/backward_transfer'] == pytest.approx((45 + 42 + 55) / 3)
    assert m['clear/forward_transfer'] == pytest.approx((40 + 30 + 35) / 3)


def test_metrics_while_the_stream_runs():
    first = clear_metrics(R[:1])
    assert first == pytest.approx({'clear/in_domain': 50.0, 'clear/next_domain': 40.0,
                                   'clear/accuracy': 50.0, 'clear/forward_transfer': 35.0})
    two = clear_metrics(R[:2])
    assert two['clear/backward_transfer'] == 45.0
    assert two['clear/forward_transfer'] == pytest.approx((40 + 30 + 35) / 3)
    assert 'clear/next_domain' not in clear_metrics([[80.0]])


def test_metrics_reject_a_matrix_without_one_test_bucket_per_row():
    with pytest.raises(ValueError, match='3 rows but only 2 columns'):
        clear_metrics([[1, 2], [3, 4], [5, 6]])
    with pytest.raises(ValueError, match='non-empty'):
        clear_metrics([])


class _Visualizer:
    def __init__(self):
        self.scalars = []

    def add_scalars(self, scalars, step):
        self.scalars.append((step, dict(scalars)))


def _runner(tmp_path, matrix):
    exps = [Experience(i, None, name=f'train/bucket-{i + 1}', meta=dict(bucket=str(i + 1)))
            for i in range(3)]
    return SimpleNamespace(
        work_dir=str(tmp_path), visualizer=_Visualizer(),
        logger=logging.getLogger('clear-test'),
        train_loop=SimpleNamespace(matrix=matrix),
        scenario=SimpleNamespace(train_stream=exps, class_names=['a', 'b']))


def test_clear_hook_logs_writes_json_and_confusion_images(tmp_path):
    runner = _runner(tmp_path, R[:2])
    result = dict(row=R[1], metrics=dict(top1=60.0),
                  details=dict(confusion_matrix=[[3, 1], [0, 4]]))
    hook = CLEARMetricsHook()
    hook.after_experience_eval(runner, runner.scenario.train_stream[1], result)  # metrics
    assert not (tmp_path / 'clear_metrics.json').exists()  # no file before the checkpoint
    hook.after_experience(runner, runner.scenario.train_stream[1], result)  # files
    assert result['metrics']['clear/backward_transfer'] == 45.0
    assert result['metrics']['top1'] == 60.0
    step, logged = runner.visualizer.scalars[0]
    assert step == 2 and logged == clear_metrics(R[:2])
    with open(tmp_path / 'clear_metrics.json') as f:
        saved = json.load(f)
    assert saved['accuracy_matrix'] == R[:2] and saved['buckets'] == ['1', '2']
    assert (tmp_path / 'confusion' / 'experience_1.png').stat().st_size > 0


def test_resource_hook_measures_each_experience(tmp_path):
    runner = _runner(tmp_path, R[:1])
    hook = ResourceMonitorHook()
    exp = runner.scenario.train_stream[0]
    hook.before_train(runner)
    hook.before_experience(runner, experience=exp)
    sum(i * i for i in range(200000))  # some CPU work
    result = dict(metrics={})
    hook.after_experience_eval(runner, exp, result)
    hook.after_experience(runner, exp, result)
    assert result['metrics'] == {}          # logged once, as resources/*, not again
    (tmp_path / 'experience_0.pth').write_bytes(b'x' * 3 * 2 ** 20)  # the checkpoint
    hook.after_train(runner)
    stats = result['details']['resources']
    assert stats['resources/time_s'] > 0 and stats['resources/cpu_time_s'] >= 0
    assert stats['resources/ram_mb'] > 10 and stats['resources/disk_free_gb'] > 0
    with open(tmp_path / 'resources.json') as f:
        saved = json.load(f)['experiences']
    assert saved[0]['name'] == 'train/bucket-1'
    assert saved[0]['disk_written_mb'] == pytest.approx(3.0, abs=0.1)
    assert runner.visualizer.scalars[-1] == (1, {'resources/disk_written_mb':
                                                 saved[0]['disk_written_mb']})


def test_csv_backend_appends_readable_rows(tmp_path):
    backend = CSVVisBackend(save_dir=str(tmp_path / 'vis'))
    backend.add_scalar('loss', 0.5, step=1)
    backend.add_scalars({'clear/in_domain': 55.0, 'lr': 0.01}, step=2)
    backend.close()
    again = CSVVisBackend(save_dir=str(tmp_path / 'vis'))  # a resumed run appends
    again.add_scalar('loss', 0.25, step=3)
    again.close()
    with open(osp.join(tmp_path, 'vis', 'scalars.csv')) as f:
        rows = list(csv.DictReader(f))
    assert [(r['step'], r['tag'], float(r['value'])) for r in rows] == [
        ('1', 'loss', 0.5), ('2', 'clear/in_domain', 55.0), ('2', 'lr', 0.01),
        ('3', 'loss', 0.25)]
    with pytest.raises(ValueError, match='.csv'):
        CSVVisBackend(save_dir=str(tmp_path), scalar_file='scalars.txt')
