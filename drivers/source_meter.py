"""What every Keithley source-meter driver of labctl shares.

Numeric controls that raise on out-of-range values (pymeasure's may clamp), the error queue read
as (code, message), and no way around the station's safe ramps: pymeasure's own ramp shortcuts
are refused and the output is only switched off at a zero level.
"""

from __future__ import annotations

import math

from pymeasure.instruments import Instrument
from pymeasure.instruments.validators import strict_range

from drivers.base import LabInstrument, UnsafeCommand, blocked
from drivers.contracts import CURRENT, VOLTAGE, SourceState
from labctl.errors import InstrumentError

# source levels go out with 10 significant digits: with %g's 6, a ramp step across a decade
# (0.000999878 -> 0.00100988 A) is rounded to more than the station's max_step
LEVEL_FORMAT = "%.10g"


def strict_control(get: str | None, set_: str, doc: str, values, **kwargs):
    """A numeric control whose out-of-range values raise (pymeasure's default may clamp)."""
    return Instrument.control(get, set_, doc, validator=strict_range, values=values, **kwargs)


def error_entry(values: list) -> tuple[int, str]:
    """(code, message) from a ``SYST:ERR?`` reply such as ``-113,"Undefined header"``."""
    code = int(float(values[0]))
    message = str(values[1]).strip().strip('"') if len(values) > 1 else ""
    return code, message


class KeithleySourceMeter(LabInstrument):
    """Mixin, first in the bases of a Keithley driver (before the pymeasure class)."""

    next_error = Instrument.measurement(
        "SYST:ERR?", """Get the next error-queue entry as (code, message).""",
        cast=str, maxsplit=1, get_process=lambda v: error_entry([v]),
        get_process_list=error_entry,
    )

    ERROR_QUERY = "SYST:ERR?"
    # the compliance-trip query of each source function (models set it)
    TRIP_QUERIES: dict[str, str] = {}
    # per source function: (level query, limit query, range-auto query, range query)
    STATE_QUERIES: dict[str, tuple[str, str, str, str]] = {}
    FUNCTION_QUERY = ":SOUR:FUNC?"  # None on a model with one source function
    FUNCTIONS = {"CURR": CURRENT, "VOLT": VOLTAGE}

    # ---- the output ---------------------------------------------------------------------
    OUTPUT_COMMAND = ":OUTP %d"  # the model's spelling

    def read_output_enabled(self) -> bool:
        return bool(self.source_enabled)

    def enable_output(self) -> None:
        """Output on: for a role, which has set the level to zero and verified it first."""
        self.write(self.OUTPUT_COMMAND % 1)

    def disable_output(self) -> None:
        """Switch the output off, only once its level reads zero (asked, not assumed)."""
        with self.session():
            if not self.read_output_enabled():
                return
            function = self.read_source_function()
            level = self.read_level(function)
            if not math.isclose(level, 0.0, abs_tol=1e-12):
                raise UnsafeCommand(f"{self.name}: output at {level:g} "
                                    f"{'A' if function == CURRENT else 'V'}, not 0; ramp "
                                    "it down with its role before switching it off")
            self.write(self.OUTPUT_COMMAND % 0)

    def _refuse_with_output_on(self, what: str) -> None:
        # switching function or range with the output on could drive the device through a
        # level it was never ramped to: the roles bring the output to zero and off first
        if self.read_output_enabled():
            raise UnsafeCommand(f"{self.name}: {what} refused with the output on; its role "
                                "ramps the output to zero and switches it off first")

    # ---- what the instrument is doing, asked -------------------------------------------
    def read_source_function(self) -> str:
        """CURRENT or VOLTAGE: the function the output follows (asked every time)."""
        if self.FUNCTION_QUERY is None:
            return CURRENT
        reply = self.ask(self.FUNCTION_QUERY).strip().strip('"').upper()
        for prefix, function in self.FUNCTIONS.items():
            if reply.startswith(prefix):
                return function
        raise InstrumentError(self.name, self.FUNCTION_QUERY, f"unexpected reply {reply!r}")

    def read_state(self) -> SourceState:
        """Output, function, level, limit and range, in two exchanges."""
        with self.session():
            queries = ";".join([":OUTP?"] + ([self.FUNCTION_QUERY] if self.FUNCTION_QUERY
                                             else []))
            first = self.ask(queries).strip().split(";")
            try:
                output = bool(int(float(first[0])))
                function = CURRENT
                if self.FUNCTION_QUERY:
                    name = first[1].strip().strip('"').upper()
                    function = next(f for p, f in self.FUNCTIONS.items() if name.startswith(p))
            except (ValueError, IndexError, StopIteration):
                raise InstrumentError(self.name, queries, f"unexpected reply {first!r}") from None
            queries = ";".join(self.STATE_QUERIES[function])
            reply = self.ask(queries)
        try:
            level, limit, auto, fixed = (float(v) for v in reply.strip().split(";"))
        except ValueError:
            raise InstrumentError(self.name, queries, f"unexpected reply {reply!r}") from None
        return SourceState(output, function, level, abs(limit),
                           None if int(auto) else abs(fixed))

    def read_level(self, function: str) -> float:
        """The programmed level of ``function`` (A or V), asked."""
        return float(self.values(self.STATE_QUERIES[function][0])[0])

    def set_level(self, function: str, value: float) -> None:
        """Program the level of ``function``: for a role's ramp only."""
        if function == CURRENT:
            self.set_source_current(value)
        else:
            self.set_source_voltage(value)

    def present_level(self) -> float:
        """The programmed level of the present source function, read from the instrument."""
        return self.read_level(self.read_source_function())

    def in_compliance(self) -> bool:
        """Whether the source is clamped at its limit (asks the source function first)."""
        # the trip flag belongs to the source function in use, which the front panel may
        # have changed: ask, do not assume
        return bool(int(float(self.ask(self.TRIP_QUERIES[self.read_source_function()]))))

    # ---- limits, verified by read-back ----------------------------------------------------
    def read_compliance_voltage(self) -> float:
        return abs(float(self.compliance_voltage))

    def set_compliance_voltage(self, volts: float) -> None:
        self.compliance_voltage = volts

    # ---- pymeasure shortcuts that would bypass the station's ramps -------------------------
    ramp_to_current = blocked("the shno_source role's ramp_to (station limits and steps)")
    ramp_to_voltage = blocked("the gate role's ramp_to (station limits and compliance)")
    apply_current = blocked("the shno_source role (it configures with the output at zero)")
    apply_voltage = blocked("the gate role (it configures with the output at zero)")
    enable_source = blocked("the roles, which switch the output on at a zero level")
    disable_source = blocked("the role's ramp_down (ramp to zero, then off)")
    auto_range_source = blocked("the roles' configure (auto range with the output off)")
    # triggered sweeps, buffers and waveforms drive the output by themselves
    start_buffer = blocked("the roles (labctl does not run the source's own sweeps)")
    trigger = blocked("the roles (labctl does not run the source's own sweeps)")

    def reset(self) -> None:
        """*RST: refused while the output is on (it would switch it off at a live level)."""
        self._refuse_with_output_on("*RST")
        self._reset()

    def shutdown(self) -> None:
        """Switch the output off, but only at a zero level (ramp down with the role first)."""
        self.disable_output()
        self.isShutdown = True
