"""The station: instruments by role, built from a station file; ramps everything down safely.

This module and :mod:`labctl.sim` are the only places that know whether a station is real.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from drivers.roles import Gate, ShnoSource, Spectrum
from labctl.clock import Clock, RealClock
from labctl.config import InstrumentConfig, StationConfig
from labctl.errors import ConfigError, InstrumentError, LabctlError
from labctl.registry import driver_class

log = logging.getLogger(__name__)

# order of making safe: the oscillator current first, then the magnet, then V_M
RAMP_DOWN_ORDER = ("shno_source", "field", "gate")
# then the roles that drive nothing but whose error queue must still be read
MAKE_SAFE_ORDER = (*RAMP_DOWN_ORDER, "spectrum")


class Station:
    """The four roles of a probe station, a clock and the abort event their ramps watch."""

    def __init__(self, config: StationConfig, clock: Clock, roles: dict[str, Any],
                 stop: threading.Event, sim=None):
        self.config = config
        self.clock = clock
        self.stop = stop
        self.sim = sim  # the SimProbeStation for a simulated station (tests inspect it)
        self.shno_source: ShnoSource = roles["shno_source"]
        self.gate: Gate = roles["gate"]
        self.spectrum: Spectrum = roles["spectrum"]
        self.field = roles["field"]
        self.read_faults: list[str] = []  # instruments that failed to answer a snapshot

    @property
    def roles(self) -> dict[str, Any]:
        return {"shno_source": self.shno_source, "gate": self.gate,
                "spectrum": self.spectrum, "field": self.field}

    def observe_outputs(self, callback: Callable[[str, float, float, str], None]) -> None:
        """Call ``callback(role, level, target, unit)`` after every ramp step of an output.

        The one ramp mechanism of each output role is wrapped, so every change (a procedure's,
        a manual one, a ramp-down) is seen, in the thread that makes it.
        """
        for name, role in self.roles.items():
            ramp = getattr(role, "ramp", None)
            if ramp is not None:
                _observe(ramp, name, callback)

    def request_stop(self) -> None:
        """Ask every ramp in progress to stop after its current step."""
        self.stop.set()

    def ramp_down(self) -> list[str]:
        """Ramp every output to zero, whatever failed before; return the failures as text."""
        failures = []
        for name in MAKE_SAFE_ORDER:
            try:
                self.roles[name].ramp_down()
            except Exception as err:  # keep going: the other outputs must still reach zero
                log.error("ramp-down of %s failed: %s", name, err)
                failures.append(f"{name}: {err}")
        return failures

    def secure(self) -> list[str]:
        """Before a run: outputs found beyond what a role may leave on go to zero; say which."""
        notes = []
        for name in RAMP_DOWN_ORDER:
            note = self.roles[name].secure()
            if note:
                notes.append(note)
        return notes

    def close(self) -> list[str]:
        """Ramp every output down, then release every instrument session; failures as text."""
        failures = self.ramp_down()
        for drv in self.drivers().values():
            adapter = getattr(drv, "adapter", None)
            with contextlib.suppress(Exception):  # a lost session is released all the same
                if adapter is not None:
                    adapter.close()
        return failures

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def drivers(self) -> dict[str, Any]:
        """Every instrument of the station, by slot."""
        return {"shno_source": self.shno_source.driver, "gate": self.gate.driver,
                "spectrum": self.spectrum.driver, "field.supply": self.field.supply,
                "field.gaussmeter": self.field.gaussmeter}

    def check_errors(self) -> None:
        """Read every instrument's error queue; InstrumentError naming the first entry."""
        for driver in self.drivers().values():
            driver.raise_errors()

    def identities(self) -> dict[str, str]:
        out = {}
        for key, drv in self.drivers().items():
            try:
                out[key] = str(drv.id).strip()
            except LabctlError as err:
                out[key] = f"unavailable: {err}"
                self.read_faults.append(f"{key}: {err}")
        return out

    def snapshot(self) -> dict[str, Any]:
        """Each role's identity, levels and limits, for the run file."""
        snap = {}
        for name, role in self.roles.items():
            try:
                snap[name] = role.snapshot()
            except LabctlError as err:
                snap[name] = {"error": str(err)}
                self.read_faults.append(f"{name}: {err}")
        return snap


def _observe(ramp, role: str, callback) -> None:
    """Wrap a role's Ramp so that each level it writes is reported with the ramp's target."""
    write, to = ramp.write, ramp.to
    target = [float("nan")]

    def observed_to(level: float, *args, **kwargs):
        target[0] = float(level)
        return to(level, *args, **kwargs)

    def observed_write(level: float) -> None:
        write(level)
        callback(role, float(level), target[0], ramp.allowed.unit)

    ramp.to, ramp.write = observed_to, observed_write


def _make_driver(slot: str, cfg: InstrumentConfig, adapter, clock: Clock):
    cls = driver_class(cfg.driver)
    target = adapter if adapter is not None else cfg.address
    if not target:
        raise ConfigError(f"{slot}.address is empty: give the VISA resource of {cfg.driver}")
    try:
        driver = cls(target, name=slot, timeout=int(cfg.timeout * 1000), **cfg.options)
    except InstrumentError:
        raise
    except Exception as err:  # pyvisa raises many kinds; the user needs the slot and address
        raise InstrumentError(slot, "connect", f"cannot open {target!r}: {err}") from err
    driver.clock = clock  # pacing and settling wait on the station's clock
    return driver


def open_station(config: StationConfig) -> Station:
    """Connect to every instrument of the station (simulated ones if ``config.simulated``)."""
    from drivers.field import FieldController

    stop = threading.Event()
    sim = None
    clock: Clock
    if config.simulated:
        from labctl.sim.station import SimProbeStation

        sim = SimProbeStation(config)
        clock = sim.clock

        def adapter(slot: str):
            return sim.adapter(slot)
    else:
        clock = RealClock()

        def adapter(slot: str):
            return None

    src = _make_driver("shno_source", config.shno_source, adapter("shno_source"), clock)
    gate = _make_driver("gate", config.gate, adapter("gate"), clock)
    sa = _make_driver("spectrum", config.spectrum, adapter("spectrum"), clock)
    supply = _make_driver("supply", config.field.supply, adapter("supply"), clock)
    gauss = _make_driver("gaussmeter", config.field.gaussmeter, adapter("gaussmeter"), clock)
    roles = {
        "shno_source": ShnoSource(src, config.shno_source.limits, clock, stop),
        "gate": Gate(gate, config.gate.limits, clock, stop),
        "spectrum": Spectrum(sa, config.spectrum.limits),
        "field": FieldController(supply, gauss, config.field, clock, stop,
                                 voltage_limit=config.field.limits.voltage_limit),
    }
    return Station(config, clock, roles, stop, sim=sim)
