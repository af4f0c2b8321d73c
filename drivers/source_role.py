"""What the source roles (``shno_source``, ``gate``) share: ask before acting, honest ramp-down.

An instrument is found in whatever state its front panel, another program or a crash left
it. Before a role drives an output it asks the output state, source function, level, limit
and range. An output on in the other function is brought to zero *through that function*
and switched off; the role's function is then configured with the output off and verified by
read-back before the output goes on at zero. Ramp-down does the same for whatever function
is active, retries a lost reply after a device clear, and says so when it cannot confirm zero.
"""

from __future__ import annotations

import math
import threading

from drivers.contracts import CURRENT, SourceState
from labctl.clock import Clock
from labctl.errors import InstrumentError
from labctl.safety import Ramp, RampDownFault, Range, ramp_down_with_retries

# steps that bring an output in the other function to zero when no reading tells the load's
# resistance (and so how large a step of that function is in the role's own units)
FOREIGN_STEPS = 50
RETRY_PAUSE = 0.1  # s before a retry: the instrument may still be busy with the lost message
# relative: limits go out with 6 significant digits (%g) and come back as the instrument
# rounds them, so a read-back within this of the request is the request
LIMIT_TOLERANCE = 1e-5


def limits_agree(a: float, b: float) -> bool:
    """Whether two limits are the same one, as sent and as read back."""
    return math.isclose(a, b, rel_tol=LIMIT_TOLERANCE, abs_tol=1e-15)


class SourceRole:
    """Base of ShnoSource and Gate; subclasses set ``role``, ``native`` and the limit calls."""

    role = ""
    native = CURRENT  # the function the role drives

    def __init__(self, driver, allowed: Range, max_step: float, dwell: float, clock: Clock,
                 stop: threading.Event):
        self.driver = driver
        self.allowed = allowed
        self.max_step = max_step
        self.dwell = dwell
        self.clock = clock
        self.stop = stop
        self.last_level: float | None = None  # A or V, last read back or written
        self.last_function = self.native
        self.ramp = Ramp(allowed, self._read_native, self._write_native, max_step, dwell,
                         clock, stop)
        self._prepared = False

    @property
    def unit(self) -> str:
        return "A" if self.native == CURRENT else "V"

    # ---- the instrument's state, asked -----------------------------------------------------
    def _note(self, function: str, level: float) -> float:
        self.last_function, self.last_level = function, level
        return level

    def _read_native(self) -> float:
        return self._note(self.native, self.driver.read_level(self.native))

    def _write_native(self, value: float) -> None:
        self.driver.set_level(self.native, value)
        self._note(self.native, value)

    def read_state(self) -> SourceState:
        state = self.driver.read_state()
        self._note(state.function, state.level)
        return state

    # ---- subclasses: the role's own limit ---------------------------------------------------
    def _configure(self, compliance: float) -> None:
        raise NotImplementedError

    def _set_compliance(self, compliance: float) -> None:
        raise NotImplementedError

    # ---- bringing the instrument into the role's state ------------------------------------
    def _prepare(self, compliance: float) -> None:
        """Output on in the role's function at the given limit, verified by read-back."""
        state = self.read_state()
        if state.output and (state.function != self.native or not self._range_holds(state)):
            # wrong function (or a fixed range too small for the limits): zero through what
            # is active, then off; reconfiguring is only done with the output off
            self._zero(state)
            self.driver.disable_output()
            state = self.read_state()
        if not state.output:
            self._configure(compliance)
            self._write_native(0.0)
            self._verify(self.read_state(), compliance, output=False)
            self.driver.enable_output()
            self._verify(self.read_state(), compliance, output=True)
        else:
            self.driver.configure_measurement(self.native)
            if not limits_agree(state.compliance, compliance):
                self._set_compliance(compliance)
                self._verify(self.read_state(), compliance, output=True)
        self._prepared = True

    def _range_holds(self, state: SourceState) -> bool:
        return state.source_range is None or state.source_range >= max(
            abs(self.allowed.low), abs(self.allowed.high))

    def _verify(self, state: SourceState, compliance: float, output: bool) -> None:
        wrong = []
        if state.function != self.native:
            wrong.append(f"function {state.function} (needs {self.native})")
        if not limits_agree(state.compliance, compliance):
            wrong.append(f"limit {state.compliance:g} (set {compliance:g})")
        if state.output != output:
            wrong.append(f"output {'on' if state.output else 'off'}")
        if not output and state.level != 0:
            wrong.append(f"level {state.level:g} {state.unit} (set 0)")
        if wrong:
            raise InstrumentError(self.driver.name, "read-back",
                                  f"{self.role} not as configured: " + ", ".join(wrong))

    def _zero(self, state: SourceState) -> None:
        """Ramp the active function's level to zero (ignoring abort requests)."""
        if state.function == self.native:
            self.ramp.to_zero()
            return
        level = state.level
        if level == 0:
            return
        step = self._foreign_step(state.function, abs(level))
        span = Range(f"{self.role} ({state.function} found active)", -abs(level), abs(level),
                     state.unit)
        function = state.function

        def write(value: float) -> None:
            self.driver.set_level(function, value)
            self._note(function, value)

        Ramp(span, lambda: self._note(function, self.driver.read_level(function)), write,
             step, self.dwell, self.clock).to_zero()

    def _foreign_step(self, function: str, magnitude: float) -> float:
        """A step of the other function that moves the device about as much as max_step."""
        fallback = magnitude / FOREIGN_STEPS
        try:
            volts, amps = self.driver.measure_voltage(), self.driver.measure_current()
        except (AttributeError, InstrumentError, ValueError):
            return fallback
        if not (math.isfinite(volts) and math.isfinite(amps)) or amps == 0 or volts == 0:
            return fallback
        resistance = abs(volts / amps)
        step = self.max_step * resistance if function != CURRENT else self.max_step / resistance
        return min(max(step, fallback / 20), magnitude)

    def secure(self) -> str:
        """Zero and switch off an output found beyond what the role may leave on; say what.

        An output on in the role's function within the station limits is left alone (a
        resumed run carries on from it); one in the other function, beyond the limits or with
        a limit beyond the station's is brought to zero through its active function.
        """
        state = self.read_state()
        if not state.output or (state.function == self.native and self._range_holds(state)
                                and self.allowed.low <= state.level <= self.allowed.high
                                and self._limit_allowed(state.compliance)):
            return ""
        self._zero(state)
        self.driver.disable_output()
        self._prepared = False
        return (f"{self.role}: found on at {state.level:g} {state.unit} in the {state.function} "
                f"function (limit {state.compliance:g}); ramped to 0 and switched off")

    def _limit_allowed(self, limit: float) -> bool:
        return True

    # ---- making safe ----------------------------------------------------------------------------
    def ramp_down(self) -> None:
        """Ramp the active function to zero (ignoring aborts), then off; confirmed by read-back.

        A lost reply is retried after a device clear, from a fresh read-back. Raises
        OutputNotConfirmed if zero cannot be confirmed, RampDownFault if it was only
        confirmed after a fault (so that a run with a fault never ends ``completed``).
        """
        self._prepared = False
        faults = ramp_down_with_retries(
            self.role, self.driver.name, self._ramp_down_once, self.driver.device_clear,
            self.clock, RETRY_PAUSE,
            lambda: (self.last_level, "A" if self.last_function == CURRENT else "V"))
        try:
            self.driver.raise_errors()
        except InstrumentError as err:
            faults.append(str(err))
        if faults:
            raise RampDownFault(self.role, faults, self.unit)

    def _ramp_down_once(self) -> None:
        state = self.read_state()
        if state.output:
            self._zero(state)
            level = self._note(state.function, self.driver.read_level(state.function))
            if level != 0:
                raise InstrumentError(self.driver.name, "read-back",
                                      f"level reads {level:g} {state.unit} after the ramp to 0")
            self.driver.disable_output()
        if self.driver.read_output_enabled():
            raise InstrumentError(self.driver.name, "read-back", "output still on")
