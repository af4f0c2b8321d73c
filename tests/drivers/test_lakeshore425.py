"""Exact exchanges of the Lake Shore 425 driver (manual chapter 6 command set)."""

import pytest
from pymeasure.test import expected_protocol

from drivers.base import UnsafeCommand
from drivers.contracts import Gaussmeter
from drivers.lakeshore425 import MAX_RATE, MU_0, QUIET_TIME, LakeShore425
from labctl.clock import VirtualClock
from labctl.errors import InstrumentError


@pytest.fixture(autouse=True)
def virtual_pacing(monkeypatch):
    """Pacing waits on a virtual clock here, so the exchanges take no real time."""
    monkeypatch.setattr(LakeShore425, "clock", VirtualClock())

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


def test_range_code_is_strict_and_the_gauss_range_is_blocked():
    with expected_protocol(LakeShore425, [(b"RANGE 4", None), (b"RANGE?", b"3")]) as inst:
        inst.range_code = 4
        assert inst.range_code == 3
        with pytest.raises(ValueError):
            inst.range_code = 5  # pymeasure would pick a neighbouring range silently
        with pytest.raises(UnsafeCommand, match="configure_field_reading"):
            inst.range = 35000  # its full scale depends on the probe


def test_auto_range_takes_its_argument_and_zero_probe():
    # the manual's syntax is AUTO <0|1>; a bare AUTO is an execution error
    with expected_protocol(LakeShore425, [(b"AUTO 1", None), (b"AUTO 0", None),
                                          (b"ZPROBE", None)]) as inst:
        inst.auto_range()
        inst.auto_range(False)
        inst.zero_probe()


def test_configure_field_reading_checks_probe_sets_tesla_and_range_by_read_back():
    exchange = [(b"TYPE?", b"40"), (b"UNIT 2;RANGE 4", None), (b"UNIT?", b"2"),
                (b"RANGE?", b"4")]
    with expected_protocol(LakeShore425, exchange) as inst:
        inst.configure_field_reading(0.9)  # 9 kG needs the 35 kG range of the HSE probe


def test_a_range_that_does_not_hold_is_an_instrument_error():
    exchange = [(b"TYPE?", b"40"), (b"UNIT 2;RANGE 4", None), (b"UNIT?", b"2"),
                (b"RANGE?", b"2")]
    with expected_protocol(LakeShore425, exchange) as inst, \
            pytest.raises(InstrumentError, match="range 2 after setting"):
        inst.configure_field_reading(0.65)


@pytest.mark.parametrize("probe, expected, message", [
    (b"42", None, "no range for 0.65 T"),  # ultra-high sensitivity: 350 G at most
    (b"41", "high_sensitivity", "high stability probe is plugged in"),
    (b"17", None, "unknown probe type 17"),
])
def test_probe_is_checked(probe, expected, message):
    with expected_protocol(LakeShore425, [(b"TYPE?", probe)], probe=expected) as inst, \
            pytest.raises(InstrumentError, match=message):
        inst.configure_field_reading(0.65)


def test_overload_against_the_configured_range():
    exchange = [(b"TYPE?", b"40"), (b"UNIT 2;RANGE 3", None), (b"UNIT?", b"2"),
                (b"RANGE?", b"3"), (b"UNIT?", b"2"), (b"RDGFIELD?", b"+400.000E-03")]
    with expected_protocol(LakeShore425, exchange, range_gauss=3500.0) as inst, \
            pytest.raises(InstrumentError, match="overload"):
        inst.configure_field_reading(0.3)
        inst.read_field()


def test_transactions_are_paced_as_the_manual_asks():
    clock = VirtualClock()
    with expected_protocol(LakeShore425, [(b"UNIT?", b"2"), (b"RDGFIELD?", b"+1.0E-01")] * 3
                           ) as inst:
        inst.clock = clock
        starts = []
        original = inst._pace

        def pace():
            original()
            starts.append(clock.now())

        inst._pace = pace
        for _ in range(3):
            inst.read_field()
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= max(QUIET_TIME, 1 / MAX_RATE) - 1e-12


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
