"""Simulated Keithley 2450, 2400 and 6221: the SCPI the labctl drivers send, nothing more.

Each instrument drives one terminal of the device model (``shno_source`` or ``gate``, its
station slot name). Levels and limits apply at once while the output is on; a reading
advances the virtual clock by its integration time (NPLC / 50 Hz). Out-of-range values push
-222 to the error queue and are not applied, as on the real instruments.
"""

from __future__ import annotations

from labctl.sim.scpi import scpi
from labctl.sim.source import (
    CURRENT_RANGES_2450,
    VOLTAGE_RANGES_2450,
    SimSource,
    numeric_setting,
    range_in_use,
    switch_setting,
)


class _SimSourceMeter(SimSource):
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

    set_source_current, source_current = numeric_setting(
        "[:SOURce#]:CURRent[:LEVel][:IMMediate][:AMPLitude]", "current_level",
        -SimSource.max_current, SimSource.max_current, applies_to="CURR")
    set_source_voltage, source_voltage = numeric_setting(
        "[:SOURce#]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", "voltage_level",
        -SimSource.max_voltage, SimSource.max_voltage, applies_to="VOLT")
    set_source_current_range, source_current_range = numeric_setting(
        "[:SOURce#]:CURRent:RANGe", "current_range", -1.05, 1.05, magnitude=True)
    set_source_voltage_range, source_voltage_range = numeric_setting(
        "[:SOURce#]:VOLTage:RANGe", "voltage_range", -210, 210, magnitude=True)
    set_source_current_auto, source_current_auto = switch_setting(
        "[:SOURce#]:CURRent:RANGe:AUTO", "current_range_auto")
    set_source_voltage_auto, source_voltage_auto = switch_setting(
        "[:SOURce#]:VOLTage:RANGe:AUTO", "voltage_range_auto")
    set_sense_current_range, sense_current_range = numeric_setting(
        "[:SENSe#]:CURRent[:DC]:RANGe[:UPPer]", "sense_current_range", -1.05, 1.05,
        magnitude=True)
    set_sense_voltage_range, sense_voltage_range = numeric_setting(
        "[:SENSe#]:VOLTage[:DC]:RANGe[:UPPer]", "sense_voltage_range", -210, 210,
        magnitude=True)
    set_sense_current_auto, sense_current_auto = switch_setting(
        "[:SENSe#]:CURRent[:DC]:RANGe:AUTO", "sense_current_auto")
    set_sense_voltage_auto, sense_voltage_auto = switch_setting(
        "[:SENSe#]:VOLTage[:DC]:RANGe:AUTO", "sense_voltage_auto")
    # one integration time for all functions (as on the 2400; enough for the 2450 too)
    set_current_nplc, current_nplc = numeric_setting(
        "[:SENSe#]:CURRent[:DC]:NPLCycles", "nplc", 0.01, 10)
    set_voltage_nplc, voltage_nplc = numeric_setting(
        "[:SENSe#]:VOLTage[:DC]:NPLCycles", "nplc", 0.01, 10)


class SimKeithley2450(_SimSourceMeter):
    """Keithley 2450 SourceMeter, native SCPI command set."""

    idn = "KEITHLEY INSTRUMENTS,MODEL 2450,04512345,1.7.12b"

    def _on_function_change(self) -> None:
        # the 2450 switches its output off when the source function changes
        self._set_output(False)

    # the limit allowed depends on the source range (2450 manual, "Current limits"): above
    # 105 mA only on the 20 V and lower ranges, above 21 V only below the 1 A range
    set_voltage_limit, voltage_limit_query = numeric_setting(
        "[:SOURce#]:CURRent:VLIMit[:LEVel]", "voltage_limit", 0.02, 210, applies_to="CURR",
        allowed=lambda self, v: v <= 21 or range_in_use(
            self.current_range, self.current_range_auto, self.current_level,
            CURRENT_RANGES_2450) <= 0.105)
    set_current_limit, current_limit_query = numeric_setting(
        "[:SOURce#]:VOLTage:ILIMit[:LEVel]", "current_limit", 1e-9, 1.05, applies_to="VOLT",
        allowed=lambda self, i: i <= 0.105 or range_in_use(
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

    set_voltage_compliance, voltage_compliance = numeric_setting(
        "[:SENSe#]:VOLTage[:DC]:PROTection[:LEVel]", "voltage_limit", -210, 210,
        applies_to="CURR", magnitude=True)
    set_current_compliance, current_compliance = numeric_setting(
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


class SimKeithley6221(SimSource):
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

    set_source_current, source_current = numeric_setting(
        "[:SOURce#]:CURRent[:LEVel][:IMMediate][:AMPLitude]", "current_level", -0.105, 0.105,
        applies_to="CURR")
    set_compliance, compliance = numeric_setting(
        "[:SOURce#]:CURRent:COMPliance", "voltage_limit", 0.1, 105, applies_to="CURR")
    set_range, range_query = numeric_setting(
        "[:SOURce#]:CURRent:RANGe", "current_range", -0.105, 0.105, magnitude=True)
    set_range_auto, range_auto = switch_setting("[:SOURce#]:CURRent:RANGe:AUTO",
                                                "current_range_auto")

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
