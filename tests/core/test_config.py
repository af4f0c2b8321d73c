"""Station files: the built-in one loads; each mistake is one line naming file, key, value."""

import pytest

from labctl.config import default_sim_station, load_station
from labctl.errors import ConfigError


def test_builtin_sim_station_loads():
    cfg = default_sim_station()
    assert cfg.simulated
    assert cfg.shno_source.limits.max_current == pytest.approx(2.5e-3)
    assert cfg.field.calibration[0] == (-15.0, -0.9)


def test_station_file_roundtrip(write_station):
    cfg = load_station(write_station())
    assert cfg.gate.limits.max_compliance == pytest.approx(1e-3)
    assert "station.toml" in cfg.source


MISTAKES = [
    # (what is wrong, replacement, words the one-line message must contain)
    ("unknown key", ("dwell = 0.05", "dwell = 0.05\nmax_curent = 1e-3"),
     ["unknown key", "shno_source.limits.max_curent"]),
    ("wrong type", ("max_step = 10e-6", 'max_step = "ten"'),
     ["shno_source.limits.max_step", "'ten'"]),
    ("missing role", ('[spectrum]\ndriver = "keysight_xseries"\naddress = "SIM::spectrum"\n'
                      'timeout = 10.0\n[spectrum.limits]\n', "[unused]\n"),
     ["missing key 'spectrum'"]),
    ("limit out of range", ("max_current = 2.5e-3", "max_current = 2.5"),
     ["shno_source.limits.max_current", "2.5", "0.01"]),
    ("step above maximum", ("max_current = 2.5e-3", "max_current = 5e-6"),
     ["shno_source.limits", "max_step", "exceeds max_current"]),
    ("unknown driver", ('driver = "keysight_xseries"', 'driver = "hp8563"'),
     ["spectrum.driver", "'hp8563'", "unknown driver"]),
    ("bad calibration", ("[[-15.0, -0.9], [15.0, 0.9]]", "[[-15.0, 0.9], [15.0, -0.9]]"),
     ["field.calibration", "must rise"]),
    ("negative compliance", ("max_compliance = 1e-3", "max_compliance = -1e-3"),
     ["gate.limits.max_compliance", "-0.001"]),
    ("invalid TOML", ("[gate.limits]", "[gate.limits"), ["not valid TOML"]),
    ("bad fault kind", ("seed = 1", 'seed = 1\n[[sim.faults]]\ninstrument = "gate"\nkind = "fire"'),
     ["sim.faults.0.kind", "'fire'"]),
]


@pytest.mark.parametrize("what,replacement,words", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_bad_station_file_one_line(write_station, what, replacement, words):
    path = write_station(replacement)
    with pytest.raises(ConfigError) as info:
        load_station(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    for word in words:
        assert word in message, (word, message)
    assert info.value.exit_code == 2


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_station(tmp_path / "nope.toml")
