"""Time fit_spectrum on 10001-point synthetic traces with 1, 2 and 4 lines.

Usage: python benchmarks/bench_fit.py [--repeats 2000] [--averages 10] [--snr-db 8]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from labctl.analysis.lorentz import fit_spectrum

FLOOR_PSD = 7.5e-21  # W/Hz at the device: -79 dBm in 1 MHz after 32 dB of gain
GAIN_DB = 32.0
RBW = 1e6


def synthetic_trace(rng: np.random.Generator, n_lines: int, snr_db: float, averages: int,
                    n_points: int = 10001) -> tuple[np.ndarray, np.ndarray]:
    """A 2 GHz map-like trace: Lorentzian lines 5–40 MHz wide, dB noise 5.57/√averages."""
    f = np.linspace(8e9, 10e9, n_points)
    psd = np.full(n_points, FLOOR_PSD)
    centres = np.linspace(8.3e9, 9.7e9, n_lines) + rng.uniform(-50e6, 50e6, n_lines)
    for fc in centres:
        fwhm = rng.uniform(5e6, 40e6)
        psd += FLOOR_PSD * (10 ** (snr_db / 10) - 1) / (1 + (2 * (f - fc) / fwhm) ** 2)
    dbm = 10 * np.log10(psd * 1.06 * RBW * 10 ** (GAIN_DB / 10) / 1e-3)
    return f, dbm + rng.normal(0, 5.57 / np.sqrt(averages), n_points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--averages", type=int, default=10)
    parser.add_argument("--snr-db", type=float, default=8.0)
    parser.add_argument("--traces", type=int, default=20, help="distinct noisy traces per case")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for n_lines in (1, 2, 4):
        traces = [synthetic_trace(rng, n_lines, args.snr_db, args.averages)
                  for _ in range(args.traces)]
        times, found = [], []
        for k in range(args.repeats):
            f, y = traces[k % len(traces)]
            t0 = time.perf_counter()
            peaks = fit_spectrum(f, y, RBW, gain_db=GAIN_DB)
            times.append(time.perf_counter() - t0)
            found.append(len(peaks))
        times.sort()
        print(f"{n_lines} line(s): median {1e6 * statistics.median(times):7.1f} µs, "
              f"90% {1e6 * times[int(0.9 * len(times))]:7.1f} µs, "
              f"lines found {min(found)}–{max(found)} (10001 points, {args.averages} averages, "
              f"{args.snr_db:g} dB)")


if __name__ == "__main__":
    main()
