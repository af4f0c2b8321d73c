"""What each kind of instrument driver must provide so that a role can use it.

Every method talks to the instrument: a ``read_*`` method queries it afresh (never a
cached value), so ramps always start from what the instrument really outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

CURRENT, VOLTAGE = "current", "voltage"


@dataclass(frozen=True)
class SourceState:
    """A source output as the instrument reports it (all asked, nothing assumed)."""

    output: bool
    function: str  # CURRENT or VOLTAGE: what the output follows
    level: float  # programmed level of that function, A or V
    compliance: float  # limit of that function: V for a current source, A for a voltage source
    source_range: float | None  # fixed source range of that function; None when automatic

    @property
    def unit(self) -> str:
        return "A" if self.function == CURRENT else "V"


@runtime_checkable
class SourceMeter(Protocol):
    """What every source (current or voltage) lets a role ask and do at its boundaries."""

    name: str

    def read_state(self) -> SourceState:
        """Output, function, level, limit and range, asked in one exchange."""
    def read_level(self, function: str) -> float: ...
    def set_level(self, function: str, value: float) -> None: ...
    def device_clear(self) -> None:
        """Clear the session (a late reply can no longer answer the next query)."""


@runtime_checkable
class CurrentSource(Protocol):
    """Source of I_SHNO (Keithley 2450/2400 in current mode, Keithley 6221)."""

    name: str

    @property
    def id(self) -> str: ...
    def configure_current_source(self, compliance_voltage: float) -> None:
        """Current-source mode, voltage compliance, measure voltage; refused with output on."""
    def read_compliance_voltage(self) -> float: ...
    def set_compliance_voltage(self, volts: float) -> None: ...
    def read_source_current(self) -> float: ...
    def set_source_current(self, amps: float) -> None: ...
    def measure_voltage(self) -> float:
        """Measured voltage in V (NaN if the model cannot measure)."""
    def read_output_enabled(self) -> bool: ...
    def enable_output(self) -> None: ...
    def disable_output(self) -> None: ...
    def in_compliance(self) -> bool: ...
    def raise_errors(self) -> None:
        """Raise InstrumentError if the error queue holds anything."""


@runtime_checkable
class VoltageSource(Protocol):
    """Source of V_M with a current compliance (Keithley 2450/2400/2636B in voltage mode)."""

    name: str

    @property
    def id(self) -> str: ...
    def configure_voltage_source(self, compliance_current: float) -> None:
        """Voltage-source mode, current compliance, measure current; refused with output on."""
    def read_compliance_current(self) -> float: ...
    def set_compliance_current(self, amps: float) -> None: ...
    def read_source_voltage(self) -> float: ...
    def set_source_voltage(self, volts: float) -> None: ...
    def measure_current(self) -> float: ...
    def read_output_enabled(self) -> bool: ...
    def enable_output(self) -> None: ...
    def disable_output(self) -> None: ...
    def in_compliance(self) -> bool: ...
    def raise_errors(self) -> None:
        """Raise InstrumentError if the error queue holds anything."""


@runtime_checkable
class SpectrumAnalyzer(Protocol):
    """Swept spectrum analyzer with binary trace transfer (Keysight X-series, R&S FSV)."""

    name: str

    @property
    def id(self) -> str: ...
    def configure_sweep(self, f_start: float, f_stop: float, points: int, rbw: float,
                        vbw: float, averages: int, detector: str = "average",
                        reference_level: float = -20.0) -> None: ...
    def frequencies(self) -> np.ndarray:
        """Frequency axis (Hz) from the instrument's start, stop and points."""
    def single_sweep(self) -> None:
        """Start one sweep (with its averages) and wait until it is complete."""
    def read_trace(self) -> np.ndarray:
        """Trace 1 in dBm as float32, transferred as a binary REAL,32 block."""
    def read_sweep_time(self) -> float: ...
    def raise_errors(self) -> None:
        """Raise InstrumentError if the error queue holds anything."""


@runtime_checkable
class BipolarSupply(Protocol):
    """Bipolar current supply of the electromagnet (Kepco BOP)."""

    name: str

    @property
    def id(self) -> str: ...
    def configure_current_mode(self, voltage_limit: float) -> None:
        """Current mode with a voltage limit; refused with the output on."""
    def read_mode(self) -> str:
        """CURRENT or VOLTAGE: what the output follows."""
    def read_voltage_setpoint(self) -> float: ...
    def set_voltage(self, volts: float) -> None: ...
    def set_voltage_limit(self, volts: float) -> None: ...
    def device_clear(self) -> None: ...
    def read_current_setpoint(self) -> float: ...
    def set_current(self, amps: float) -> None: ...
    def measure_current(self) -> float: ...
    def read_output_enabled(self) -> bool: ...
    def enable_output(self) -> None: ...
    def disable_output(self) -> None: ...
    def raise_errors(self) -> None:
        """Raise InstrumentError if the error queue holds anything."""


@runtime_checkable
class Gaussmeter(Protocol):
    """Hall gaussmeter (Lake Shore 425)."""

    name: str

    @property
    def id(self) -> str: ...
    def configure_field_reading(self, max_field: float) -> None:
        """Unit, range (fixed, covering ``max_field`` T) and probe checked, by read-back."""
    def read_field(self) -> float:
        """Field in tesla."""
    def raise_errors(self) -> None: ...
