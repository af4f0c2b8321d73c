"""Cross-parameter checks the procedures share, made before any instrument is opened.

Single parameters are bounded by their declarations (labctl.parameters); these are the checks
that need two parameters, or a parameter and the station's calibration: a run that would fail
halfway (the magnet ramped, the current swept) must fail at the door instead.
"""

from __future__ import annotations

from drivers.field import Calibration
from labctl.config import StationConfig
from labctl.errors import LimitError, UserInputError


def check_span(values: dict) -> None:
    """The analyzer sweeps upwards, and its resolution bandwidth fits in the span."""
    f_start, f_stop, rbw = values["f_start"], values["f_stop"], values["rbw"]
    if f_stop <= f_start:
        raise UserInputError(f"parameter f_stop = {f_stop:g} Hz: must be above f_start = "
                             f"{f_start:g} Hz")
    if rbw > f_stop - f_start:
        raise UserInputError(f"parameter rbw = {rbw:g} Hz: wider than the span f_stop - "
                             f"f_start = {f_stop - f_start:g} Hz")


def check_field_currents(config: StationConfig, setpoints: dict[str, float]) -> None:
    """Each field setpoint (a sweep's ends) needs, by the station's calibration, a supply
    current within the supply's limit: |B| within max_field is not enough when the
    calibration reaches max_current first."""
    calibration = Calibration(config.field.calibration)
    limit = config.field.limits.max_current
    for name, tesla in setpoints.items():
        amps = calibration.current_for(tesla)
        if abs(amps) > limit:
            raise LimitError(f"parameter {name} = {tesla:g} T: needs {amps:.4g} A by the "
                             f"station's field calibration, beyond the supply's limit of "
                             f"{limit:g} A")
