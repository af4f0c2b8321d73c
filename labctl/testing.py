"""Helpers the tests share: simulated stations in a given state, and the physical oracle.

The oracle is the simulator's physical state (what the device saw, which outputs were
switched off under a live level), not only the command log.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from labctl.config import StationConfig, parse_station

TOLERANCE = 1e-6  # relative, on peaks compared with limits (readings round)


def sim_station_config(power_up: dict[str, dict] | None = None, faults: list[dict] | None = None,
                       **sections: Any) -> StationConfig:
    """The built-in simulated station with ``[sim.power_up.*]`` tables, faults, overrides."""
    text = resources.files("labctl").joinpath("stations/sim.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    data["sim"] = {**data.get("sim", {}), "power_up": power_up or {}, "faults": faults or []}
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return parse_station(data, "test station")


def outputs_at_zero(station) -> bool:
    """I_SHNO, V_M and the magnet supply at zero at the device."""
    truth = station.sim.device.truth()
    return (abs(truth["current"]) < 1e-12 and abs(truth["gate_voltage"]) < 1e-12
            and abs(station.sim.device.magnet.supply_setpoint()) < 1e-12)


def outputs_off(station) -> dict[str, bool]:
    """Whether each simulated output (shno_source, gate, supply) is switched off."""
    return {slot: not station.sim.instruments[slot].output
            for slot in ("shno_source", "gate", "supply")}


@dataclass(frozen=True)
class Peaks:
    """The largest levels the device saw (as the simulator's physics had them)."""

    shno_current: float  # A through the stripe
    gate_current: float  # A through the memristor's electrode
    gate_voltage: float  # V
    magnet_current: float  # A driven by the supply

    @classmethod
    def of(cls, station) -> Peaks:
        inst = station.sim.instruments
        return cls(inst["shno_source"].peak_current, inst["gate"].peak_current,
                   inst["gate"].peak_voltage, inst["supply"].peak_drive)


def assert_within_limits(station, found: Peaks) -> None:
    """Nothing beyond the station's limits, or beyond what the instrument was found doing."""
    c = station.config
    seen = Peaks.of(station)
    checks = [
        ("I_SHNO", seen.shno_current, max(c.shno_source.limits.max_current, found.shno_current)),
        ("gate current", seen.gate_current,
         max(c.gate.limits.max_compliance, found.gate_current)),
        ("V_M", seen.gate_voltage, max(c.gate.limits.max_voltage, -c.gate.limits.min_voltage,
                                       found.gate_voltage)),
        ("magnet current", seen.magnet_current,
         max(c.field.limits.max_current, found.magnet_current)),
    ]
    for name, value, limit in checks:
        assert value <= limit * (1 + TOLERANCE) + 1e-12, f"{name} reached {value:g} > {limit:g}"


def live_switch_offs(station) -> dict[str, list]:
    """Outputs switched off under a live level, by slot (empty lists when none)."""
    return {slot: list(station.sim.instruments[slot].live_switch_offs)
            for slot in ("shno_source", "gate", "supply")}
