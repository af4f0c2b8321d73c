"""Runner + run-file throughput and peak memory (same code and numbers as `labctl bench storage`).

    python benchmarks/bench_storage.py [--points N] [--out DIR]

Without --points: runs of 1,000 / 10,000 / 100,000 points (the last writes ~4 GB and is
skipped with a message when less than 10 GB is free); each run in a fresh process.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labctl.cli.bench_cmd import run_bench


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=None, help="one run of N points")
    parser.add_argument("--out", type=Path, default=None, help="folder for scratch files")
    args = parser.parse_args()
    return run_bench("storage", points=args.points, out=args.out)


if __name__ == "__main__":
    sys.exit(main())
