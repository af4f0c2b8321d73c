"""Keithley 2400 SourceMeter: I_SHNO source or V_M gate.

Builds on pymeasure's Keithley2400 (already strict for most settings) and adds the
CurrentSource and VoltageSource contracts, compliance-trip queries, a guard that keeps a
measurement from switching the output on, and no unsafe shortcuts.
"""

from __future__ import annotations

import math

from pymeasure.instruments import Instrument
from pymeasure.instruments.keithley import Keithley2400 as _PymeasureKeithley2400
from pymeasure.instruments.validators import strict_range

from drivers.base import blocked, blocked_property, read_only
from drivers.source_meter import LEVEL_FORMAT, KeithleySourceMeter
from drivers.source_meter import strict_control as _strict

MAX_CURRENT = 1.05  # A
MAX_VOLTAGE = 210.0  # V
# the 2400 takes the magnitude of a negative compliance; labctl insists on a positive one
CURRENT_COMPLIANCE_RANGE = (1e-9, 1.05)  # A, :SENS:CURR:PROT
VOLTAGE_COMPLIANCE_RANGE = (2e-4, 210.0)  # V, :SENS:VOLT:PROT


class Keithley2400(KeithleySourceMeter, _PymeasureKeithley2400):
    """Keithley 2400 as I_SHNO current source or V_M voltage source with a compliance.

    pymeasure's constructor sets ``:FORMAT:ELEMENTS VOLTAGE, CURRENT, RESISTANCE, TIME,
    STATUS``; readings are parsed in that order.
    """

    TRIP_QUERIES = {"current": ":SENS:VOLT:PROT:TRIP?", "voltage": ":SENS:CURR:PROT:TRIP?"}
    STATE_QUERIES = {
        "current": (":SOUR:CURR?", ":SENS:VOLT:PROT?", ":SOUR:CURR:RANG:AUTO?", ":SOUR:CURR:RANG?"),
        "voltage": (":SOUR:VOLT?", ":SENS:CURR:PROT?", ":SOUR:VOLT:RANG:AUTO?", ":SOUR:VOLT:RANG?"),
    }
    # readings as pymeasure's constructor orders them (:FORMat:ELEMents)
    VOLTAGE_ELEMENT, CURRENT_ELEMENT = 0, 1

    # :MEASure? runs :CONFigure, which returns the function's compliance to its *RST value
    # (manual 17-2/17-5): read with :READ? (measure_voltage / measure_current) instead
    OUTPUT_COMMAND = "OUTPUT %d"
    source_enabled = read_only(_PymeasureKeithley2400.source_enabled,
                               "enable_output() / the role's ramp_down()")

    voltage = blocked_property("measure_voltage() (a :READ? that leaves the compliance alone)")
    current = blocked_property("measure_current() (a :READ? that leaves the compliance alone)")
    resistance = blocked_property("measure_voltage() / measure_current() (:READ?)")
    measure_resistance = blocked("measure_voltage() / measure_current()")

    def __init__(self, adapter, name: str = "Keithley 2400", **kwargs):
        super().__init__(adapter, name, **kwargs)

    # pymeasure sends levels with %g (6 digits): a ramp step across a decade could then grow
    # past the station's max_step on the wire
    source_current = _strict(":SOURCE:CURRENT?", ":SOURCE:CURRENT " + LEVEL_FORMAT,
                             """Control the source current in A.""", values=(-1.05, 1.05))
    source_voltage = _strict(":SOURCE:VOLTAGE?", ":SOURCE:VOLTAGE " + LEVEL_FORMAT,
                             """Control the source voltage in V.""", values=(-210.0, 210.0))

    compliance_current = Instrument.control(
        ":SENSE:CURRENT:PROTECTION?", ":SENSE:CURRENT:PROTECTION %g",
        """Control the current compliance of the voltage source in A (positive).""",
        validator=strict_range, values=CURRENT_COMPLIANCE_RANGE,
    )
    compliance_voltage = Instrument.control(
        ":SENSE:VOLTAGE:PROTECTION?", ":SENSE:VOLTAGE:PROTECTION %g",
        """Control the voltage compliance of the current source in V (positive).""",
        validator=strict_range, values=VOLTAGE_COMPLIANCE_RANGE,
    )
    buffer_points = Instrument.control(
        ":TRAC:POIN?", ":TRAC:POIN %d",
        """Control the configured number of buffer points (1 to 2500).""",
        validator=strict_range, values=[1, 2500], cast=int,
    )

    # ---- CurrentSource -----------------------------------------------------------------
    def configure_current_source(self, compliance_voltage: float) -> None:
        """Current-source mode (fixed level), voltage compliance, measure voltage."""
        limit = strict_range(compliance_voltage, VOLTAGE_COMPLIANCE_RANGE)
        with self.session():
            self._refuse_with_output_on("changing the source function")
            self.write(f":SOUR:FUNC CURR;:SOUR:CURR:MODE FIX;:SOUR:CURR:RANG:AUTO 1;"
                       f':SENS:FUNC "VOLT";:SENS:VOLT:PROT {limit:g};:SENS:VOLT:RANG:AUTO 1')

    def configure_measurement(self, function: str) -> None:
        """Measure what the source function does not set (V for current); output untouched."""
        sense = "VOLT" if function == "current" else "CURR"
        self.write(f':SENS:FUNC "{sense}";:SENS:{sense}:RANG:AUTO 1')

    def read_source_current(self) -> float:
        return float(self.source_current)

    def set_source_current(self, amps: float) -> None:
        self.source_current = amps

    def measure_voltage(self) -> float:
        """Measured voltage in V; NaN while the output is off (a reading would switch it on)."""
        return self._read_element(self.VOLTAGE_ELEMENT)

    # ---- VoltageSource -----------------------------------------------------------------
    def configure_voltage_source(self, compliance_current: float) -> None:
        """Voltage-source mode (fixed level), current compliance, measure current."""
        limit = strict_range(compliance_current, CURRENT_COMPLIANCE_RANGE)
        with self.session():
            self._refuse_with_output_on("changing the source function")
            self.write(f":SOUR:FUNC VOLT;:SOUR:VOLT:MODE FIX;:SOUR:VOLT:RANG:AUTO 1;"
                       f':SENS:FUNC "CURR";:SENS:CURR:PROT {limit:g};:SENS:CURR:RANG:AUTO 1')

    def read_compliance_current(self) -> float:
        return float(self.compliance_current)

    def set_compliance_current(self, amps: float) -> None:
        self.compliance_current = amps

    def read_source_voltage(self) -> float:
        return float(self.source_voltage)

    def set_source_voltage(self, volts: float) -> None:
        self.source_voltage = volts

    def measure_current(self) -> float:
        """Measured current in A; NaN while the output is off (a reading would switch it on)."""
        return self._read_element(self.CURRENT_ELEMENT)

    def _read_element(self, index: int) -> float:
        with self.session():
            if not self.read_output_enabled():
                return math.nan
            return _reading(self.values(":READ?")[index])

    def _reset(self) -> None:
        self.write("*RST;:STAT:PRES;*CLS")
        self.reset_data_format()


def _reading(value) -> float:
    """A reading as float; the 2400's overflow marker 9.91e37 becomes NaN."""
    v = float(value)
    return math.nan if v >= 9.9e37 else v
