"""Print a fully resolved config: ``python tools/misc/print_config.py CONFIG
[--cfg-options KEY=VALUE ...]``.

Like mmpretrain's ``tools/misc/print_config.py``: the ``_base_`` files are merged and the
``--cfg-options`` applied, then mmengine's ``Config.pretty_text`` is printed.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # tools/_common.py

from _common import DictAction, load_config  # noqa: E402


def parse_args(argv=None):
    """Command-line arguments.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``config`` and ``cfg_options``.
    """
    parser = argparse.ArgumentParser(
        description='Print the fully resolved config (bases merged, --cfg-options applied)')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_epochs=1')
    return parser.parse_args(argv)


def resolved_text(path: str, cfg_options=None) -> str:
    """The resolved config of ``path`` as Python source (``Config.pretty_text``).

    Args:
        path (str): Config file.
        cfg_options (dict, optional): Dotted keys to override. Defaults to None.

    Returns:
        str: The config text.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    cfg = load_config(path, cfg_options)
    return cfg.pretty_text


def main(argv=None) -> int:
    """Print the config; a missing file exits with status 1 and a message naming it."""
    args = parse_args(argv)
    try:
        text = resolved_text(args.config, args.cfg_options)
    except FileNotFoundError as e:
        print(f'print_config: {e} Pass the path of a config file, e.g. '
              f'configs/er/er_resnet18_1xb32-5e_digits-5exp.py.', file=sys.stderr)
        return 1
    print(f'Config: {args.config}\n{text}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
