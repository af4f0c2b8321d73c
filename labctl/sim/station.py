"""The simulated probe station: one device model and the simulated instruments wired to it."""

from __future__ import annotations

from labctl.clock import VirtualClock
from labctl.config import StationConfig
from labctl.registry import simulated_class
from labctl.sim.adapter import SimAdapter
from labctl.sim.device import DeviceModel
from labctl.sim.instrument import SimInstrument


class SimProbeStation:
    """Device model, virtual clock and one simulated instrument per station slot."""

    def __init__(self, config: StationConfig):
        self.config = config
        self.clock = VirtualClock(realtime_factor=config.sim.realtime_factor)
        self.device = DeviceModel(self.clock, seed=config.sim.seed, **config.sim.device)
        drivers = {
            "shno_source": config.shno_source.driver,
            "gate": config.gate.driver,
            "spectrum": config.spectrum.driver,
            "supply": config.field.supply.driver,
            "gaussmeter": config.field.gaussmeter.driver,
        }
        self.instruments: dict[str, SimInstrument] = {}
        for slot, driver in drivers.items():
            cls = simulated_class(driver)
            # each instrument gets its own fault-RNG stream so adding one does not shift others
            self.instruments[slot] = cls(slot, self.device, self.clock, config.sim.faults,
                                         seed=config.sim.seed * 1000 + len(self.instruments))

    def adapter(self, slot: str) -> SimAdapter:
        return SimAdapter(self.instruments[slot])
