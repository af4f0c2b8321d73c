"""Keithley 6221 precision current source: I_SHNO source (it cannot measure).

Builds on pymeasure's Keithley6221 and adds the CurrentSource contract, validators that
raise instead of clamping (pymeasure clamps nearly every 6221 setting), the compliance
state from the measurement condition register, and a shutdown that never switches the
output off at a non-zero current.
"""

from __future__ import annotations

import math

from pymeasure.instruments import Instrument
from pymeasure.instruments.keithley import Keithley6221 as _PymeasureKeithley6221
from pymeasure.instruments.validators import strict_range

from drivers.base import blocked, read_only
from drivers.source_meter import LEVEL_FORMAT, KeithleySourceMeter
from drivers.source_meter import strict_control as _strict

MAX_CURRENT = 0.105  # A
COMPLIANCE_RANGE = (0.1, 105.0)  # V, :SOUR:CURR:COMP
COMPLIANCE_BIT = 8  # bit B3 (Comp) of the measurement condition register


class Keithley6221(KeithleySourceMeter, _PymeasureKeithley6221):
    """Keithley 6221 as I_SHNO current source with a voltage compliance."""

    FUNCTION_QUERY = None  # a current source only
    OUTPUT_COMMAND = "OUTPut %d"
    source_enabled = read_only(_PymeasureKeithley6221.source_enabled,
                               "enable_output() / the role's ramp_down()")
    # the delta and waveform modes drive the output by themselves
    delta_arm = delta_start = waveform_arm = waveform_start = blocked(
        "the shno_source role (labctl sources DC only, by ramps)")
    STATE_QUERIES = {"current": (":SOUR:CURR?", ":SOUR:CURR:COMP?", ":SOUR:CURR:RANG:AUTO?",
                                 ":SOUR:CURR:RANG?")}

    def __init__(self, adapter, name: str = "Keithley 6221", **kwargs):
        super().__init__(adapter, name, **kwargs)

    # ---- source (pymeasure truncates all of these) -------------------------------------
    source_current = _strict(":SOUR:CURR?", ":SOUR:CURR " + LEVEL_FORMAT,
                             """Control the DC source current in A.""",
                             [-MAX_CURRENT, MAX_CURRENT])
    source_compliance = _strict(":SOUR:CURR:COMP?", ":SOUR:CURR:COMP %g",
                                """Control the voltage compliance in V.""", COMPLIANCE_RANGE)
    source_range = _strict(":SOUR:CURR:RANG?", ":SOUR:CURR:RANG:AUTO 0;:SOUR:CURR:RANG %g",
                           """Control the fixed source range in A (disables auto range).""",
                           [-MAX_CURRENT, MAX_CURRENT])
    source_delay = _strict(":SOUR:DEL?", ":SOUR:DEL %g",
                           """Control the source delay in s.""", [1e-3, 999999.999])

    # ---- waveform and status settings (strict as well: nothing silently clamps) --------
    waveform_frequency = _strict(":SOUR:WAVE:FREQ?", ":SOUR:WAVE:FREQ %g",
                                 """Control the waveform frequency in Hz.""", [1e-3, 1e5])
    waveform_amplitude = _strict(":SOUR:WAVE:AMPL?", ":SOUR:WAVE:AMPL %g",
                                 """Control the waveform peak amplitude in A.""",
                                 [2e-12, MAX_CURRENT])
    waveform_offset = _strict(":SOUR:WAVE:OFFS?", ":SOUR:WAVE:OFFS %g",
                              """Control the waveform offset in A.""",
                              [-MAX_CURRENT, MAX_CURRENT])
    waveform_dutycycle = _strict(":SOUR:WAVE:DCYC?", ":SOUR:WAVE:DCYC %g",
                                 """Control the waveform duty cycle in percent.""", [0, 100])
    waveform_duration_time = _strict(":SOUR:WAVE:DUR:TIME?", ":SOUR:WAVE:DUR:TIME %g",
                                     """Control the waveform duration in s.""",
                                     [100e-9, 999999.999])
    waveform_duration_cycles = _strict(":SOUR:WAVE:DUR:CYCL?", ":SOUR:WAVE:DUR:CYCL %g",
                                       """Control the waveform duration in cycles.""",
                                       [1e-3, 99999999900])
    waveform_phasemarker_phase = _strict(":SOUR:WAVE:PMAR?", ":SOUR:WAVE:PMAR %g",
                                         """Control the phase-marker phase in degrees.""",
                                         [-180, 180])
    waveform_phasemarker_line = _strict(":SOUR:WAVE:PMAR:OLIN?", ":SOUR:WAVE:PMAR:OLIN %d",
                                        """Control the phase-marker trigger line.""", [1, 6])
    buffer_points = _strict(":TRAC:POIN?", ":TRAC:POIN %d",
                            """Control the configured number of buffer points.""",
                            [1, 65536], cast=int)
    measurement_event_enabled = _strict(":STAT:MEAS:ENAB?", ":STAT:MEAS:ENAB %d",
                                        """Control the measurement event enable register.""",
                                        [0, 65535], cast=int)
    operation_event_enabled = _strict(":STAT:OPER:ENAB?", ":STAT:OPER:ENAB %d",
                                      """Control the operation event enable register.""",
                                      [0, 65535], cast=int)
    questionable_event_enabled = _strict(":STAT:QUES:ENAB?", ":STAT:QUES:ENAB %d",
                                         """Control the questionable event enable register.""",
                                         [0, 65535], cast=int)
    standard_event_enabled = _strict("*ESE?", "*ESE %d",
                                     """Control the standard event enable register.""",
                                     [0, 255], cast=int)
    srq_event_enabled = _strict("*SRE?", "*SRE %d",
                                """Control the service request enable register.""",
                                [0, 255], cast=int)
    measurement_condition = Instrument.measurement(
        ":STAT:MEAS:COND?", """Get the measurement condition register (not latched).""",
        cast=int,
    )

    # ---- CurrentSource -----------------------------------------------------------------
    def configure_current_source(self, compliance_voltage: float) -> None:
        """Auto source range and the voltage compliance; refused with the output on."""
        limit = strict_range(compliance_voltage, COMPLIANCE_RANGE)
        with self.session():
            self._refuse_with_output_on("changing the source range")
            self.write(f":SOUR:CURR:RANG:AUTO 1;:SOUR:CURR:COMP {limit:g}")

    def configure_measurement(self, function: str) -> None:
        """Nothing to configure: the 6221 has no voltmeter."""

    def read_compliance_voltage(self) -> float:
        return abs(float(self.source_compliance))

    def set_compliance_voltage(self, volts: float) -> None:
        self.source_compliance = volts

    def read_source_current(self) -> float:
        return float(self.source_current)

    def set_source_current(self, amps: float) -> None:
        self.source_current = amps

    def measure_voltage(self) -> float:
        """NaN: the 6221 has no voltmeter (nothing is sent)."""
        return math.nan

    def in_compliance(self) -> bool:
        """Whether the source is in compliance now (condition register, not the latch)."""
        return bool(int(self.measurement_condition) & COMPLIANCE_BIT)

    def _reset(self) -> None:
        self.write(":STAT:QUE:CLE;*RST;:STAT:PRES;*CLS")
