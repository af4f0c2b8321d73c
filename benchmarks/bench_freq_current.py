"""freq-current end to end on the simulator, with where a point's time goes
(same code and numbers as `labctl bench freq-current`).

    python benchmarks/bench_freq_current.py [--points N] [--out DIR]

Default: FreqCurrent's default sweep with i_step = 2 µA (901 points), fitting on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labctl.cli.bench_cmd import run_bench


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=None, help="current steps (default 901)")
    parser.add_argument("--out", type=Path, default=None, help="folder for scratch files")
    args = parser.parse_args()
    return run_bench("freq-current", points=args.points, out=args.out)


if __name__ == "__main__":
    sys.exit(main())
