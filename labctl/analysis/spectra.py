"""Spectrum-analyzer traces: dBm in a resolution bandwidth to device-referred PSD, noise floor."""

from __future__ import annotations

import numpy as np

# Standard deviation of a normal distribution in units of its interquartile range.
_IQR_TO_SIGMA = 1.0 / 1.3489795
# Every n-th point is plenty for a robust floor on 10^4-point traces and keeps fits fast.
MAX_FLOOR_SAMPLES = 600


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


def floor_statistics(trace_dbm: np.ndarray) -> tuple[float, float]:
    """Robust noise floor (dBm) and point-to-point scatter (dB) of a trace with a few peaks.

    The median is taken twice: the second time without points far above the first
    estimate, so that strong peaks covering part of the span do not lift the floor.
    """
    y = np.asarray(trace_dbm, dtype=float).ravel()
    sample = y[:: max(1, y.size // MAX_FLOOR_SAMPLES)]
    if not np.all(np.isfinite(sample)):
        sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return float("nan"), float("nan")
    return sample_floor_statistics(sample)


def sample_floor_statistics(sample: np.ndarray) -> tuple[float, float]:
    """:func:`floor_statistics` of an already thinned, finite, 1-D float sample.

    Median and σ come from one partition at the three quartiles (the interquartile range
    is as efficient as the median absolute deviation for normal scatter, and cheaper).
    """
    x = sample.copy()
    n = x.size
    q1, q2, q3 = n // 4, n // 2, (3 * n) // 4
    x.partition((q1, q2, q3))
    med = float(x[q2])
    sigma = float(x[q3] - x[q1]) * _IQR_TO_SIGMA
    limit = med + 3.0 * sigma
    # Pure noise leaves ~0.1 % above 3σ; only a trace with lines needs the second pass.
    if sigma <= 0 or not x[q3] < limit:
        return med, sigma
    high = int(np.count_nonzero(x[q3:] >= limit))  # all above limit are in the top quarter
    if 0.02 * n < high <= 0.5 * n:
        # Clipping the top 3σ of pure noise would pull the median down by only ~0.003σ.
        # The rest holds the q3 lowest samples, so its quartiles are among them.
        m = n - high
        low = x[:q3]
        q1, q2, q3 = m // 4, m // 2, (3 * m) // 4
        low.partition((q1, q2, q3))
        med = float(low[q2])
        sigma = float(low[q3] - low[q1]) * _IQR_TO_SIGMA
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
