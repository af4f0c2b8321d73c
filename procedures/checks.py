"""Cross-parameter checks the procedures share, made before any instrument is opened.

Single parameters are bounded by their declarations (labctl.parameters); these are the checks
that need two parameters, or a parameter and the station's calibration: a run that would fail
halfway (the magnet ramped, the current swept) must fail at the door instead.
"""

from __future__ import annotations

from drivers.field import Calibration
from labctl.config import StationConfig
from labctl.duration import format_duration, sweep_time
from labctl.errors import LimitError, UserInputError
from labctl.units import format_value as show
from procedures.spectra import video_bandwidth

# s: the longest sweep of a Keysight X-series (the FSV's is longer); a spectrum that would take
# longer is a typo of RBW or VBW (7 Hz for 7 MHz), and the analyzer would clip its sweep time
# and report an uncalibrated trace
MAX_SWEEP = 4000.0


def check_span(values: dict) -> None:
    """The analyzer sweeps upwards, and its resolution bandwidth fits in the span."""
    f_start, f_stop, rbw = values["f_start"], values["f_stop"], values["rbw"]
    if f_stop <= f_start:
        raise UserInputError(f"parameter f_stop = {show(f_stop, 'Hz')}: must be above f_start "
                             f"= {show(f_start, 'Hz')}")
    if rbw > f_stop - f_start:
        raise UserInputError(f"parameter rbw = {show(rbw, 'Hz')}: wider than the span f_stop - "
                             f"f_start = {show(f_stop - f_start, 'Hz')}")
    vbw = video_bandwidth(values)
    one = sweep_time(f_start, f_stop, values["points"], rbw, vbw)
    if one > MAX_SWEEP:
        raise UserInputError(f"parameters rbw = {show(rbw, 'Hz')}, vbw = {show(vbw, 'Hz')}: one "
                             f"sweep of {show(f_stop - f_start, 'Hz')} would take "
                             f"{format_duration(one)}, beyond the analyzer's longest sweep "
                             f"({format_duration(MAX_SWEEP)})")


def check_field_currents(config: StationConfig, setpoints: dict[str, float]) -> None:
    """Each field setpoint (a sweep's ends) needs, by the station's calibration, a supply
    current within the supply's limit: |B| within max_field is not enough when the
    calibration reaches max_current first."""
    calibration = Calibration(config.field.calibration)
    limit = config.field.limits.max_current
    for name, tesla in setpoints.items():
        amps = calibration.current_for(tesla)
        if abs(amps) > limit:
            raise LimitError(f"parameter {name} = {show(tesla, 'T')}: needs {show(amps, 'A')} by "
                             f"the station's field calibration, beyond the supply's limit of "
                             f"{show(limit, 'A')}")
