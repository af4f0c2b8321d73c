"""Time DeviceModel.spectrum of the simulated 4-SHNO chain (µs per spectrum); the same code
as `labctl bench spectrum`, for several trace lengths.

Two cases per trace length: the state changes before every sweep (a current sweep: physics
and mean trace recomputed) and repeated sweeps at one state (only the noise is new).
"""

from __future__ import annotations

import argparse

from labctl.cli.bench_runs import spectrum_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=500, help="spectra per case")
    parser.add_argument("--points", type=int, nargs="*", default=[1001, 10001, 40001])
    args = parser.parse_args()
    print(f"{'points':>8} {'new state µs':>14} {'same state µs':>14}")
    for points in args.points:
        r = spectrum_bench(points, args.repeats)
        print(f"{points:>8} {r['new_state_us']:>14.1f} {r['same_state_us']:>14.1f}")


if __name__ == "__main__":
    main()
