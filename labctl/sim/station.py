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
        self.slots = {
            "shno_source": config.shno_source,
            "gate": config.gate,
            "spectrum": config.spectrum,
            "supply": config.field.supply,
            "gaussmeter": config.field.gaussmeter,
        }
        self.instruments: dict[str, SimInstrument] = {}
        for slot, inst in self.slots.items():
            cls = simulated_class(inst.driver)
            # each instrument gets its own fault-RNG stream so adding one does not shift others;
            # it starts in the state its [sim.power_up.*] table describes (or the model's own)
            self.instruments[slot] = cls(slot, self.device, self.clock, config.sim.faults,
                                         seed=config.sim.seed * 1000 + len(self.instruments),
                                         power_up=config.sim.power_up.for_slot(slot),
                                         options=inst.options)

    def adapter(self, slot: str) -> SimAdapter:
        return SimAdapter(self.instruments[slot], timeout=self.slots[slot].timeout * 1e3)

    def reset_peaks(self) -> None:
        """Forget what the device saw so far (e.g. the power-up state itself)."""
        for instrument in self.instruments.values():
            if hasattr(instrument, "reset_peaks"):
                instrument.reset_peaks()
        supply = self.instruments["supply"]
        if hasattr(supply, "peak_drive"):
            supply.peak_drive = abs(supply.magnet.supply_setpoint())
            supply.live_switch_offs = []
