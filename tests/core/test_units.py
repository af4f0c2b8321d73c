"""Quantities with units: prefixes, wrong dimension, lists, formatting."""

import re

import pytest

from labctl.errors import UserInputError
from labctl.units import format_value, parse_list, parse_value


@pytest.mark.parametrize(("text", "unit", "si"), [
    ("2.2mA", "A", 2.2e-3), ("500 uA", "A", 500e-6), ("500 µA", "A", 500e-6),
    ("500 μA", "A", 500e-6), ("10.5GHz", "Hz", 10.5e9), ("650mT", "T", 0.65),
    ("-1 V", "V", -1.0), ("50 ms", "s", 0.05), ("2 kOhm", "ohm", 2000.0),
    ("1e-3", "A", 1e-3), (" 0.65 ", "T", 0.65), ("-20", "dBm", -20.0), ("-20 dBm", "dBm", -20.0),
    ("300 kHz", "Hz", 300e3), ("1.2 mA ", "A", 1.2e-3),
])
def test_values_with_prefixes_become_si(text, unit, si):
    assert parse_value(text, unit, "x") == pytest.approx(si, rel=1e-12)


@pytest.mark.parametrize(("text", "unit", "message"), [
    ("2 V", "A", "not a unit of A (a current)"),
    ("2 mA", "T", "not a unit of T (a field)"),
    ("fast", "A", "not a quantity"),
    ("3 apples", "Hz", "not a quantity"),
    ("3 V", "dBm", "not a number in dBm"),
])
def test_wrong_units_name_the_parameter(text, unit, message):
    with pytest.raises(UserInputError, match=re.escape(message)) as info:
        parse_value(text, unit, "i_stop")
    assert "i_stop" in str(info.value) and "\n" not in str(info.value)


def test_lists_as_in_queue_files():
    assert parse_list("[0,-1]", "V", "v") == [0.0, -1.0]
    assert parse_list("0 V; -500 mV", "V", "v") == [0.0, -0.5]
    with pytest.raises(UserInputError, match="needs a list"):
        parse_list("[]", "V", "v")


@pytest.mark.parametrize(("value", "unit", "text"), [
    (2.2e-3, "A", "2.2 mA"), (8e9, "Hz", "8 GHz"), (100e-6, "A", "100 µA"),
    (0.65, "T", "650 mT"), (-1.0, "V", "-1 V"), (40e3, "ohm", "40 kΩ"),
    (0.0, "A", "0 A"), (101, "", "101"), (-20.0, "dBm", "-20 dBm"),
])
def test_engineering_format(value, unit, text):
    assert format_value(value, unit) == text


def test_did_you_mean():
    from labctl.errors import did_you_mean

    assert did_you_mean("freq-curent", ["freq-current", "sync-map"]) == \
        " (did you mean 'freq-current'?)"
    assert did_you_mean("zzz", ["freq-current"]) == ""


@pytest.mark.parametrize("text", ["1/0 A", "-", "2.2 mA mA V", "()"])
def test_nonsense_is_one_user_error(text):
    with pytest.raises(UserInputError, match="i_stop"):
        parse_value(text, "A", "i_stop")


def test_a_decimal_comma_is_refused_not_misread():
    # pint alone reads "2,2 mA" as 22 mA
    with pytest.raises(UserInputError, match="decimal point"):
        parse_value("2,2 mA", "A", "i_stop")


def test_every_surface_takes_units_and_lists():
    """A procedure built from Python values, queue-file values or form text: same SI values."""
    from procedures.freq_current import FreqCurrent
    from procedures.sync_map import SyncMap

    assert FreqCurrent(i_stop="2.2 mA", f_start="7.5GHz").values["i_stop"] == \
        pytest.approx(2.2e-3)
    # (levels a memristor in LRS stands: a V_M beyond ±0.3 V could switch it)
    m = SyncMap(gate_voltages=["0 V", "-200 mV", 0.1], memristor_targets="[HRS, 10 kΩ]")
    assert m.values["gate_voltages"] == [0.0, -0.2, 0.1]
    assert m.values["memristor_targets"] == ["HRS", 10e3]
    assert SyncMap.from_text({"gate_voltages": "[0 V, -500 mV]"}).values["gate_voltages"] == \
        [0.0, -0.5]
    with pytest.raises(UserInputError, match=re.escape("mA is not a unit of V")):
        SyncMap(gate_voltages=[0.0, "2 mA"])
    with pytest.raises(UserInputError, match="is not a number"):
        SyncMap(gate_voltages=[0.0, True])
    with pytest.raises(UserInputError, match="target"):
        SyncMap(memristor_targets=["10 kA"])


def test_queue_file_values_with_units(tmp_path):
    from labctl.queue import load_queue

    path = tmp_path / "q.toml"
    path.write_text('station = "sim"\nout = "runs"\n[[run]]\nprocedure = "sync-map"\n'
                    'set = { i_stop = "2.2 mA", gate_voltages = ["0 V", "-200 mV"], '
                    'f_start = "9.5 GHz", memristor_targets = ["HRS", "10 kOhm"] }\n'
                    'foreach = { field = ["600 mT", 0.7] }\n', encoding="utf-8")
    runs = load_queue(path).runs
    assert [r.parameters["field"] for r in runs] == [pytest.approx(0.6), 0.7]
    p = runs[0].parameters
    assert p["i_stop"] == pytest.approx(2.2e-3) and p["gate_voltages"] == [0.0, -0.2]
    assert p["f_start"] == pytest.approx(9.5e9) and p["memristor_targets"] == ["HRS", 10e3]


@pytest.mark.parametrize(("value", "words"), [
    ("i_stop=2 V", "V is not a unit of A (a current)"),
    ("gate_voltages=[0, 1 mA]", "mA is not a unit of V"),
    ("i_stop=3 mA", "max |I_SHNO|"),
])
def test_command_line_units_one_line_exit_2(capsys, value, words):
    from labctl.cli.main import main

    name = "sync-map" if value.startswith("gate") else "freq-current"
    assert main(["run", name, "--sim", "--dry-run", "--set", value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_command_line_lists_as_in_queue_files(capsys):
    from labctl.cli.main import main

    assert main(["run", "sync-map", "--sim", "--dry-run", "--set", "gate_voltages=[0,-1]",
                 "--set", "i_start=1.5 mA"]) == 0
    out = capsys.readouterr().out
    assert "0 V, -1 V (compliance" in out and "1.5 mA → 2.2 mA" in out


def test_queue_lists_take_quantities_not_quoted_numbers(tmp_path):
    from labctl.queue import load_queue

    path = tmp_path / "q.toml"
    path.write_text('station = "sim"\nout = "runs"\n[[run]]\nprocedure = "sync-map"\n'
                    'set = { gate_voltages = [0.0, "-0.5"] }\n', encoding="utf-8")
    with pytest.raises(UserInputError, match="'-0.5': text where a number belongs"):
        load_queue(path)
