"""Time one configure-free acquire (single sweep + binary trace) through driver and simulator.

    python benchmarks/bench_spectrum_io.py [--points 10001] [--repeats 2000]

Prints, per analyzer, the µs per acquire, the part the device model takes to compute the
trace, and the rest: SCPI, IEEE block and driver overhead.
"""

from __future__ import annotations

import argparse
import time

from drivers.keysight_xseries import KeysightXSeries
from drivers.roles import Spectrum
from drivers.rs_fsv import RohdeSchwarzFSV
from labctl.clock import VirtualClock
from labctl.config import SpectrumLimits
from labctl.sim.adapter import SimAdapter
from labctl.sim.analyzer import SimKeysightXSeries, SimRohdeSchwarzFSV
from labctl.sim.device import DeviceModel

ANALYZERS = {
    "keysight_xseries": (SimKeysightXSeries, KeysightXSeries),
    "rs_fsv": (SimRohdeSchwarzFSV, RohdeSchwarzFSV),
}


def _per_call_us(func, repeats: int) -> float:
    for _ in range(min(50, repeats)):
        func()  # warm caches
    start = time.perf_counter()
    for _ in range(repeats):
        func()
    return (time.perf_counter() - start) / repeats * 1e6


def bench(name: str, points: int, repeats: int) -> dict:
    sim_cls, driver_cls = ANALYZERS[name]
    clock = VirtualClock()
    device = DeviceModel(clock, seed=1)
    device.magnet.set_supply_current(10.0)
    clock.advance(10.0)
    device.stripe.source_current(1.6e-3, 5.0)
    driver = driver_cls(SimAdapter(sim_cls("spectrum", device, clock)), name="spectrum")
    spectrum = Spectrum(driver, SpectrumLimits())
    lines = device.truth()["line_frequencies"]
    f_start, f_stop = round(min(lines) - 150e6, -3), round(max(lines) + 150e6, -3)
    rbw, vbw, averages = 300e3, 30e3, 20
    spectrum.configure(f_start, f_stop, points, rbw, vbw, averages)
    acquire = _per_call_us(spectrum.acquire, repeats)
    model = _per_call_us(lambda: device.spectrum(f_start, f_stop, points, rbw, vbw, averages),
                         repeats)
    return {"acquire": acquire, "device": model, "io": acquire - model}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10001)
    parser.add_argument("--repeats", type=int, default=2000)
    args = parser.parse_args()
    print(f"{args.points} points, {args.repeats} acquisitions")
    for name in ANALYZERS:
        r = bench(name, args.points, args.repeats)
        print(f"{name:18s} acquire {r['acquire']:7.1f} µs  (device model {r['device']:6.1f} µs,"
              f" driver + SCPI + block {r['io']:6.1f} µs)  -> {1e6 / r['acquire']:6.0f} /s")


if __name__ == "__main__":
    main()
