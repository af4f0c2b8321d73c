"""Simulated Keithley 2450, 2400 and 6221: the SCPI the labctl drivers send, nothing more.

Each instrument drives one terminal of the device model (``shno_source`` or ``gate``, its
station slot name). Levels and limits apply at once while the output is on; a reading
advances the virtual clock by its integration time (NPLC / 50 Hz). Out-of-range values push
-222 to the error queue and are not applied, as on the real instruments.
"""

from __future__ import annotations

from labctl.sim.instrument import DATA_OUT_OF_RANGE, SimCommandError, SimInstrument
from labctl.sim.scpi import parse_bool, parse_number, scpi

POWER_LINE = 50.0  # Hz: one NPLC lasts 20 ms
TRIP_TOLERANCE = 1e-6  # relative: a clamped source sits at its limit
VOLTAGE_RANGES_2450 = (0.02, 0.2, 2.0, 20.0, 200.0)  # V
CURRENT_RANGES_2450 = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0)  # A


def _range_in_use(fixed: float, auto: bool, level: float, ranges: tuple[float, ...]) -> float:
    """The source range in use: the fixed one, or the smallest that holds the level."""
    if not auto:
        return fixed
    return next((r for r in ranges if abs(level) <= r * 1.05), ranges[-1])


def _numeric(pattern: str, attr: str, low: float, high: float, applies_to: str = "",
             magnitude: bool = False, allowed=None):
    """A (set, query) handler pair for a numeric setting stored in ``attr``.

    ``applies_to`` names the source function ("CURR"/"VOLT") whose output the setting
    changes at once; ``magnitude`` stores |value| (ranges, 2400 compliance); ``allowed(self,
    value)`` is a further check that depends on the instrument's state.
    """

    def set_value(self, args):
        value = parse_number(args, low, high)
        if not low <= value <= high or (allowed is not None and not allowed(self, value)):
            raise SimCommandError(*DATA_OUT_OF_RANGE)
        setattr(self, attr, abs(value) if magnitude else value)
        if applies_to and self.output and self.function == applies_to:
            self._apply()

    def query_value(self, args):
        return self.number(getattr(self, attr))

    return scpi(pattern)(set_value), scpi(pattern + "?")(query_value)


def _switch(pattern: str, attr: str):
    """A (set, query) handler pair for an ON/OFF setting stored in ``attr``."""

    def set_value(self, args):
        setattr(self, attr, parse_bool(args))

    def query_value(self, args):
        return "1" if getattr(self, attr) else "0"

    return scpi(pattern)(set_value), scpi(pattern + "?")(query_value)


class _SimSource(SimInstrument):
    """What all three share: a source with a limit, an output relay, IEEE 488.2 basics."""

    max_current = 1.05  # A
    max_voltage = 210.0  # V
    default_function = "VOLT"

    def __init__(self, name: str, device, clock, faults=None, seed: int = 0, power_up=None,
                 options=None):
        super().__init__(name, device, clock, faults, seed, power_up, options)
        self.terminal = device.terminal(name)
        self._advance = getattr(clock, "advance", None)  # only a virtual clock can jump
        self.output = False
        self.reset_peaks()
        self.power_on()

    # ---- what the device saw (the tests' physical oracle) -------------------------------
    def reset_peaks(self) -> None:
        """Forget the largest |V| and |I| seen at the terminals so far."""
        self.peak_voltage = self.peak_current = 0.0
        self.live_switch_offs: list[tuple[float, float, float]] = []  # (t, V, I)

    def _observe(self, v: float, i: float) -> None:
        self.peak_voltage = max(self.peak_voltage, abs(v))
        self.peak_current = max(self.peak_current, abs(i))

    def apply_power_up(self, state) -> None:
        """Found sourcing: the function, its limit and level, maybe a fixed range, output."""
        self.function = "CURR" if state.function == "current" else "VOLT"
        if state.compliance is not None:
            if self.function == "CURR":
                self.voltage_limit = state.compliance
            else:
                self.current_limit = state.compliance
        if state.source_range is not None:
            if self.function == "CURR":
                self.current_range, self.current_range_auto = state.source_range, False
            else:
                self.voltage_range, self.voltage_range_auto = state.source_range, False
        if self.function == "CURR":
            self.current_level = state.level
        else:
            self.voltage_level = state.level
        self._set_output(state.output)

    def reset(self) -> None:
        if getattr(self, "output", False):
            self._set_output(False)  # *RST switches a live output off, as the real one does
        self.function = self.default_function
        self.current_level = 0.0
        self.voltage_level = 0.0
        self.voltage_limit = 21.0  # V, limit of the current source
        self.current_limit = 105e-6  # A, limit of the voltage source
        self.current_range, self.voltage_range = 1e-4, 2.0
        self.current_range_auto = self.voltage_range_auto = True
        self.sense_current_range, self.sense_voltage_range = 1e-4, 2.0
        self.sense_current_auto = self.sense_voltage_auto = True
        self.sense = "CURR"
        self.nplc = 1.0
        self.output = False
        self._t0 = self.clock.now()
        self.terminal.off()

    # ---- physics ---------------------------------------------------------------------
    def _apply(self) -> None:
        if self.function == "CURR":
            v, i = self.terminal.source_current(self.current_level, self.voltage_limit)
        else:
            v, i = self.terminal.source_voltage(self.voltage_level, self.current_limit)
        self._observe(v, i)

    def _state(self) -> tuple[float, float]:
        """(V, I) at the terminals now; zero with the output off."""
        return self.terminal.read() if self.output else (0.0, 0.0)

    def _reading(self) -> tuple[float, float]:
        """(V, I) measured over the integration time."""
        if self._advance is not None:
            self._advance(self.nplc / POWER_LINE)
        v, i = self._state()
        self._observe(v, i)
        return v, i

    def _tripped(self, function: str) -> bool:
        if not self.output or self.function != function:
            return False
        v, i = self._state()
        if function == "CURR":
            return abs(v) >= self.voltage_limit * (1 - TRIP_TOLERANCE)
        return abs(i) >= self.current_limit * (1 - TRIP_TOLERANCE)

    def on_breakdown_fault(self) -> None:
        """Injected breakdown: the memristor behind a gate source fails short."""
        if self.name == "gate":
            self.device.break_memristor()

    def _set_output(self, on: bool) -> None:
        if self.output and not on:
            v, i = self._state()
            level = self.current_level if self.function == "CURR" else self.voltage_level
            if abs(i) > 1e-9 or abs(v) > 1e-6 or level != 0:
                self.live_switch_offs.append((self.clock.now(), v, i))  # a real transient
        self.output = on
        if on:
            self._apply()
        else:
            self.terminal.off()

    @staticmethod
    def number(x: float) -> str:
        return f"{x:.6E}"

    # ---- common commands ---------------------------------------------------------------
    @scpi(":SYSTem:ERRor[:NEXT]?")
    def _error(self, args):
        return self.next_error()

    @scpi(":STATus:PRESet")
    def _status_preset(self, args):
        """Nothing to preset: the simulated status model has no enable masks."""

    @scpi(":OUTPut[:STATe]")
    def _output(self, args):
        self._set_output(parse_bool(args))

    @scpi(":OUTPut[:STATe]?")
    def _output_query(self, args):
        return "1" if self.output else "0"


class _SimSourceMeter(_SimSource):
    """Source and measure settings the 2450 and 2400 spell the same way."""

    @scpi("[:SOURce#]:FUNCtion[:MODE]")
    def _function(self, args):
        a = args.strip().upper()
        function = "CURR" if a.startswith("CURR") else "VOLT" if a.startswith("VOLT") else ""
        if not function:
            raise ValueError(args)
        if function != self.function:
            self.function = function
            if self.output:
                self._on_function_change()

    def _on_function_change(self) -> None:
        self._apply()

    @scpi("[:SOURce#]:FUNCtion[:MODE]?")
    def _function_query(self, args):
        return self.function

    @scpi("[:SENSe#]:FUNCtion[:ON]")
    def _sense_function(self, args):
        # the last of a list like "VOLT","CURR" is the one a :READ? reports
        name = args.replace("'", '"').split(",")[-1].strip().strip('"').upper()
        if not name.startswith(("CURR", "VOLT")):
            raise ValueError(args)
        self.sense = name[:4]

    @scpi("[:SENSe#]:FUNCtion[:ON]?")
    def _sense_function_query(self, args):
        return f'"{self.sense}:DC"'

    set_source_current, source_current = _numeric(
        "[:SOURce#]:CURRent[:LEVel][:IMMediate][:AMPLitude]", "current_level",
        -_SimSource.max_current, _SimSource.max_current, applies_to="CURR")
    set_source_voltage, source_voltage = _numeric(
        "[:SOURce#]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", "voltage_level",
        -_SimSource.max_voltage, _SimSource.max_voltage, applies_to="VOLT")
    set_source_current_range, source_current_range = _numeric(
        "[:SOURce#]:CURRent:RANGe", "current_range", -1.05, 1.05, magnitude=True)
    set_source_voltage_range, source_voltage_range = _numeric(
        "[:SOURce#]:VOLTage:RANGe", "voltage_range", -210, 210, magnitude=True)
    set_source_current_auto, source_current_auto = _switch(
        "[:SOURce#]:CURRent:RANGe:AUTO", "current_range_auto")
    set_source_voltage_auto, source_voltage_auto = _switch(
        "[:SOURce#]:VOLTage:RANGe:AUTO", "voltage_range_auto")
    set_sense_current_range, sense_current_range = _numeric(
        "[:SENSe#]:CURRent[:DC]:RANGe[:UPPer]", "sense_current_range", -1.05, 1.05,
        magnitude=True)
    set_sense_voltage_range, sense_voltage_range = _numeric(
        "[:SENSe#]:VOLTage[:DC]:RANGe[:UPPer]", "sense_voltage_range", -210, 210,
        magnitude=True)
    set_sense_current_auto, sense_current_auto = _switch(
        "[:SENSe#]:CURRent[:DC]:RANGe:AUTO", "sense_current_auto")
    set_sense_voltage_auto, sense_voltage_auto = _switch(
        "[:SENSe#]:VOLTage[:DC]:RANGe:AUTO", "sense_voltage_auto")
    # one integration time for all functions (as on the 2400; enough for the 2450 too)
    set_current_nplc, current_nplc = _numeric(
        "[:SENSe#]:CURRent[:DC]:NPLCycles", "nplc", 0.01, 10)
    set_voltage_nplc, voltage_nplc = _numeric(
        "[:SENSe#]:VOLTage[:DC]:NPLCycles", "nplc", 0.01, 10)


class SimKeithley2450(_SimSourceMeter):
    """Keithley 2450 SourceMeter, native SCPI command set."""

    idn = "KEITHLEY INSTRUMENTS,MODEL 2450,04512345,1.7.12b"

    def _on_function_change(self) -> None:
        # the 2450 switches its output off when the source function changes
        self._set_output(False)

    # the limit allowed depends on the source range (2450 manual, "Current limits"): above
    # 105 mA only on the 20 V and lower ranges, above 21 V only below the 1 A range
    set_voltage_limit, voltage_limit_query = _numeric(
        "[:SOURce#]:CURRent:VLIMit[:LEVel]", "voltage_limit", 0.02, 210, applies_to="CURR",
        allowed=lambda self, v: v <= 21 or _range_in_use(
            self.current_range, self.current_range_auto, self.current_level,
            CURRENT_RANGES_2450) <= 0.105)
    set_current_limit, current_limit_query = _numeric(
        "[:SOURce#]:VOLTage:ILIMit[:LEVel]", "current_limit", 1e-9, 1.05, applies_to="VOLT",
        allowed=lambda self, i: i <= 0.105 or _range_in_use(
            self.voltage_range, self.voltage_range_auto, self.voltage_level,
            VOLTAGE_RANGES_2450) <= 21)

    @scpi("[:SOURce#]:CURRent:VLIMit[:LEVel]:TRIPped?")
    def _voltage_limit_tripped(self, args):
        return "1" if self._tripped("CURR") else "0"

    @scpi("[:SOURce#]:VOLTage:ILIMit[:LEVel]:TRIPped?")
    def _current_limit_tripped(self, args):
        return "1" if self._tripped("VOLT") else "0"

    @scpi(":MEASure:VOLTage[:DC]?")
    def _measure_voltage(self, args):
        self.sense = "VOLT"
        return self.number(self._reading()[0])

    @scpi(":MEASure:CURRent[:DC]?")
    def _measure_current(self, args):
        self.sense = "CURR"
        return self.number(self._reading()[1])

    @scpi(":READ?")
    def _read(self, args):
        v, i = self._reading()
        return self.number(v if self.sense == "VOLT" else i)


class SimKeithley2400(_SimSourceMeter):
    """Keithley 2400 SourceMeter (SCPI, readings as :FORMat:ELEMents selects)."""

    idn = "KEITHLEY INSTRUMENTS INC.,MODEL 2400,1412345,C32   Oct  4 2010 14:20:11/A02  /S/K"
    ELEMENTS = ("VOLT", "CURR", "RES", "TIME", "STAT")
    OVERFLOW = 9.91e37  # what the 2400 reports for a function that was not measured
    COMPLIANCE_STATUS = 8  # status word bit 3: in real compliance

    def reset(self) -> None:
        super().reset()
        self.elements = list(self.ELEMENTS)
        self.source_modes = {"CURR": "FIX", "VOLT": "FIX"}

    @staticmethod
    def number(x: float) -> str:
        return f"{x:+.6E}"

    set_voltage_compliance, voltage_compliance = _numeric(
        "[:SENSe#]:VOLTage[:DC]:PROTection[:LEVel]", "voltage_limit", -210, 210,
        applies_to="CURR", magnitude=True)
    set_current_compliance, current_compliance = _numeric(
        "[:SENSe#]:CURRent[:DC]:PROTection[:LEVel]", "current_limit", -1.05, 1.05,
        applies_to="VOLT", magnitude=True)

    @scpi("[:SENSe#]:VOLTage[:DC]:PROTection:TRIPped?")
    def _voltage_tripped(self, args):
        return "1" if self._tripped("CURR") else "0"

    @scpi("[:SENSe#]:CURRent[:DC]:PROTection:TRIPped?")
    def _current_tripped(self, args):
        return "1" if self._tripped("VOLT") else "0"

    @scpi("[:SOURce#]:CURRent:MODE")
    def _current_mode(self, args):
        self._source_mode("CURR", args)

    @scpi("[:SOURce#]:VOLTage:MODE")
    def _voltage_mode(self, args):
        self._source_mode("VOLT", args)

    def _source_mode(self, function: str, args: str) -> None:
        a = args.strip().upper()
        if not a.startswith(("FIX", "SWE", "LIST")):
            raise ValueError(args)
        self.source_modes[function] = a[:3] if a.startswith("FIX") else a[:4]

    @scpi(":FORMat:ELEMents[:SENSe#]")
    def _format_elements(self, args):
        names = []
        for word in args.upper().split(","):
            element = next((e for e in self.ELEMENTS if word.strip().startswith(e)), None)
            if element is None:
                raise ValueError(args)
            names.append(element)
        self.elements = names

    def _record(self) -> str:
        # a reading switches the output on (auto output-off is off after *RST)
        if not self.output:
            self._set_output(True)
        v, i = self._reading()
        status = self.COMPLIANCE_STATUS if self._tripped(self.function) else 0
        fields = {"VOLT": v, "CURR": i, "RES": self.OVERFLOW,
                  "TIME": self.clock.now() - self._t0, "STAT": float(status)}
        return ",".join(self.number(fields[e]) for e in self.elements)

    # :MEASure? is :CONFigure + :READ?, and :CONFigure returns every control of the
    # function to its *RST value (2400 manual, 17-2/17-5): the compliance of that function
    # too, which the instrument then applies at once
    def _configure(self, function: str) -> None:
        self.sense = function
        if function == "VOLT":
            self.voltage_limit = 21.0
            self.sense_voltage_auto = True
        else:
            self.current_limit = 105e-6
            self.sense_current_auto = True
        self.nplc = 1.0
        if self.output:
            self._apply()

    @scpi(":CONFigure:VOLTage[:DC]")
    def _configure_voltage(self, args):
        self._configure("VOLT")

    @scpi(":CONFigure:CURRent[:DC]")
    def _configure_current(self, args):
        self._configure("CURR")

    @scpi(":MEASure:VOLTage[:DC]?")
    def _measure_voltage(self, args):
        self._configure("VOLT")
        return self._record()

    @scpi(":MEASure:CURRent[:DC]?")
    def _measure_current(self, args):
        self._configure("CURR")
        return self._record()

    @scpi(":READ?")
    def _read(self, args):
        return self._record()


class SimKeithley6221(_SimSource):
    """Keithley 6221 current source: no voltmeter; compliance in the status model."""

    idn = "KEITHLEY INSTRUMENTS INC.,MODEL 6221,4212345,D04  /700x "
    max_current = 0.105
    default_function = "CURR"
    COMPLIANCE_BIT = 8  # measurement condition/event register bit B3

    def reset(self) -> None:
        super().reset()
        self.voltage_limit = 10.0
        self.current_range = 2e-3
        self.measurement_events = 0

    set_source_current, source_current = _numeric(
        "[:SOURce#]:CURRent[:LEVel][:IMMediate][:AMPLitude]", "current_level", -0.105, 0.105,
        applies_to="CURR")
    set_compliance, compliance = _numeric(
        "[:SOURce#]:CURRent:COMPliance", "voltage_limit", 0.1, 105, applies_to="CURR")
    set_range, range_query = _numeric(
        "[:SOURce#]:CURRent:RANGe", "current_range", -0.105, 0.105, magnitude=True)
    set_range_auto, range_auto = _switch("[:SOURce#]:CURRent:RANGe:AUTO", "current_range_auto")

    def _condition(self) -> int:
        bits = self.COMPLIANCE_BIT if self._tripped("CURR") else 0
        self.measurement_events |= bits  # the event register latches what the condition saw
        return bits

    @scpi(":STATus:MEASurement:CONDition?")
    def _measurement_condition(self, args):
        return str(self._condition())

    @scpi(":STATus:MEASurement[:EVENt]?")
    def _measurement_event(self, args):
        self._condition()
        events, self.measurement_events = self.measurement_events, 0
        return str(events)

    @scpi(":STATus:QUEue:CLEar")
    def _queue_clear(self, args):
        self.errors.clear()
