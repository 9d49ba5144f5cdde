"""Compare runs: ``python tools/analysis_tools/compare_runs.py WORKDIR [WORKDIR ...]
[--out PREFIX] [--names NAME ...]``.

Reads each run's ``results.json`` and writes ``PREFIX.png`` (the average accuracy over the
seen experiences after each experience, one curve per run) and ``PREFIX.md`` (the final
metrics: average accuracy, forgetting, BWT, FWT, AMCA and the last evaluation's metrics),
and prints the table.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # tools/_common.py

import _common  # noqa: E402,F401  (puts the checkout on sys.path)
from clbox.visualization.compare import compare_runs  # noqa: E402


def parse_args(argv=None):
    """Command-line arguments (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='Average-accuracy curves (PNG) and final metrics (markdown) of runs')
    parser.add_argument('work_dirs', nargs='+', metavar='WORKDIR',
                        help='work dirs of runs, each with a results.json')
    parser.add_argument('--out', default='compare',
                        help='output prefix: PREFIX.png and PREFIX.md (default: compare)')
    parser.add_argument('--names', nargs='+', default=None,
                        help='one label per work dir (default: the folder names)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Write the PNG and the table; a missing or empty results.json exits with status 1."""
    args = parse_args(argv)
    try:
        out = compare_runs(args.work_dirs, args.out, args.names)
    except (FileNotFoundError, ValueError) as e:
        print(f'compare_runs: {e}', file=sys.stderr)
        return 1
    print(out['table'], end='')
    print(f"wrote {out['png']} and {out['md']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
