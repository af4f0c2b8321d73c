"""Spectrum-analyzer traces: dBm in a resolution bandwidth to device-referred PSD, noise floor."""

from __future__ import annotations

import numpy as np

# Standard deviation of a normal distribution in units of its interquartile range.
_IQR_TO_SIGMA = 1.0 / 1.3489795
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
    if isinstance(trace_dbm, float):  # one level per fitted line: skip numpy's overhead
        return 1e-3 * 10.0 ** ((trace_dbm - gain_db) / 10.0) / (noise_bandwidth_factor * rbw)
    watts = 1e-3 * np.power(10.0, (np.asarray(trace_dbm, dtype=float) - gain_db) / 10.0)
    psd = watts / (noise_bandwidth_factor * rbw)
    return float(psd) if np.ndim(psd) == 0 else psd


def _median_and_sigma(x: np.ndarray) -> tuple[float, float]:
    """Median and the σ the interquartile range implies for normal scatter; ``x`` is reordered.

    One partition at the three quartiles costs less than the two a median and a median
    absolute deviation need, and for normal samples the IQR is just as efficient.
    """
    n = x.size
    q1, q2, q3 = n // 4, n // 2, (3 * n) // 4
    x.partition((q1, q2, q3))
    return float(x[q2]), float(x[q3] - x[q1]) * _IQR_TO_SIGMA


def floor_statistics(trace_dbm: np.ndarray) -> tuple[float, float]:
    """Robust noise floor (dBm) and point-to-point scatter (dB) of a trace with a few peaks.

    The median is taken twice: the second time without points far above the first
    estimate, so that strong peaks covering part of the span do not lift the floor.
    """
    y = np.asarray(trace_dbm, dtype=float).ravel()
    sample = y[:: max(1, y.size // _MAX_FLOOR_SAMPLES)]
    if not np.all(np.isfinite(sample)):
        sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return float("nan"), float("nan")
    return _sample_floor_statistics(sample)


def _sample_floor_statistics(sample: np.ndarray) -> tuple[float, float]:
    """:func:`floor_statistics` of an already thinned, finite, 1-D float sample."""
    med, sigma = _median_and_sigma(sample.copy())
    quiet = sample[sample < med + 3.0 * sigma]
    # Pure noise leaves ~0.1 % above 3σ; only a trace with lines needs the second pass.
    if 0.5 * sample.size <= quiet.size < 0.98 * sample.size and sigma > 0:
        # Clipping the top 3σ of pure noise would pull the median down by only ~0.003σ.
        med, sigma = _median_and_sigma(quiet)
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
