"""The magnet's calibration table: supply current (A) <-> field (T), rising in both."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Calibration:
    """Supply current (A) <-> field (T) from a table rising in both; linear beyond its ends."""

    def __init__(self, table: Sequence[tuple[float, float]]):
        data = np.asarray(table, dtype=float)
        if data.ndim != 2 or data.shape[0] < 2 or data.shape[1] != 2:
            raise ValueError("calibration needs at least two (current, field) pairs")
        self.currents = data[:, 0]
        self.fields = data[:, 1]
        if np.any(np.diff(self.currents) <= 0) or np.any(np.diff(self.fields) <= 0):
            raise ValueError("calibration must rise in both current and field")

    @staticmethod
    def _interp(x: float, xs: np.ndarray, ys: np.ndarray) -> float:
        if x < xs[0]:
            return float(ys[0] + (x - xs[0]) * (ys[1] - ys[0]) / (xs[1] - xs[0]))
        if x > xs[-1]:
            return float(ys[-1] + (x - xs[-1]) * (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]))
        return float(np.interp(x, xs, ys))

    def current_for(self, tesla: float) -> float:
        """Supply current (A) expected to give ``tesla``."""
        return self._interp(tesla, self.fields, self.currents)

    def field_for(self, amps: float) -> float:
        """Field (T) expected at supply current ``amps``."""
        return self._interp(amps, self.currents, self.fields)

    def slope(self, amps: float) -> float:
        """dB/dI (T/A) of the table segment that holds ``amps``."""
        k = int(np.clip(np.searchsorted(self.currents, amps) - 1, 0, len(self.currents) - 2))
        return float(
            (self.fields[k + 1] - self.fields[k]) / (self.currents[k + 1] - self.currents[k])
        )

    def as_list(self) -> list[list[float]]:
        return [[float(i), float(b)] for i, b in zip(self.currents, self.fields)]
