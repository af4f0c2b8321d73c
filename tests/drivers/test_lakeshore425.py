"""Exact exchanges of the Lake Shore 425 driver (manual chapter 6 command set)."""

import pytest
from pymeasure.test import expected_protocol

from drivers.contracts import Gaussmeter
from drivers.lakeshore425 import MU_0, LakeShore425
from labctl.errors import InstrumentError

IDN = "LSCI,MODEL425,4250022,1.0"


def test_init_sends_nothing_and_satisfies_the_contract():
    # checked on the class: isinstance() on a runtime protocol would query the ``id``
    members = {n for n in vars(Gaussmeter) if not n.startswith("_")}
    with expected_protocol(LakeShore425, []) as inst:
        assert inst.name
        assert all(hasattr(LakeShore425, m) for m in members), members


def test_id():
    with expected_protocol(LakeShore425, [(b"*IDN?", IDN.encode())]) as inst:
        assert inst.id == IDN


def test_unit_query_and_setting():
    with expected_protocol(LakeShore425, [(b"UNIT?", b"1"), (b"UNIT 2", None)]) as inst:
        assert inst.unit == "G"
        inst.unit = "T"


def test_unit_rejects_unknown_unit():
    with expected_protocol(LakeShore425, []) as inst, pytest.raises(ValueError):
        inst.unit = "mT"


@pytest.mark.parametrize(
    "code, reading, tesla",
    [
        (b"1", b"+650.000E+01", 0.65),
        (b"2", b"+650.000E-03", 0.65),
        (b"3", b"-123.456E+01", -0.123456),
        (b"4", b"+517.253E+03", 517.253e3 * MU_0),
    ],
)
def test_read_field_converts_each_unit_to_tesla(code, reading, tesla):
    with expected_protocol(LakeShore425, [(b"UNIT?", code), (b"RDGFIELD?", reading)]) as inst:
        assert inst.read_field() == pytest.approx(tesla, rel=1e-9)


def test_read_field_in_a_m_is_mu0_h():
    with expected_protocol(
        LakeShore425, [(b"UNIT?", b"4"), (b"RDGFIELD?", b"+517.253E+03")]
    ) as inst:
        assert inst.read_field() == pytest.approx(0.65, rel=1e-4)


def test_unreadable_reading_raises_instrument_error():
    exchange = [(b"UNIT?", b"2"), (b"RDGFIELD?", b"OL")]
    with (
        expected_protocol(LakeShore425, exchange) as inst,
        pytest.raises(InstrumentError, match="unreadable field reading"),
    ):
        inst.read_field()


def test_range_is_strict():
    with expected_protocol(LakeShore425, [(b"RANGE 4", None), (b"RANGE?", b"3")]) as inst:
        inst.range = 35000
        assert inst.range == 3500
        with pytest.raises(ValueError):
            inst.range = 1000  # pymeasure would pick a neighbouring range silently


def test_auto_range_and_zero_probe():
    with expected_protocol(LakeShore425, [(b"AUTO", None), (b"ZPROBE", None)]) as inst:
        inst.auto_range()
        inst.zero_probe()


def test_dc_mode():
    with expected_protocol(
        LakeShore425, [(b"RDGMODE 1,0,1", None), (b"RDGMODE?", b"1,0,1")]
    ) as inst:
        inst.dc_mode()
        assert inst.mode == (1, 0, 1)


def test_raise_errors_reports_event_status_error_bits():
    with expected_protocol(LakeShore425, [(b"UNIT 2", None), (b"*ESR?", b"48")]) as inst:
        inst.unit = "T"
        with pytest.raises(InstrumentError) as err:
            inst.raise_errors()
    assert "Execution error" in str(err.value) and "Command error" in str(err.value)
    assert err.value.instrument == "Lake Shore 425"
    assert err.value.command == "UNIT 2"


def test_raise_errors_ignores_non_error_bits():
    # bit 0 (operation complete) is not an error
    with expected_protocol(LakeShore425, [(b"*ESR?", b"1"), (b"*CLS", None)]) as inst:
        inst.raise_errors()
        inst.clear()
