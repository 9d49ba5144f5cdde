"""mmpretrain-style tools: print_config, compare_runs, ``tools/test.py --out`` and
``tools/train.py --amp`` on CPU."""
import csv
import importlib.util
import json
import os.path as osp
import sys
import uuid

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from clbox.registry import HOOKS
from clbox.visualization.compare import average_curve, load_run, markdown_table
from helpers import NAIVE_DIGITS, ROOT, build_runner, results, tiny_cfg

sys.path.insert(0, osp.join(ROOT, 'tools'))

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def _tool(relpath):
    """A tool module loaded from its path (``tools/test.py`` is not the stdlib ``test``)."""
    path = osp.join(ROOT, 'tools', relpath)
    spec = importlib.util.spec_from_file_location(
        'clbox_tool_' + osp.splitext(osp.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@HOOKS.register_module()
class _DtypeProbeHook(Hook):
    """Records the dtype of the backbone's output in every training forward pass."""

    dtypes = []

    def before_train(self, runner):
        def probe(module, inputs, output):
            if module.training:
                out = output[-1] if isinstance(output, (tuple, list)) else output
                type(self).dtypes.append(out.dtype)
        runner.model.model.backbone.register_forward_hook(probe)


def _args(**kw):
    base = dict(launcher='none', seed=None, deterministic=False, amp=False, resume=None,
                step=None)
    base.update(kw)
    return type('Args', (), base)


@pytest.fixture(scope='module')
def amp_run(tmp_path_factory):
    """A 2-experience, 1-epoch run of the tiny digits config with ``--amp`` on CPU."""
    from train import apply_args
    work_dir = tmp_path_factory.mktemp('amp_run')
    cfg = tiny_cfg(work_dir, num_experiences=2)
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type='_DtypeProbeHook')]
    cfg = apply_args(cfg, _args(amp=True))
    runner = build_runner(cfg)
    runner.train()
    return dict(work_dir=str(work_dir), runner=runner, cfg=cfg)


# ---------------------------------------------------------------- tools/train.py --amp
def test_amp_on_cpu_trains_with_bfloat16_autocast(amp_run):
    """--amp on CPU: the run finishes (results.json with a full matrix and finite
    metrics), the wrapper is the bf16 one and its context autocasts to bfloat16."""
    assert amp_run['cfg'].optim_wrapper.type == 'CPUBF16OptimWrapper'
    assert 'loss_scale' not in amp_run['cfg'].optim_wrapper
    res = results(amp_run['work_dir'])
    assert len(res['accuracy_matrix']) == 2
    assert all(np.isfinite(v) for v in res['metrics'].values())
    wrapper = amp_run['runner'].optim_wrapper
    assert type(wrapper).__name__ == 'CPUBF16OptimWrapper'
    layer = torch.nn.Linear(3, 2)
    with wrapper.optim_context(layer):
        assert layer(torch.randn(4, 3)).dtype == torch.bfloat16
    # the training forward passes ran in bfloat16
    assert _DtypeProbeHook.dtypes and set(_DtypeProbeHook.dtypes) == {torch.bfloat16}
    # the finite training loss of the last iteration
    loss = amp_run['runner'].message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss)


def test_amp_on_gpu_is_float16_amp_optim_wrapper():
    """--amp on an accelerator keeps mmengine's AmpOptimWrapper, float16, dynamic scaling."""
    from train import apply_amp
    cfg = apply_amp(Config.fromfile(NAIVE_DIGITS), device='cuda')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'float16'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'


# ---------------------------------------------------------------- tools/misc/print_config.py
def test_print_config_prints_resolved_config(capsys):
    """The printed text is the resolved config: bases merged, --cfg-options applied, and it
    parses back into the same values."""
    print_config = _tool('misc/print_config.py')
    rc = print_config.main([NAIVE_DIGITS, '--cfg-options', 'train_cfg.max_epochs=3',
                            'scenario.num_experiences=2'])
    assert rc == 0
    out = capsys.readouterr().out
    assert out.startswith(f'Config: {NAIVE_DIGITS}\n')
    parsed = Config.fromstring(out.split('\n', 1)[1], '.py')
    assert parsed.train_cfg.max_epochs == 3
    assert parsed.scenario.num_experiences == 2
    assert parsed.scenario.type == Config.fromfile(NAIVE_DIGITS).scenario.type
    assert 'optim_wrapper' in parsed and 'default_hooks' in parsed  # from the _base_ files


def test_print_config_missing_file_and_help(tmp_path, capsys):
    print_config = _tool('misc/print_config.py')
    missing = str(tmp_path / 'nope.py')
    assert print_config.main([missing]) == 1
    assert f'config "{missing}" does not exist' in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        print_config.main(['--help'])
    assert e.value.code == 0
    assert 'cfg-options' in capsys.readouterr().out


# ---------------------------------------------------------------- compare_runs
def _fake_run(folder, matrix, metrics):
    folder.mkdir(parents=True)
    (folder / 'results.json').write_text(json.dumps(dict(
        accuracy_matrix=matrix, metrics=metrics, experiences_done=len(matrix))))
    return str(folder)


def test_average_curve_and_table(tmp_path):
    """The curve averages the seen columns; the table has every summarised metric in a
    fixed order and '-' where a run lacks one."""
    assert average_curve([[80, 0, 0], [60, 90, 0], [50, 70, 90]]) == [80, 75, 70]
    assert average_curve([[10, 30], [20, 40], [30, 50]]) == [20, 30, 40]  # more rows
    a = load_run(_fake_run(tmp_path / 'a', [[80, 0], [60, 90]],
                           dict(average_accuracy=75.0, backward_transfer=-20.0,
                                average_forgetting=20.0, last_top1=75.0)))
    b = load_run(_fake_run(tmp_path / 'b', [[70, 0]], dict(average_accuracy=35.0)), 'B')
    table = markdown_table([a, b]).splitlines()
    assert table[0] == ('| run | experiences | average_accuracy | average_forgetting | '
                        'backward_transfer | last_top1 |')
    assert table[2] == '| a | 2 | 75.00 | 20.00 | -20.00 | 75.00 |'
    assert table[3] == '| B | 1 | 35.00 | - | - | - |'


def test_compare_runs_tool_writes_png_and_table(amp_run, tmp_path, capsys):
    """Two runs (a real results.json and a fake one): one PNG and a markdown table with
    the final metrics, printed too."""
    compare_runs = _tool('analysis_tools/compare_runs.py')
    fake = _fake_run(tmp_path / 'er', [[90, 0], [70, 80]],
                     dict(average_accuracy=75.0, average_forgetting=20.0,
                          backward_transfer=-20.0))
    out = str(tmp_path / 'cmp')
    assert compare_runs.main([amp_run['work_dir'], fake, '--out', out,
                              '--names', 'naive-amp', 'er']) == 0
    with open(out + '.png', 'rb') as f:
        assert f.read(8) == PNG_MAGIC
    with open(out + '.md') as f:
        table = f.read()
    assert table in capsys.readouterr().out
    real = results(amp_run['work_dir'])['metrics']
    lines = table.splitlines()
    assert lines[2].startswith(f"| naive-amp | 2 | {real['average_accuracy']:.2f} | "
                               f"{real['average_forgetting']:.2f} | "
                               f"{real['backward_transfer']:.2f} |")
    assert lines[3].startswith('| er | 2 | 75.00 | 20.00 | -20.00 |')
    assert 'amca' in lines[0] and 'last_top1' in lines[0]


def test_compare_runs_errors_name_the_folder(tmp_path, capsys):
    compare_runs = _tool('analysis_tools/compare_runs.py')
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert compare_runs.main([str(empty), '--out', str(tmp_path / 'x')]) == 1
    assert f'"{empty}" has no results.json' in capsys.readouterr().err
    nomatrix = _fake_run(tmp_path / 'nomatrix', [], {})
    assert compare_runs.main([nomatrix, '--out', str(tmp_path / 'x')]) == 1
    err = capsys.readouterr().err
    assert 'has no accuracy matrix' in err and nomatrix in err
    with pytest.raises(ValueError, match='no accuracy matrix.*nomatrix'):
        load_run(nomatrix)
    ok = _fake_run(tmp_path / 'ok', [[50.0]], dict(average_accuracy=50.0))
    assert compare_runs.main([ok, '--names', 'a', 'b', '--out', str(tmp_path / 'x')]) == 1
    assert '--names gives 2 labels for 1 work dirs' in capsys.readouterr().err
    assert not osp.exists(tmp_path / 'x.png')
    with pytest.raises(SystemExit) as e:
        compare_runs.main(['--help'])
    assert e.value.code == 0


# ---------------------------------------------------------------- tools/test.py --out
@pytest.mark.parametrize('ext', ['json', 'csv'])
def test_test_out_writes_per_sample_predictions(amp_run, tmp_path, ext):
    """--out FILE.json / FILE.csv: one record per test sample, indices 0..n-1 within each
    experience, pred = argmax(scores), and the accuracies they give are test_results.json's
    row."""
    test_tool = _tool('test.py')
    work = amp_run['work_dir']
    config = osp.join(work, osp.basename(NAIVE_DIGITS))
    out = str(tmp_path / f'preds.{ext}')
    test_tool.main([config, osp.join(work, 'experience_1.pth'), '--work-dir',
                    str(tmp_path), '--out', out, '--cfg-options',
                    f'experiment_name=test-{uuid.uuid4().hex[:12]}', 'log_level=WARNING'])
    if ext == 'json':
        with open(out) as f:
            data = json.load(f)
        records = data['records']
        num_classes = data['num_classes']
    else:
        with open(out, newline='') as f:
            rows = list(csv.reader(f))
        header = rows[0]
        assert header[:4] == ['experience', 'sample_index', 'pred_label', 'gt_label']
        num_classes = len(header) - 4
        records = [dict(experience=int(r[0]), sample_index=int(r[1]), pred_label=int(r[2]),
                        gt_label=int(r[3]), scores=[float(v) for v in r[4:]])
                   for r in rows[1:]]
    assert num_classes == 10
    with open(tmp_path / 'test_results.json') as f:
        row = json.load(f)['row']
    assert sorted({r['experience'] for r in records}) == list(range(len(row)))
    for j, expected in enumerate(row):
        mine = [r for r in records if r['experience'] == j]
        assert [r['sample_index'] for r in mine] == list(range(len(mine)))
        acc = 100.0 * np.mean([r['pred_label'] == r['gt_label'] for r in mine])
        assert acc == pytest.approx(expected)
    for r in records[:20]:
        assert len(r['scores']) == num_classes
        assert r['pred_label'] == int(np.argmax(r['scores']))


def test_test_out_refuses_other_formats(tmp_path):
    """.pkl (or no extension) is refused before anything is built; a non-classification
    evaluator is refused too."""
    from clbox.evaluation.predictions import PredictionWriter
    apply_out = _tool('test.py').apply_out
    cfg = Config.fromfile(NAIVE_DIGITS)
    for bad in ('preds.pkl', 'preds'):
        with pytest.raises(ValueError, match='must be .json or .csv.*never pickled'):
            apply_out(cfg, str(tmp_path / bad))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        apply_out(cfg, str(tmp_path / 'missing' / 'p.json'))
    with pytest.raises(ValueError, match='without --launcher'):
        apply_out(cfg, str(tmp_path / 'p.json'), launcher='pytorch')
    apply_out(cfg, str(tmp_path / 'p.json'))
    assert cfg.test_evaluator.type == 'PredictionWriter'
    assert cfg.test_evaluator.evaluator.type == 'ClsStreamEvaluator'
    with pytest.raises(ValueError, match='not a ClsStreamEvaluator'):
        PredictionWriter(dict(type='SegStreamEvaluator'), str(tmp_path / 'p.json'))


def test_prediction_writer_keeps_the_metrics_and_scores_once():
    """The wrapped evaluator computes the same metrics as alone, the algorithm is asked
    for its scores once per batch, and the records follow the batches."""
    from clbox.evaluation import ClsStreamEvaluator
    from clbox.evaluation.predictions import PredictionWriter

    class Fake:
        calls = 0

        def predict_scores(self, data):
            type(self).calls += 1
            return data['scores'], data['labels']

    torch.manual_seed(0)
    batches = [(j, dict(scores=torch.randn(5, 4), labels=torch.randint(0, 4, (5, ))))
               for j in (0, 0, 1)]
    plain = ClsStreamEvaluator(topk=(1, 2))
    writer = PredictionWriter(dict(type='ClsStreamEvaluator', topk=(1, 2)), 'unused.csv')
    writer.write = lambda: None  # compute() would write the file
    for ev in (plain, writer):
        ev.reset(2, 4)
        for j, data in batches:
            ev.process(Fake(), data, j)
    assert Fake.calls == 6  # 3 batches x 2 evaluators: the writer did not ask twice
    assert writer.compute() == plain.compute()
    assert [(r['experience'], r['sample_index']) for r in writer.records] == \
        [(0, i) for i in range(10)] + [(1, i) for i in range(5)]
    scores = torch.cat([d['scores'] for _, d in batches])
    assert [r['pred_label'] for r in writer.records] == scores.argmax(1).tolist()
    assert writer.records[0]['scores'] == pytest.approx(scores[0].tolist(), abs=1e-6)


# ---------------------------------------------------------- tools/analysis_tools/browse_scenario.py
def test_browse_scenario_draws_a_row_per_experience(tmp_path, monkeypatch, capsys):
    browse_tool = _tool('analysis_tools/browse_scenario.py')
    from clbox.visualization import plots
    figures = []
    real_close = plots._pyplot().close
    monkeypatch.setattr(plots._pyplot(), 'close', lambda fig: figures.append(fig))
    out = str(tmp_path / 'digits.png')
    browse_tool.main([NAIVE_DIGITS, '--num', '4', '--out', out, '--cfg-options',
                      'scenario.num_experiences=3'])
    assert capsys.readouterr().out.strip() == out
    with open(out, 'rb') as f:
        assert f.read(8) == PNG_MAGIC
    (fig, ) = figures
    axes = fig.axes
    assert len(axes) == 3 * 4                          # 3 experiences x 4 samples
    titles = [ax.get_title() for ax in axes]
    assert set(titles[:4]) <= {'0', '1', '2', '3'}     # experience 0's classes, named
    real_close(fig)
    with pytest.raises(ValueError, match='--num'):
        browse_tool.browse(None, 'train', 0, out)
