"""Spectrum-analyzer traces: dBm in a resolution bandwidth to device-referred PSD, noise floor."""

from __future__ import annotations

import numpy as np

# Median absolute deviation of a normal distribution, in units of its standard deviation.
_MAD_TO_SIGMA = 1.4826
# Every n-th point is plenty for a robust floor on 10^4-point traces and keeps fits fast.
_MAX_FLOOR_SAMPLES = 600


def dbm_to_psd(trace_dbm: np.ndarray | float, rbw: float, gain_db: float = 0.0,
               noise_bandwidth_factor: float = 1.06) -> np.ndarray | float:
    """Power spectral density (W/Hz) at the device from a trace in dBm per ``rbw`` (Hz).

    The analyzer integrates over its noise bandwidth (≈1.06·RBW for a Gaussian filter);
    ``gain_db`` is the amplifier chain between device and analyzer.
    """
    if rbw <= 0:
        raise ValueError(f"rbw must be positive, got {rbw!r}")
    watts = 1e-3 * np.power(10.0, (np.asarray(trace_dbm, dtype=float) - gain_db) / 10.0)
    psd = watts / (noise_bandwidth_factor * rbw)
    return float(psd) if np.ndim(psd) == 0 else psd


def _median(x: np.ndarray) -> float:
    # np.median's NaN checks and two-element mean cost more than the partition on short arrays.
    k = x.size // 2
    return float(np.partition(x, k)[k])


def floor_statistics(trace_dbm: np.ndarray) -> tuple[float, float]:
    """Robust noise floor (dBm) and point-to-point scatter (dB) of a trace with a few peaks.

    The median is taken twice: the second time without points far above the first
    estimate, so that strong peaks covering part of the span do not lift the floor.
    """
    y = np.asarray(trace_dbm, dtype=float).ravel()
    if not np.all(np.isfinite(y)):
        y = y[np.isfinite(y)]
    if y.size == 0:
        return float("nan"), float("nan")
    sample = y[:: max(1, y.size // _MAX_FLOOR_SAMPLES)]
    med = _median(sample)
    sigma = _MAD_TO_SIGMA * _median(np.abs(sample - med))
    quiet = sample[sample < med + 3.0 * sigma]
    # Pure noise leaves ~0.1 % above 3σ; only a trace with lines needs the second pass.
    if 0.5 * sample.size <= quiet.size < 0.98 * sample.size and sigma > 0:
        # Clipping the top 3σ of pure noise would pull the median down by only ~0.003σ.
        med = _median(quiet)
        sigma = _MAD_TO_SIGMA * _median(np.abs(quiet - med))
    return med, sigma


def estimate_background(trace_dbm: np.ndarray, segments: int = 1) -> float | np.ndarray:
    """Noise floor (dBm) of a trace when no background trace was recorded.

    With ``segments`` > 1 the floor is estimated piecewise and interpolated to every point,
    for spans over which the amplifier gain is not flat.
    """
    y = np.asarray(trace_dbm, dtype=float)
    if segments <= 1:
        return floor_statistics(y)[0]
    edges = np.linspace(0, y.size, segments + 1).astype(int)
    centres = 0.5 * (edges[:-1] + edges[1:]) - 0.5
    levels = np.array([floor_statistics(y[a:b])[0] for a, b in zip(edges[:-1], edges[1:])])
    # A segment filled by a broad line reads high; never let it exceed the global floor by
    # more than 3σ of the trace scatter.
    glob, sigma = floor_statistics(y)
    levels = np.minimum(levels, glob + 3.0 * sigma)
    return np.interp(np.arange(y.size), centres, levels)
