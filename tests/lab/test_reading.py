"""A station reading asks each source its function before it calls a level I_SHNO or V_M."""

import math

from labctl.lab import open_lab
from labctl.testing import sim_station_config


def test_a_source_left_in_the_other_function_is_not_read_as_the_role_level():
    config = sim_station_config(power_up={
        "shno_source": {"output": True, "function": "voltage", "level": 0.1},
        "gate": {"output": True, "function": "current", "level": 1e-6},
    })
    with open_lab(config=config) as lab:
        r = lab.read_station()
    assert r.shno_function == "voltage" and math.isnan(r.i_shno) and math.isnan(r.r_shno)
    assert r.gate_function == "current" and math.isnan(r.v_m)
    assert r.shno_output and r.gate_output


def test_supply_current_is_what_the_coil_carries_not_a_limit():
    # the Kepco powers up on in voltage mode: its programmed current is only a limit
    with open_lab(config=sim_station_config()) as lab:
        r = lab.read_station()
        assert abs(r.supply_current) < 0.01
        lab.ramp("field", 0.3)
        r = lab.read_station()
    assert r.supply_current > 1.0 and abs(r.field - 0.3) < 2e-3
