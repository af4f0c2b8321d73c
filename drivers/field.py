"""The ``field`` role: closed-loop magnetic field from a bipolar supply and a gaussmeter.

Every current change goes through :class:`labctl.safety.Ramp` (rate limit = max_step /
dwell), the setpoint is approached from one side only (remanence of the pole pieces), and
the loop is closed on the averaged gaussmeter reading.
"""

from __future__ import annotations

import threading

import numpy as np

from drivers.contracts import CURRENT, BipolarSupply, Gaussmeter
from labctl.clock import Clock
from labctl.config import FieldConfig
from labctl.errors import InstrumentError, Interrupted
from labctl.field_calibration import Calibration
from labctl.safety import Ramp, RampDownFault, Range, ramp_down_with_retries

DEFAULT_VOLTAGE_LIMIT = 20.0  # V: supply compliance when the station file names none
# A: the coil current waited for before the output is switched off; half the supply
# driver's own threshold, so that the driver's check (a fresh, noisy reading) agrees
ZERO_CURRENT = 0.005
FOREIGN_STEPS = 50  # steps to 0 V for a supply found in voltage mode with no coil current


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
        self.last_coil_current: float | None = None  # A, last measured (for honest reports)

    # ---- public role interface ----------------------------------------------------------
    def set_field(self, tesla: float) -> float:
        """Bring the field to ``tesla`` within the tolerance; return the measured field (T).

        Raises LimitError before anything is sent if the field or its calibrated current is
        beyond the station limits, Interrupted on an abort request, and InstrumentError if
        the gaussmeter does not confirm the field after ``max_iterations`` corrections or the
        field cannot be reached within the supply's current limit (naming the field reached
        and the current used).
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
                # things were sent and the magnet moved: an instrument-side failure to reach
                # the field, not a refused request
                raise InstrumentError(
                    getattr(self.supply, "name", "supply"), "closed loop",
                    f"magnet field {target:g} T not reachable: reached {measured:g} T at "
                    f"{present:g} A; the correction needs {current:g} A, beyond the station "
                    f"limit {self.limits.max_current:g} A (check the calibration table)"
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

    def secure(self) -> str:
        """Zero and switch off a supply found on in voltage mode or beyond the current limit."""
        if not self.supply.read_output_enabled():
            return ""
        mode = self.supply.read_mode()
        setpoint = self.supply.read_current_setpoint()
        if mode == CURRENT and abs(setpoint) <= self.limits.max_current:
            return ""
        if mode != CURRENT and self.supply.read_voltage_setpoint() == 0 and \
                abs(self._measure_coil()) <= ZERO_CURRENT:
            return ""  # the BOP's power-up state, driving nothing: set_field changes its mode
        level = (f"{setpoint:g} A" if mode == CURRENT
                 else f"{self.supply.read_voltage_setpoint():g} V")
        self._ramp_down_once()
        self._prepared = False
        return f"field: supply found on at {level} in {mode} mode; ramped to 0 and switched off"

    def ramp_down(self) -> None:
        """Ramp the active setting to zero at the rate limit (ignoring aborts), then output off.

        The output is only switched off once the coil current has decayed: breaking an
        inductive circuit under current would induce a voltage spike. A lost reply is
        retried after a device clear; OutputNotConfirmed if zero cannot be confirmed.
        """
        self._prepared = False
        faults = ramp_down_with_retries(
            "field", getattr(self.supply, "name", "supply"), self._ramp_down_once,
            self.supply.device_clear, self.clock, self.limits.step_time,
            lambda: (self.last_coil_current, "A"))
        for instrument in (self.supply, self.gaussmeter):
            try:
                instrument.raise_errors()
            except InstrumentError as err:
                faults.append(str(err))
        if faults:
            raise RampDownFault("field", faults, "A")

    def _ramp_down_once(self) -> None:
        if not self.supply.read_output_enabled():
            return
        # an interrupted ramp stops without the dwell of its last step: give it that dwell
        self.clock.sleep(self.limits.step_time)
        if self.supply.read_mode() == CURRENT:
            start = self.supply.read_current_setpoint()
            self.ramp.to_zero()
            if start != 0:
                self._last_move = -1 if start > 0 else 1
        else:
            self._zero_voltage_mode()
        self._wait_for_coil()
        self.supply.disable_output()
        if self.supply.read_output_enabled():
            raise InstrumentError(getattr(self.supply, "name", "supply"), "read-back",
                                  "output still on after switching it off")

    def _wait_for_coil(self) -> None:
        """Wait until the measured coil current is near zero; InstrumentError if it stays."""
        coil = self._measure_coil()
        waited = 0.0
        timeout = max(5.0, 10 * self.limits.settle_time)
        while abs(coil) > ZERO_CURRENT and waited < timeout:
            self.clock.sleep(self.limits.step_time)
            waited += self.limits.step_time
            coil = self._measure_coil()
        if abs(coil) > ZERO_CURRENT:
            raise InstrumentError(
                getattr(self.supply, "name", "supply"),
                "MEASure:CURRent?",
                f"coil current still {coil:g} A {waited:g} s after the setpoint reached 0; "
                "output left on",
            )

    def _measure_coil(self) -> float:
        self.last_coil_current = self.supply.measure_current()
        return self.last_coil_current

    def _zero_voltage_mode(self) -> None:
        """Bring a supply found in voltage mode to 0 V at the current ramp rate (coil = V/R)."""
        volts = self.supply.read_voltage_setpoint()
        if volts == 0:
            return
        coil = self._measure_coil()
        max_amps_step = self.limits.max_ramp_rate * self.limits.step_time
        if abs(coil) > ZERO_CURRENT:
            step = max_amps_step * abs(volts / coil)  # V per step that moves the coil as much
        else:
            step = abs(volts) / FOREIGN_STEPS
        span = Range("supply voltage (found in voltage mode)", -abs(volts), abs(volts), "V")
        Ramp(span, self.supply.read_voltage_setpoint, self.supply.set_voltage,
             min(step, abs(volts)), self.limits.step_time, self.clock).to_zero()

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
        """Current mode with the voltage limit, output on (at 0 A if it was off), asked first.

        A supply found on in voltage mode (the Kepco BOP's factory power-up state) is brought
        to 0 V through voltage mode and switched off before its mode is changed: in voltage
        mode a current setpoint is only a limit, and switching mode with the output on would
        jump the coil to whatever the other setting holds.
        """
        if self._prepared:
            return
        on = self.supply.read_output_enabled()
        if on and self.supply.read_mode() != CURRENT:
            self._zero_voltage_mode()
            self._wait_for_coil()
            self.supply.disable_output()
            on = self.supply.read_output_enabled()
        if not on:
            self.supply.configure_current_mode(self.voltage_limit)
            self.supply.set_current(0.0)
            if self.supply.read_current_setpoint() != 0:
                raise InstrumentError(getattr(self.supply, "name", "supply"), "read-back",
                                      "current setpoint not 0 A before switching on")
            self.supply.enable_output()
            if not self.supply.read_output_enabled():
                raise InstrumentError(getattr(self.supply, "name", "supply"), "read-back",
                                      "output not on after switching it on")
            self._last_move = 0
            # the zero setpoint counts as a ramp step: dwell before the first real one
            if not self.clock.sleep(self.limits.step_time, self.stop):
                raise Interrupted("magnet field: interrupted after switching the supply on")
        elif abs(self.supply.read_voltage_setpoint() - self.voltage_limit) > 1e-6:
            self.supply.set_voltage_limit(self.voltage_limit)  # only clamps: safe while on
        self.gaussmeter.configure_field_reading(self.limits.max_field)
        self.supply.raise_errors()
        self.gaussmeter.raise_errors()
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
