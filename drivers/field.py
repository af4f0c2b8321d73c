"""The ``field`` role: closed-loop magnetic field from a bipolar supply and a gaussmeter.

Every current change goes through :class:`labctl.safety.Ramp` (rate limit = max_step /
dwell), the setpoint is approached from one side only (remanence of the pole pieces), and
the loop is closed on the averaged gaussmeter reading.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from drivers.contracts import BipolarSupply, Gaussmeter
from labctl.clock import Clock
from labctl.config import FieldConfig
from labctl.errors import InstrumentError, Interrupted, LimitError
from labctl.safety import Ramp, Range

DEFAULT_VOLTAGE_LIMIT = 20.0  # V: supply compliance when the station file names none
ZERO_CURRENT = 0.01  # A: coil current regarded as zero before the output is switched off


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


class FieldController:
    """Sets the magnet field in closed loop; only ever moves the supply by safe ramps."""

    role = "field"

    def __init__(
        self,
        supply: BipolarSupply,
        gaussmeter: Gaussmeter,
        config: FieldConfig,
        clock: Clock,
        stop: threading.Event,
        *,
        voltage_limit: float = DEFAULT_VOLTAGE_LIMIT,
        readings: int = 5,
        reading_interval: float = 0.1,
        max_iterations: int = 10,
    ):
        self.supply = supply
        self.gaussmeter = gaussmeter
        self.config = config
        self.limits = limits = config.limits
        self.clock = clock
        self.stop = stop
        self.voltage_limit = voltage_limit
        self.readings = max(1, int(readings))
        self.reading_interval = reading_interval
        self.max_iterations = max_iterations
        self.calibration = Calibration(config.calibration)
        self.allowed = Range("magnet current", -limits.max_current, limits.max_current, "A")
        self.field_range = Range("magnet field", -limits.max_field, limits.max_field, "T")
        self.ramp = Ramp(
            self.allowed,
            supply.read_current_setpoint,
            supply.set_current,
            limits.max_ramp_rate * limits.step_time,
            limits.step_time,
            clock,
            stop,
        )
        # +1 for approach from below (the last move must be upward), -1 from above
        self.side = 1 if limits.approach == "below" else -1
        self._last_move = 0  # direction of the last completed ramp; 0 = unknown
        self._prepared = False
        self.target: float | None = None

    # ---- public role interface ----------------------------------------------------------
    def set_field(self, tesla: float) -> float:
        """Bring the field to ``tesla`` within the tolerance; return the measured field (T).

        Raises LimitError before anything is sent if the field or its calibrated current is
        beyond the station limits, Interrupted on an abort request, and InstrumentError if
        the gaussmeter does not confirm the field after ``max_iterations`` corrections.
        """
        target = self.field_range.check(tesla)
        current = self.allowed.check(self.calibration.current_for(target))
        self.target = target
        self._prepare()
        self._approach(current)
        measured = self._settle_and_measure()
        for _ in range(self.max_iterations):
            error = target - measured
            if abs(error) <= self.limits.tolerance:
                return measured
            present = self.supply.read_current_setpoint()
            current = present + error / self.calibration.slope(present)
            if abs(current) > self.limits.max_current:
                raise LimitError(
                    f"magnet field {target:g} T: needs {current:g} A, beyond the station "
                    f"limit {self.limits.max_current:g} A (field reads {measured:g} T)"
                )
            self._approach(current)
            measured = self._settle_and_measure()
        if abs(target - measured) <= self.limits.tolerance:
            return measured
        raise InstrumentError(
            getattr(self.gaussmeter, "name", "gaussmeter"),
            getattr(self.gaussmeter, "last_command", "") or "read_field",
            f"field {target:g} T not reached after {self.max_iterations} corrections: "
            f"reads {measured:g} T (tolerance {self.limits.tolerance:g} T)",
        )

    def read_field(self) -> float:
        """One fresh gaussmeter reading in T."""
        return self.gaussmeter.read_field()

    def read_current(self) -> float:
        """Programmed supply current in A (fresh read-back)."""
        return self.supply.read_current_setpoint()

    def ramp_down(self) -> None:
        """Ramp the current to zero at the rate limit (ignoring aborts), then output off.

        The output is only switched off once the coil current has decayed: breaking an
        inductive circuit under current would induce a voltage spike.
        """
        self._prepared = False
        if not self.supply.read_output_enabled():
            return
        # an interrupted ramp stops without the dwell of its last step: give it that dwell
        self.clock.sleep(self.limits.step_time)
        start = self.supply.read_current_setpoint()
        self.ramp.to_zero()
        if start != 0:
            self._last_move = -1 if start > 0 else 1
        coil = self.supply.measure_current()
        waited = 0.0
        timeout = max(5.0, 10 * self.limits.settle_time)
        while abs(coil) > ZERO_CURRENT and waited < timeout:
            self.clock.sleep(self.limits.step_time)
            waited += self.limits.step_time
            coil = self.supply.measure_current()
        if abs(coil) > ZERO_CURRENT:
            raise InstrumentError(
                getattr(self.supply, "name", "supply"),
                "MEASure:CURRent?",
                f"coil current still {coil:g} A {waited:g} s after the setpoint reached 0 A; "
                "output left on",
            )
        self.supply.disable_output()

    def snapshot(self) -> dict:
        return {
            "idn": {"supply": self.supply.id, "gaussmeter": self.gaussmeter.id},
            "current_setpoint": self.supply.read_current_setpoint(),
            "output_enabled": self.supply.read_output_enabled(),
            "field": self.read_field(),
            "target": self.target,
            "limits": self.limits.model_dump(),
            "calibration": self.calibration.as_list(),
            "voltage_limit": self.voltage_limit,
        }

    # ---- internals ------------------------------------------------------------------------
    def _prepare(self) -> None:
        """Current mode with the voltage limit; output on at 0 A if it was off."""
        if self._prepared:
            return
        if not self.supply.read_output_enabled():
            self.supply.configure_current_mode(self.voltage_limit)
            self.supply.set_current(0.0)
            self.supply.enable_output()
            self._last_move = 0
            # the zero setpoint counts as a ramp step: dwell before the first real one
            if not self.clock.sleep(self.limits.step_time, self.stop):
                raise Interrupted("magnet field: interrupted after switching the supply on")
        self.supply.raise_errors()
        self._prepared = True

    def _approach_margin(self, amps: float) -> float:
        """The overshoot expressed as a current (A) near ``amps``."""
        return self.limits.overshoot / self.calibration.slope(amps)

    def _approach(self, amps: float) -> None:
        """Ramp to ``amps`` so that the last move is in the approach direction.

        Continuing in the approach direction is a single ramp; otherwise the supply first
        goes past the target by the overshoot (kept within the current limit).
        """
        amps = self.allowed.check(amps)
        present = self.supply.read_current_setpoint()
        onward = self.side * (amps - present)
        if onward >= 0 and self._last_move == self.side:
            self._ramp(present, amps)
        else:
            pre = amps - self.side * self._approach_margin(amps)
            pre = float(np.clip(pre, -self.limits.max_current, self.limits.max_current))
            if self.side * (present - pre) > 0:
                self._ramp(present, pre)
                present = pre
            self._ramp(present, amps)
        self.supply.raise_errors()

    def _ramp(self, start: float, amps: float) -> None:
        previous, self._last_move = self._last_move, 0  # unknown until the ramp completes
        self.ramp.to(amps)
        self._last_move = previous if amps == start else (1 if amps > start else -1)

    def _settle_and_measure(self) -> float:
        """Wait the settle time, then average a few gaussmeter readings (T)."""
        if not self.clock.sleep(self.limits.settle_time, self.stop):
            raise Interrupted("magnet field: interrupted while settling")
        values = []
        for k in range(self.readings):
            if k and not self.clock.sleep(self.reading_interval, self.stop):
                raise Interrupted("magnet field: interrupted while reading the gaussmeter")
            values.append(self.gaussmeter.read_field())
        return float(np.mean(values))
