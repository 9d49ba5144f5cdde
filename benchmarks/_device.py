"""``--device cpu|cuda`` for the benchmarks: the option, the check, GPU-aware timing.

Re-exported by ``_common``; scripts that import ``tools/_common.py`` (another module named
``_common``) import this one directly.
"""
import argparse
import os
import os.path as osp
import sys


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--device cpu|cuda`` (default cpu) to a benchmark's parser."""
    parser.add_argument(
        '--device', choices=['cpu', 'cuda'], default='cpu',
        help='where to run (default: cpu). cuda needs a GPU; on cpu the GPUs are hidden '
             '(CUDA_VISIBLE_DEVICES="") so that clbox, which takes a GPU whenever one is '
             'visible, stays on the CPU too')


def check_device(device: str) -> str:
    """Make ``device`` the one everything in this process (and its children) runs on.

    ``cuda`` without a usable GPU stops the benchmark with a one-line error (exit status 1).
    ``cpu`` hides the GPUs (``CUDA_VISIBLE_DEVICES=''``) before CUDA starts: clbox's runner
    has no device setting and moves the model to mmengine's ``get_device()``, the GPU
    whenever one is visible; processes the benchmark starts inherit the setting.

    Call it right after parsing the arguments, before anything touches CUDA.

    Args:
        device (str): 'cpu' or 'cuda'.

    Returns:
        str: ``device``.
    """
    import torch
    if device == 'cuda':
        if not torch.cuda.is_available():
            sys.exit(f'{osp.basename(sys.argv[0])}: --device cuda, but '
                     'torch.cuda.is_available() is False (no GPU, no CUDA build of torch, '
                     'or CUDA_VISIBLE_DEVICES hides them); run with --device cpu.')
    elif device == 'cpu':
        if torch.cuda.is_initialized():  # too late to hide the GPUs from this process
            print(f'{osp.basename(sys.argv[0])}: warning: CUDA started before --device cpu '
                  'took effect; clbox runs in this process may use the GPU.', file=sys.stderr)
        os.environ['CUDA_VISIBLE_DEVICES'] = ''
    else:
        sys.exit(f'{osp.basename(sys.argv[0])}: unknown --device {device!r} (cpu or cuda).')
    return device


def sync(device) -> None:
    """Wait for queued GPU work (call before reading a timer); a no-op on the CPU."""
    import torch
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()


def device_name(device: str) -> str:
    """A short description of ``device`` for the printed header."""
    import torch
    if str(device).startswith('cuda'):
        return f'cuda ({torch.cuda.get_device_name()})'
    return f'cpu ({torch.get_num_threads()} thread(s))'


def speed(seconds: float, iterations: int, images: int) -> str:
    """'X ms/iter, Y images/s' of ``iterations`` steps over ``images`` training images."""
    ms = 1e3 * seconds / iterations if iterations else float('nan')
    ips = images / seconds if seconds else float('nan')
    return f'{ms:.3f} ms/iter, {ips:.0f} images/s'
