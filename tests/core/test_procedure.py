"""The procedure protocol: station-bound parameters, interruptible waits, the registry."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

import labctl.registry
from labctl.clock import VirtualClock
from labctl.config import default_sim_station
from labctl.errors import Interrupted, LimitError, UserInputError
from labctl.parameters import GATE_VOLTAGE, SHNO_CURRENT
from labctl.procedure import Parameter, Procedure, RunContext
from labctl.registry import available_procedures, procedure_class


class Gated(Procedure):
    name = "gated"
    parameters = (
        Parameter("levels", [0.0], "V", kind=list, station=GATE_VOLTAGE),
        Parameter("current", 1e-3, "A", station=SHNO_CURRENT),
        Parameter("program", False, kind=bool),
        Parameter("pulse", 5.0, "V", station=GATE_VOLTAGE),
    )

    def unused(self):
        return set() if self.program else {"pulse"}


def test_station_bound_parameters_take_the_ceiling_and_check_the_station():
    config = default_sim_station()  # V_M in [-3, 8] V, |I_SHNO| <= 2.5 mA
    assert Gated.parameter("levels").minimum == -20 and Gated.parameter("current").maximum \
        == 10e-3
    with pytest.raises(UserInputError, match="above the maximum"):
        Gated(current=11e-3)  # beyond any station: refused without one
    Gated(levels=[0.0, 7.5], pulse=9.0).check_station(config)  # pulse unused: not checked
    with pytest.raises(LimitError, match=r"pulse = 9 V: outside the station's V_M range "
                                         r"\[-3 V, 8 V\]"):
        Gated(program=True, pulse=9.0).check_station(config)
    with pytest.raises(LimitError, match="levels = -4 V"):
        Gated(levels=[0.0, -4.0]).check_station(config)
    with pytest.raises(LimitError, match=r"max \|I_SHNO\| of 2.5 mA"):
        Gated(current=-3e-3).check_station(config)


def test_units_in_parameter_text():
    assert Gated.parameter("current").parse("2.2 mA") == pytest.approx(2.2e-3)
    assert Gated.parameter("levels").parse("[0, -500 mV]") == [0.0, -0.5]
    with pytest.raises(UserInputError, match="did you mean 'current'"):
        Gated(curent=1e-3)


def test_ctx_sleep_ends_on_abort():
    stop = threading.Event()
    station = SimpleNamespace(clock=VirtualClock(), stop=stop)
    ctx = RunContext(station)
    ctx.sleep(5.0)
    assert station.clock.now() == 5.0
    stop.set()
    with pytest.raises(Interrupted):
        ctx.sleep(5.0)


def test_procedures_plug_in_through_entry_points(monkeypatch):
    def entry_points(group):
        eps = {"labctl.procedures": [SimpleNamespace(name="gated",
                                                     value="tests_gated_module:Gated")]}
        return eps.get(group, [])

    import sys
    import types

    module = types.ModuleType("tests_gated_module")
    module.Gated = Gated
    monkeypatch.setitem(sys.modules, "tests_gated_module", module)
    monkeypatch.setattr(labctl.registry, "entry_points", entry_points)
    monkeypatch.setattr(labctl.registry.importlib.util, "find_spec",
                        lambda name: object())
    assert "gated" in available_procedures()
    assert procedure_class("gated") is Gated
    with pytest.raises(UserInputError, match="did you mean 'gated'"):
        procedure_class("gatd")
