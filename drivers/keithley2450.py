"""Keithley 2450 SourceMeter (native 2450 SCPI command set): I_SHNO source or V_M gate.

Builds on pymeasure's Keithley2450 and adds what labctl needs of it: the CurrentSource and
VoltageSource contracts, validators that raise instead of clamping, compliance-trip
queries, and no unsafe shortcuts (pymeasure's fixed 30-step ramps, switching the output
off at a non-zero level).
"""

from __future__ import annotations

from pymeasure.instruments import Instrument
from pymeasure.instruments.keithley import Keithley2450 as _PymeasureKeithley2450
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from drivers.base import read_only
from drivers.source_meter import LEVEL_FORMAT, KeithleySourceMeter
from drivers.source_meter import strict_control as _strict

# instrument limits from the 2450 reference manual (source and limit ranges)
MAX_CURRENT = 1.05  # A
MAX_VOLTAGE = 210.0  # V
CURRENT_LIMIT_RANGE = (1e-9, 1.05)  # A, :SOUR:VOLT:ILIM
VOLTAGE_LIMIT_RANGE = (0.02, 210.0)  # V, :SOUR:CURR:VLIM
NPLC_RANGE = (0.01, 10.0)


class Keithley2450(KeithleySourceMeter, _PymeasureKeithley2450):
    """Keithley 2450 as I_SHNO current source or V_M voltage source with a compliance."""

    TRIP_QUERIES = {"current": ":SOUR:CURR:VLIM:TRIP?", "voltage": ":SOUR:VOLT:ILIM:TRIP?"}
    STATE_QUERIES = {
        "current": (":SOUR:CURR?", ":SOUR:CURR:VLIM?", ":SOUR:CURR:RANG:AUTO?", ":SOUR:CURR:RANG?"),
        "voltage": (":SOUR:VOLT?", ":SOUR:VOLT:ILIM?", ":SOUR:VOLT:RANG:AUTO?", ":SOUR:VOLT:RANG?"),
    }
    # above 105 mA only on the 20 V and lower source ranges (2450 manual, current limits)
    HIGH_CURRENT_LIMIT = 0.105  # A
    HIGH_CURRENT_MAX_RANGE = 21.0  # V

    def __init__(self, adapter, name: str = "Keithley 2450", **kwargs):
        super().__init__(adapter, name, **kwargs)

    # ---- source settings (the pymeasure originals clamp or do not validate) ----------
    source_enabled = read_only(Instrument.control(
        ":OUTP?", ":OUTP %d", """Control whether the output is on (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    ), "enable_output() / the role's ramp_down()")
    source_current = _strict(":SOUR:CURR?", ":SOUR:CURR " + LEVEL_FORMAT,
                             """Control the source current level in A.""",
                             [-MAX_CURRENT, MAX_CURRENT])
    source_voltage = _strict(":SOUR:VOLT?", ":SOUR:VOLT " + LEVEL_FORMAT,
                             """Control the source voltage level in V.""",
                             [-MAX_VOLTAGE, MAX_VOLTAGE])
    compliance_voltage = _strict(":SOUR:CURR:VLIM?", ":SOUR:CURR:VLIM %g",
                                 """Control the voltage limit of the current source in V.""",
                                 VOLTAGE_LIMIT_RANGE)
    compliance_current = _strict(":SOUR:VOLT:ILIM?", ":SOUR:VOLT:ILIM %g",
                                 """Control the current limit of the voltage source in A.""",
                                 CURRENT_LIMIT_RANGE)
    source_current_range = _strict(
        ":SOUR:CURR:RANG?", ":SOUR:CURR:RANG:AUTO 0;:SOUR:CURR:RANG %g",
        """Control the fixed source current range in A (disables auto range).""",
        [-MAX_CURRENT, MAX_CURRENT])
    source_voltage_range = _strict(
        ":SOUR:VOLT:RANG?", ":SOUR:VOLT:RANG:AUTO 0;:SOUR:VOLT:RANG %g",
        """Control the fixed source voltage range in V (disables auto range).""",
        [-MAX_VOLTAGE, MAX_VOLTAGE])
    source_current_range_auto_enabled = Instrument.control(
        ":SOUR:CURR:RANG:AUTO?", ":SOUR:CURR:RANG:AUTO %d",
        """Control whether the source current range is automatic (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    source_voltage_range_auto_enabled = Instrument.control(
        ":SOUR:VOLT:RANG:AUTO?", ":SOUR:VOLT:RANG:AUTO %d",
        """Control whether the source voltage range is automatic (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    source_current_delay = _strict(":SOUR:CURR:DEL?", ":SOUR:CURR:DEL %g",
                                   """Control the current source delay in s.""", [0, 999.9999])
    source_voltage_delay = _strict(":SOUR:VOLT:DEL?", ":SOUR:VOLT:DEL %g",
                                   """Control the voltage source delay in s.""", [0, 999.9999])

    # ---- measure settings --------------------------------------------------------------
    current_range = _strict(
        ":SENS:CURR:RANG?", ":SENS:CURR:RANG:AUTO 0;:SENS:CURR:RANG %g",
        """Control the current measurement range in A (disables auto range).""",
        [-MAX_CURRENT, MAX_CURRENT])
    voltage_range = _strict(
        ":SENS:VOLT:RANG?", ":SENS:VOLT:RANG:AUTO 0;:SENS:VOLT:RANG %g",
        """Control the voltage measurement range in V (disables auto range).""",
        [-MAX_VOLTAGE, MAX_VOLTAGE])
    resistance_range = _strict(
        ":SENS:RES:RANG?", ":SENS:RES:RANG:AUTO 0;:SENS:RES:RANG %g",
        """Control the resistance measurement range in ohm (disables auto range).""",
        [0, 210e6])
    current_nplc = _strict(":SENS:CURR:NPLC?", ":SENS:CURR:NPLC %g",
                           """Control the current integration time in power-line cycles.""",
                           NPLC_RANGE)
    voltage_nplc = _strict(":SENS:VOLT:NPLC?", ":SENS:VOLT:NPLC %g",
                           """Control the voltage integration time in power-line cycles.""",
                           NPLC_RANGE)
    resistance_nplc = _strict(":SENS:RES:NPLC?", ":SENS:RES:NPLC %g",
                              """Control the resistance integration time in power-line cycles.""",
                              NPLC_RANGE)
    buffer_points = _strict(":TRAC:POIN?", ":TRAC:POIN %d",
                            """Control the configured number of buffer points.""",
                            [1, 6875000], cast=int)
    current_filter_count = _strict(":SENS:CURR:AVER:COUNT?", ":SENS:CURR:AVER:COUNT %d",
                                   """Control the current filter count.""", [1, 100], cast=int)
    voltage_filter_count = _strict(":SENS:VOLT:AVER:COUNT?", ":SENS:VOLT:AVER:COUNT %d",
                                   """Control the voltage filter count.""", [1, 100], cast=int)

    # ---- CurrentSource -----------------------------------------------------------------
    def configure_current_source(self, compliance_voltage: float) -> None:
        """Current-source mode, voltage limit, measure voltage; refused with the output on."""
        limit = strict_range(compliance_voltage, VOLTAGE_LIMIT_RANGE)
        with self.session():
            self._refuse_with_output_on("changing the source function")
            self.write(f":SOUR:FUNC CURR;:SOUR:CURR:RANG:AUTO 1;:SOUR:CURR:VLIM {limit:g};"
                       ':SENS:FUNC "VOLT";:SENS:VOLT:RANG:AUTO 1')

    def configure_measurement(self, function: str) -> None:
        """Measure what the source function does not set (V for current); output untouched."""
        sense = "VOLT" if function == "current" else "CURR"
        self.write(f':SENS:FUNC "{sense}";:SENS:{sense}:RANG:AUTO 1')

    def read_source_current(self) -> float:
        return float(self.source_current)

    def set_source_current(self, amps: float) -> None:
        self.source_current = amps

    def measure_voltage(self) -> float:
        """Measured voltage in V (one reading; the output stays as it is)."""
        return float(self.values(":MEAS:VOLT?")[0])

    # ---- VoltageSource -----------------------------------------------------------------
    def configure_voltage_source(self, compliance_current: float) -> None:
        """Voltage-source mode, current limit, measure current; refused with the output on."""
        limit = strict_range(compliance_current, CURRENT_LIMIT_RANGE)
        with self.session():
            self._refuse_with_output_on("changing the source function")
            if limit > self.HIGH_CURRENT_LIMIT:
                self._check_high_current_limit(limit)
            self.write(f":SOUR:FUNC VOLT;:SOUR:VOLT:RANG:AUTO 1;:SOUR:VOLT:ILIM {limit:g};"
                       ':SENS:FUNC "CURR";:SENS:CURR:RANG:AUTO 1')

    def read_compliance_current(self) -> float:
        return float(self.compliance_current)

    def set_compliance_current(self, amps: float) -> None:
        limit = strict_range(amps, CURRENT_LIMIT_RANGE)
        with self.session():
            if limit > self.HIGH_CURRENT_LIMIT:
                self._check_high_current_limit(limit)
            self.compliance_current = limit

    def _check_high_current_limit(self, amps: float) -> None:
        source_range = abs(float(self.ask(":SOUR:VOLT:RANG?")))
        if source_range > self.HIGH_CURRENT_MAX_RANGE:
            raise ValueError(f"current limit {amps:g} A: at most {self.HIGH_CURRENT_LIMIT:g} A "
                             f"on the {source_range:g} V source range")

    def read_source_voltage(self) -> float:
        return float(self.source_voltage)

    def set_source_voltage(self, volts: float) -> None:
        self.source_voltage = volts

    def measure_current(self) -> float:
        """Measured current in A (one reading; the output stays as it is)."""
        return float(self.values(":MEAS:CURR?")[0])

    # ---- instrument --------------------------------------------------------------------
    def _reset(self) -> None:
        self.write("*RST;:STAT:PRES;*CLS")

