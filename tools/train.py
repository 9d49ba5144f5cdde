"""Train a continual-learning config: ``python tools/train.py CONFIG [options]``."""
import argparse
import os.path as osp

from _common import DictAction, build_runner, close_processes, load_config


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model on a stream of experiences')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where checkpoints, logs and results go')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in the work dir '
        'when no file is given')
    parser.add_argument('--step', type=int, default=None,
                        help='train only experience N, starting from experience_{N-1}.pth '
                        'in the work dir (step-wise protocols such as MiB/PLOP)')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic cuDNN/torch algorithms')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision training: float16 autocast with dynamic loss '
                        'scaling on a GPU, bfloat16 autocast on CPU')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_epochs=1')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher (torchrun uses pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args()


def apply_amp(cfg, device=None):
    """Switch ``optim_wrapper`` to mixed precision for ``device``.

    On a GPU (or NPU/MLU/MUSA) mmengine's ``AmpOptimWrapper`` with float16 and dynamic loss
    scaling. mmengine's ``AmpOptimWrapper`` asserts that an accelerator is present (even
    with ``dtype='bfloat16'``), so on CPU the wrapper becomes
    :class:`clbox.engine.amp.CPUBF16OptimWrapper` (the config's other keys, e.g.
    ``clip_grad``, kept): the forward pass under bfloat16 autocast, no loss scaling.

    Args:
        cfg (Config): The config (changed in place).
        device (str, optional): 'cpu', 'cuda', ...; mmengine's ``get_device()`` when None.

    Returns:
        Config: ``cfg``.
    """
    if device is None:
        from mmengine.device import get_device
        device = get_device()
    if device == 'cpu':
        cfg.optim_wrapper.type = 'CPUBF16OptimWrapper'
        for key in ('loss_scale', 'dtype', 'use_fsdp'):  # AmpOptimWrapper-only arguments
            cfg.optim_wrapper.pop(key, None)
    else:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        cfg.optim_wrapper.setdefault('dtype', 'float16')
    return cfg


def apply_args(cfg, args):
    """Fold command-line switches into the config."""
    cfg.launcher = args.launcher
    if args.seed is not None or args.deterministic:
        randomness = dict(cfg.get('randomness', {}))
        if args.seed is not None:
            randomness['seed'] = args.seed
        randomness['deterministic'] = args.deterministic or randomness.get('deterministic',
                                                                            False)
        cfg.randomness = randomness
    if args.amp:
        apply_amp(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.step is not None:
        cfg.train_cfg.experiences = [args.step]
        if args.step > 0:
            previous = osp.join(cfg.work_dir, f'experience_{args.step - 1}.pth')
            if not osp.isfile(previous):
                raise FileNotFoundError(
                    f'--step {args.step} starts from "{previous}", which does not exist: '
                    f'run --step {args.step - 1} first with the same --work-dir.')
            cfg.resume, cfg.load_from = True, previous
    return cfg


def main():
    args = parse_args()
    cfg = apply_args(load_config(args.config, args.cfg_options, args.work_dir), args)
    build_runner(cfg).train()
    close_processes()


if __name__ == '__main__':
    main()
