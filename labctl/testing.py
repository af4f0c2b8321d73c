"""Helpers the tests share (and a user's own tests may use): event recorders, output checks.

Outputs are checked two ways on a simulated station: by the device model's truth, and by the
simulated instruments' command logs (the last level each source was told to take, and
whether its output was switched off), which is what a real instrument would have received.
The physical oracle (what the device saw at its peak, outputs switched off at a live level)
comes from the simulated instruments themselves.
"""

from __future__ import annotations

import threading
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from labctl.config import StationConfig, parse_station
from labctl.events import RunEvent

# source slot -> the SCPI command that sets its level (as the simulators log it)
LEVEL_COMMANDS = {
    "shno_source": "[:SOURce#]:CURRent[:LEVel][:IMMediate][:AMPLitude]",
    "gate": "[:SOURce#]:VOLTage[:LEVel][:IMMediate][:AMPLitude]",
    "supply": "[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPlitude]",
}
OUTPUT_COMMANDS = {"shno_source": ":OUTPut[:STATe]", "gate": ":OUTPut[:STATe]",
                   "supply": "OUTPut[:STATe]"}


class Recorder:
    """Subscriber that keeps every event (thread-safe)."""

    def __init__(self):
        self.events: list[RunEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: RunEvent) -> None:
        with self._lock:
            self.events.append(event)

    def kinds(self, source: str | None = None) -> list[str]:
        return [e.kind for e in self.of(source)]

    def of(self, source: str | None = None, kind: str | None = None) -> list[RunEvent]:
        with self._lock:
            return [e for e in self.events if (source is None or e.source == source)
                    and (kind is None or e.kind == kind)]


def outputs_at_zero(station) -> bool:
    """The simulated device sees I_SHNO = 0, V_M = 0 and no magnet supply current."""
    truth = station.sim.device.truth()
    return (abs(truth["current"]) < 1e-12 and abs(truth["gate_voltage"]) < 1e-12
            and abs(station.sim.device.magnet.supply_setpoint()) < 1e-12)


def reading_at_zero(reading) -> bool:
    """A StationReading (a Lab's, maybe in another process) with every output at zero and off:
    I_SHNO and V_M 0 and switched off, the coil carrying less than 10 mA."""
    return (reading.i_shno == 0.0 and reading.v_m == 0.0 and not reading.shno_output
            and not reading.gate_output and abs(reading.supply_current) < 0.01)


def last_commands(sim) -> dict[str, tuple[float | None, bool | None]]:
    """Per source slot: the last level it was sent and its last output state sent (None:
    never sent), from the simulated instruments' command logs."""
    out = {}
    for slot, pattern in LEVEL_COMMANDS.items():
        inst = sim.instruments[slot]
        levels = [r for r in inst.commands(pattern) if r.args]
        switched = [r for r in inst.commands(OUTPUT_COMMANDS[slot]) if r.args]
        out[slot] = (float(levels[-1].args) if levels else None,
                     switched[-1].args.strip().upper() in ("1", "ON") if switched else None)
    return out


def outputs_at_zero_by_log(sim) -> bool:
    """Every source was last sent level 0 (or never a level) and never left switched on."""
    return all((level is None or level == 0.0) and on is not True
               for level, on in last_commands(sim).values())


def sim_station(realtime_factor: float = 0.0, **sim):
    """The built-in simulated station, its clock slowed to ``realtime_factor`` x real time
    (so a run lasts long enough to be interrupted) and other ``[sim]`` settings replaced."""
    from labctl.config import default_sim_station

    config = default_sim_station()
    update = {"realtime_factor": realtime_factor, **sim}
    return config.model_copy(update={"sim": config.sim.model_copy(update=update)})


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
