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
