"""Time fit_spectrum on 10001-point traces: noise only, 1, 2 and 4 lines, without and with a
background trace (as the frequency–current procedure passes one recorded at I = 0).

Synthetic traces by default: Lorentzian lines 5–40 MHz wide on a flat floor, dB noise
5.57/√averages. ``--sim`` takes the spectra from the device simulator instead: a current
sweep at ~0.65 T, grouped by the number of lines fitted in them.

Usage: python benchmarks/bench_fit.py [--repeats 2000] [--averages 10] [--snr-db 8] [--sim]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from labctl.analysis.lorentz import fit_spectrum

FLOOR_PSD = 7.5e-21  # W/Hz at the device: -79 dBm in 1 MHz after 32 dB of gain
GAIN_DB = 32.0
RBW = 1e6
N_POINTS = 10001


def synthetic_trace(rng: np.random.Generator, n_lines: int, snr_db: float, averages: int,
                    n_points: int = N_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """A 2 GHz map-like trace: Lorentzian lines 5–40 MHz wide, dB noise 5.57/√averages."""
    f = np.linspace(8e9, 10e9, n_points)
    psd = np.full(n_points, FLOOR_PSD)
    centres = np.linspace(8.3e9, 9.7e9, n_lines) + rng.uniform(-50e6, 50e6, n_lines)
    for fc in centres:
        fwhm = rng.uniform(5e6, 40e6)
        psd += FLOOR_PSD * (10 ** (snr_db / 10) - 1) / (1 + (2 * (f - fc) / fwhm) ** 2)
    dbm = 10 * np.log10(psd * 1.06 * RBW * 10 ** (GAIN_DB / 10) / 1e-3)
    return f, dbm + rng.normal(0, 5.57 / np.sqrt(averages), n_points)


def synthetic_cases(args, rng: np.random.Generator):
    """{n_lines: [(freq, trace)]} and the background trace (no lines, same averages)."""
    cases = {n: [synthetic_trace(rng, n, args.snr_db, args.averages)
                 for _ in range(args.traces)] for n in (0, 1, 2, 4)}
    return cases, synthetic_trace(rng, 0, args.snr_db, args.averages)[1]


def sim_cases(args):
    """Simulator spectra of a current sweep (8–12 GHz), grouped by the lines fitted in them
    (with the background): the simulator's own lines include sub-threshold ones too broad
    and faint to see."""
    from labctl.clock import VirtualClock
    from labctl.sim.device import DeviceModel

    dev = DeviceModel(VirtualClock(), seed=1)
    dev.magnet.set_supply_current(10.85)  # ~0.65 T
    dev.clock.advance(5)
    freq = np.linspace(8e9, 12e9, N_POINTS)

    def spectrum():
        return dev.spectrum(8e9, 12e9, N_POINTS, RBW, RBW / 10, args.averages)

    dev.stripe.source_current(0.0, 5.0)
    background = spectrum()
    cases: dict[int, list] = {}
    for amps in np.linspace(0.2e-3, 2.2e-3, 4 * args.traces):
        dev.stripe.source_current(amps, 5.0)
        trace = spectrum()
        found = len(fit_spectrum(freq, trace, RBW, gain_db=GAIN_DB, background_dbm=background))
        cases.setdefault(min(found, 4), []).append((freq, trace))
    return cases, background


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--averages", type=int, default=10)
    parser.add_argument("--snr-db", type=float, default=8.0)
    parser.add_argument("--traces", type=int, default=20, help="distinct noisy traces per case")
    parser.add_argument("--sim", action="store_true", help="simulator spectra, not synthetic")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    cases, background = sim_cases(args) if args.sim else synthetic_cases(args, rng)
    source = "simulator" if args.sim else f"synthetic, {args.snr_db:g} dB"
    print(f"fit_spectrum, {N_POINTS} points, {args.averages} averages, {source}")
    for n_lines in sorted(cases):
        traces = cases[n_lines]
        for bg in (None, background):
            times, found = [], []
            for k in range(args.repeats):
                f, y = traces[k % len(traces)]
                t0 = time.perf_counter()
                peaks = fit_spectrum(f, y, RBW, gain_db=GAIN_DB, background_dbm=bg)
                times.append(time.perf_counter() - t0)
                found.append(len(peaks))
            times.sort()
            label = "noise only" if n_lines == 0 else f"{n_lines} line(s)"
            print(f"{label:>10}, {'with' if bg is not None else 'no':>4} background: "
                  f"median {1e6 * times[len(times) // 2]:6.1f} µs, "
                  f"90% {1e6 * times[int(0.9 * len(times))]:6.1f} µs, "
                  f"lines found {min(found)}–{max(found)}")


if __name__ == "__main__":
    main()
