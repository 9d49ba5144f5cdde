"""Evaluate a checkpoint on the whole test stream:
``python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]``.

Prints the accuracy row (one score per test experience) and the metrics, and writes them
to ``WORK_DIR/test_results.json``. ``--out FILE.json`` or ``--out FILE.csv`` also writes
every test sample's prediction (experience, sample index, predicted class, label, scores;
see ``clbox.evaluation.predictions.PredictionWriter``). ``--show-dir DIR`` (segmentation)
writes, per test image, the image with its ground truth and its prediction overlaid to
``DIR/experience_<t>/<name>.png`` (``clbox.evaluation.seg_overlays.SegOverlayWriter``).
"""
import argparse

from _common import DictAction, build_runner, close_processes, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint on a test stream')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where test_results.json and logs go')
    parser.add_argument('--out', default=None,
                        help='also write the per-sample predictions of the test stream to '
                        'this .json or .csv file (classification configs)')
    parser.add_argument('--show-dir', default=None,
                        help='write image / ground truth / prediction overlays of every '
                        'test image here (segmentation configs)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def apply_out(cfg, out, launcher='none'):
    """Wrap the config's ``test_evaluator`` in a ``PredictionWriter`` writing ``out``.

    Raises:
        ValueError: ``out`` is not a .json / .csv file, the run is distributed, or the
            config has no ``test_evaluator``.
    """
    from clbox.evaluation.predictions import check_out_path
    check_out_path(out)  # before the checkpoint is loaded
    if launcher != 'none':
        raise ValueError('--out collects predictions in one process: run tools/test.py '
                         'without --launcher (the test stream is small enough).')
    if cfg.get('test_evaluator') is None:
        raise ValueError(f'--out needs a test_evaluator in the config "{cfg.filename}".')
    cfg.test_evaluator = dict(type='PredictionWriter', evaluator=cfg.test_evaluator,
                              out=out)
    return cfg


def apply_show_dir(cfg, show_dir):
    """Wrap the config's ``test_evaluator`` in a ``SegOverlayWriter`` writing to
    ``show_dir``.

    Raises:
        ValueError: The config has no test evaluator, or not a segmentation one.
    """
    from clbox.evaluation.seg_overlays import SegOverlayWriter
    from clbox.registry import EVALUATORS
    if cfg.get('test_evaluator') is None:
        raise ValueError(f'--show-dir needs a test_evaluator in the config "{cfg.filename}".')
    SegOverlayWriter(EVALUATORS.build(cfg.test_evaluator), show_dir)  # checks the type now
    cfg.test_evaluator = dict(type='SegOverlayWriter', evaluator=cfg.test_evaluator,
                              show_dir=show_dir)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    if args.show_dir and args.out:
        raise SystemExit('tools/test.py: --out (classification) and --show-dir '
                         '(segmentation) do not go together; use one.')
    cfg = load_config(args.config, args.cfg_options, args.work_dir)
    if args.out:
        try:
            apply_out(cfg, args.out, args.launcher)
        except (ValueError, FileNotFoundError) as e:
            raise SystemExit(f'tools/test.py: {e}')
    if args.show_dir:
        try:
            apply_show_dir(cfg, args.show_dir)
        except ValueError as e:
            raise SystemExit(f'tools/test.py: {e}')
    cfg.launcher = args.launcher
    cfg.load_from, cfg.resume = args.checkpoint, False
    # only what testing needs: no training loop, optimizer or schedules
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler'):
        cfg[key] = None
    build_runner(cfg).test()
    close_processes()


if __name__ == '__main__':
    main()
