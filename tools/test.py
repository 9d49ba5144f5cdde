"""Evaluate a checkpoint on the whole test stream:
``python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]``.

Prints the accuracy row (one score per test experience) and the metrics, and writes them
to ``WORK_DIR/test_results.json``.
"""
import argparse

from _common import DictAction, build_runner, close_processes, load_config


def parse_args():
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint on a test stream')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where test_results.json and logs go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.work_dir)
    cfg.launcher = args.launcher
    cfg.load_from, cfg.resume = args.checkpoint, False
    # only what testing needs: no training loop, optimizer or schedules
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler'):
        cfg[key] = None
    build_runner(cfg).test()
    close_processes()


if __name__ == '__main__':
    main()
