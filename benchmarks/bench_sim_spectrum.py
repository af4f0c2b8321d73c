"""Time DeviceModel.spectrum of the simulated 4-SHNO chain (µs per spectrum).

Two cases per trace length: the state changes before every sweep (a current sweep: physics
and mean trace recomputed) and repeated sweeps at one state (only the noise is new).
"""

from __future__ import annotations

import argparse
import time

from labctl.clock import VirtualClock
from labctl.sim.device import DeviceModel


def bench(points: int, repeats: int) -> tuple[float, float]:
    clock = VirtualClock()
    model = DeviceModel(clock, seed=1)
    model.magnet.set_supply_current(0.65 / model.params.coil_constant)
    clock.advance(10.0)
    model.stripe.source_current(1.5e-3, 5.0)
    args = (9.5e9, 11.0e9, points, 1e6, 1e5, 10)
    model.spectrum(*args)
    t0 = time.perf_counter()
    for k in range(repeats):
        model.stripe.source_current(1.5e-3 + (k % 500) * 1e-6, 5.0)
        model.spectrum(*args)
    changing = (time.perf_counter() - t0) / repeats
    t0 = time.perf_counter()
    for _ in range(repeats):
        model.spectrum(*args)
    same = (time.perf_counter() - t0) / repeats
    return changing * 1e6, same * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=500, help="spectra per case")
    parser.add_argument("--points", type=int, nargs="*", default=[1001, 10001, 40001])
    args = parser.parse_args()
    print(f"{'points':>8} {'new state µs':>14} {'same state µs':>14}")
    for points in args.points:
        changing, same = bench(points, args.repeats)
        print(f"{points:>8} {changing:>14.1f} {same:>14.1f}")


if __name__ == "__main__":
    main()
