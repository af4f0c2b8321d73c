"""Role adapters: what procedures see of the station (``shno_source``, ``gate``, ``spectrum``).

The ``field`` role is the closed-loop controller in :mod:`drivers.field`. Every output change
goes through :class:`labctl.safety.Ramp`; limits come from the station file.
"""

from __future__ import annotations

import threading
from dataclasses import asdict

import numpy as np

from drivers.contracts import CURRENT, VOLTAGE, CurrentSource, SpectrumAnalyzer, VoltageSource
from drivers.source_role import SourceRole, limits_agree
from labctl.clock import Clock
from labctl.config import GateLimits, ShnoLimits, SpectrumLimits
from labctl.errors import InstrumentError, LimitError
from labctl.safety import Range


class ShnoSource(SourceRole):
    """I_SHNO: a current source that only ever moves by safe ramps."""

    role = "shno_source"
    native = CURRENT

    def __init__(self, driver: CurrentSource, limits: ShnoLimits, clock: Clock,
                 stop: threading.Event):
        self.limits = limits
        super().__init__(driver, Range("I_SHNO", -limits.max_current, limits.max_current, "A"),
                         limits.max_step, limits.dwell, clock, stop)

    def _configure(self, compliance: float) -> None:
        self.driver.configure_current_source(compliance)

    def _set_compliance(self, compliance: float) -> None:
        self.driver.set_compliance_voltage(compliance)

    def _limit_allowed(self, limit: float) -> bool:
        return limit <= self.limits.compliance_voltage * (1 + 1e-5)

    def prepare(self) -> None:
        """Current function, the station's compliance, output on: asked, set, verified."""
        if not self._prepared:
            self._prepare(self.limits.compliance_voltage)

    def ramp_to(self, amps: float) -> float:
        """Ramp I_SHNO to ``amps`` (A) from a fresh read-back; raise LimitError beyond limits."""
        self.allowed.check(amps)
        self.prepare()
        level = self.ramp.to(amps)
        self.driver.raise_errors()  # a level the instrument refused must not go unnoticed
        return level

    def read_current(self) -> float:
        return self.driver.read_source_current()

    def read_voltage(self) -> float:
        return self.driver.measure_voltage()

    def in_compliance(self) -> bool:
        return self.driver.in_compliance()

    def snapshot(self) -> dict:
        state = self.read_state()
        return {"idn": self.driver.id, "current": state.level if state.function == CURRENT
                else None, "state": asdict(state), "limits": self.limits.model_dump()}


class Gate(SourceRole):
    """V_M: a voltage source that is never driven without a current compliance."""

    role = "gate"
    native = VOLTAGE

    def __init__(self, driver: VoltageSource, limits: GateLimits, clock: Clock,
                 stop: threading.Event):
        self.limits = limits
        self.compliance_range = Range("gate compliance", 1e-9, limits.max_compliance, "A")
        super().__init__(driver, Range("V_M", limits.min_voltage, limits.max_voltage, "V"),
                         limits.max_step, limits.dwell, clock, stop)

    def _configure(self, compliance: float) -> None:
        self.driver.configure_voltage_source(compliance)

    def _set_compliance(self, compliance: float) -> None:
        self.driver.set_compliance_current(compliance)

    def _limit_allowed(self, limit: float) -> bool:
        return limit <= self.limits.max_compliance * (1 + 1e-5)

    def prepare(self, compliance: float) -> None:
        """Voltage function at ``compliance`` (within the station limit), output on at 0 V."""
        self._prepare(self.compliance_range.check(compliance))

    def set_compliance(self, amps: float) -> None:
        """Program the current compliance; sent only when the instrument has another one."""
        amps = self.compliance_range.check(amps)
        if not self._prepared:
            self._prepare(amps)
            return
        programmed = self.driver.read_compliance_current()
        if not limits_agree(programmed, amps):
            self.driver.set_compliance_current(amps)
            programmed = self.driver.read_compliance_current()
            if not limits_agree(programmed, amps):
                raise InstrumentError(self.driver.name, "read-back",
                                      f"gate compliance reads {programmed:g} A after setting "
                                      f"{amps:g} A")

    def _check_compliance_programmed(self) -> None:
        programmed = self.driver.read_compliance_current()
        if not (0 < programmed <= self.limits.max_compliance * (1 + 1e-9)):
            raise LimitError(
                f"gate compliance = {programmed:g} A: not within (0, "
                f"{self.limits.max_compliance:g}] A; refusing to drive the memristor"
            )

    def ramp_to(self, volts: float, compliance: float | None = None) -> float:
        """Ramp V_M to ``volts`` with a current compliance (set now, or already programmed)."""
        self.allowed.check(volts)
        if compliance is not None:
            self.compliance_range.check(compliance)
        elif not self._prepared:
            raise LimitError("gate: no compliance given; refusing to drive the memristor")
        if compliance is not None:
            self.set_compliance(compliance)  # read back: verified, and sent only if changed
        else:
            self._check_compliance_programmed()
        level = self.ramp.to(volts)
        self.driver.raise_errors()
        return level

    def measure(self) -> tuple[float, float, bool]:
        """(V_M programmed, measured current, compliance reached)."""
        return (self.driver.read_source_voltage(), self.driver.measure_current(),
                self.driver.in_compliance())

    def pulse(self, volts: float, width: float, compliance: float) -> tuple[float, bool]:
        """Apply ``volts`` for ``width`` s with ``compliance``; return (current, compliance hit)."""
        self.ramp_to(volts, compliance)
        current = self.driver.measure_current()
        tripped = self.driver.in_compliance()
        self.clock.sleep(width)
        self.ramp.to_zero()
        return current, tripped

    def snapshot(self) -> dict:
        state = self.read_state()
        return {"idn": self.driver.id, "voltage": state.level if state.function == VOLTAGE
                else None, "state": asdict(state), "limits": self.limits.model_dump()}


class Spectrum:
    """The spectrum analyzer: configure a sweep, acquire (frequency, trace in dBm)."""

    role = "spectrum"

    def __init__(self, driver: SpectrumAnalyzer, limits: SpectrumLimits):
        self.driver = driver
        self.limits = limits
        self._freq: np.ndarray | None = None
        self._settings: tuple | None = None

    def configure(self, f_start: float, f_stop: float, points: int, rbw: float,
                  vbw: float | None = None, averages: int = 1, detector: str = "average",
                  reference_level: float = -20.0) -> np.ndarray:
        """Set up the sweep (only what changed is sent) and return the frequency axis."""
        band = Range("frequency", self.limits.min_frequency, self.limits.max_frequency, "Hz")
        band.check(f_start)
        band.check(f_stop)
        if f_stop <= f_start:
            raise LimitError(f"f_stop = {f_stop:g} Hz: must be above f_start = {f_start:g} Hz")
        Range("points", 2, self.limits.max_points, "").check(points)
        vbw = rbw / 10 if vbw is None else vbw
        settings = (f_start, f_stop, int(points), rbw, vbw, int(averages), detector,
                    reference_level)
        if settings != self._settings:
            self.driver.configure_sweep(*settings)
            self.driver.raise_errors()
            self._freq = self.driver.frequencies()
            self._settings = settings
        return self._freq

    def acquire(self) -> tuple[np.ndarray, np.ndarray]:
        """One sweep (with averaging); returns (frequency in Hz, trace in dBm)."""
        if self._freq is None:
            raise RuntimeError("spectrum: configure() before acquire()")
        self.driver.single_sweep()
        return self._freq, self.driver.read_trace()

    SETTING_NAMES = ("f_start", "f_stop", "points", "rbw", "vbw", "averages", "detector",
                     "reference_level")

    @property
    def settings(self) -> dict:
        """The sweep as last configured (requested values; {} before any), with what the
        instrument reports using where it says (RBW and VBW quantised, sweep time)."""
        requested = dict(zip(self.SETTING_NAMES, self._settings or ()))
        return {**requested, **(self.settings_used or {})} if requested else {}

    @property
    def settings_used(self) -> dict | None:
        """RBW, VBW, sweep time, detector and averaging as the instrument reports using them."""
        return getattr(self.driver, "settings_used", None)

    def ramp_down(self) -> None:
        """The analyzer drives nothing; its error queue is read so no entry goes unreported."""
        self._settings = None  # configure again (and read back) after whatever comes next
        self.driver.raise_errors()

    def snapshot(self) -> dict:
        return {"idn": self.driver.id, "settings": self._settings, "used": self.settings_used,
                "limits": self.limits.model_dump()}
