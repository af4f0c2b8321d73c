"""Rules every registered driver keeps (as pymeasure's test_all_instruments.py checks its own):

1. No member inherited from pymeasure changes an output outside the roles' ramps: any that
   would (a level, the output relay, the source function, *RST, a self-test that swings the
   output, a 2400 :MEASure? that resets the compliance) is blocked, naming the safe way.
2. Every setting validates strictly: an absurd value raises and nothing is sent.
3. Query before act: what could change an output asks the output state first and refuses
   (sending nothing else) when it is on.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import warnings

import pytest
from pymeasure.adapters import Adapter
from pymeasure.instruments.common_base import DynamicProperty

from drivers.base import UnsafeCommand
from labctl.clock import VirtualClock
from labctl.registry import DRIVERS, ROLES, driver_class

OUTPUT_ROLES = ("shno_source", "gate", "field.supply")
DRIVES_AN_OUTPUT = sorted({d for role in OUTPUT_ROLES for d in ROLES[role]})

# commands that change what an output does (headers normalised: upper case, no leading ':')
CHANGES_AN_OUTPUT = [re.compile(p) for p in (
    r"^OUTP(UT)?(:STAT(E)?)?\s",  # the output relay
    r"^(SOUR(CE)?\d*:)?(CURR(ENT)?|VOLT(AGE)?)(:LEV(EL)?)?(:IMM(EDIATE)?)?(:AMPL?(ITUDE)?)?\s",
    r"^(SOUR(CE)?\d*:)?FUNC(TION)?(:MODE)?\s",  # the source function / operating mode
    r"^(SOUR(CE)?\d*:)?(CURR(ENT)?|VOLT(AGE)?):MODE\s",  # sweeps, lists
    r"^\*RST", r"^\*TRG", r"^DIAG",  # reset; trigger; the BOP self-test swings the output
    r"^INIT", r"^(SOUR(CE)?\d*:)?(WAVE|DELT|SWE|LIST)\w*:(ARM|INIT|STAR)",
    r"^SYST(EM)?:(PRES|BEEP:IMM)",
)]
# the 2400's :MEASure?/:CONFigure reset the compliance of the function (manual 17-2)
EXTRA = {"keithley2400": [re.compile(r"^(MEAS(URE)?|CONF(IGURE)?):")]}
# the raw channel: labctl's own layer over it is what the roles use
RAW_IO = {"write", "write_bytes", "write_binary_values", "read", "read_bytes",
          "read_binary_values", "ask", "values", "binary_values", "check_errors",
          "check_get_errors", "check_set_errors", "wait_for", "close", "clear", "adapter",
          "session", "device_clear", "add_child", "remove_child",
          "wait_for_buffer"}  # polls a status query until a buffer fills: waits, never acts
CANDIDATES = (0, 1, 1e-3, -1e-3, True, "CURR", "VOLT", "ON", (1, 0, 1), [1.0])


class RecordingAdapter(Adapter):
    """Records every message; answers every query (output-state queries with ``output``)."""

    def __init__(self, output: str = "0"):
        super().__init__()
        self.output = output
        self.written: list[str] = []
        self._reply = ""

    def _write(self, command: str, **kwargs) -> None:
        self.written.append(command)
        first = command.strip().lstrip(":").upper()
        live = re.match(r"(OUTP|MEAS(URE)?:CURR)", first)  # output state; a coil's current
        self._reply = self.output if live else "0"

    def _write_bytes(self, content: bytes, **kwargs) -> None:
        self._write(content.decode(errors="replace"))

    def _read(self, **kwargs) -> str:
        return self._reply

    def _read_bytes(self, count: int, break_on_termchar: bool = False, **kwargs) -> bytes:
        return self._reply.encode()

    def flush_read_buffer(self) -> None:
        self._reply = ""


def make(name: str, output: str = "0"):
    adapter = RecordingAdapter(output)
    driver = driver_class(name)(adapter, name="probe")
    driver.clock = VirtualClock()
    adapter.written.clear()
    return driver, adapter


def changes_an_output(name: str, commands: list[str]) -> list[str]:
    patterns = CHANGES_AN_OUTPUT + EXTRA.get(name, [])
    units = [u.strip().lstrip(":").upper() for c in commands for u in c.split(";")]
    return [u for u in units if any(p.search(u + " ") for p in patterns)]


def inherited_from_pymeasure(cls) -> list[str]:
    """Public members whose definition comes from a pymeasure class, not from labctl."""
    names = []
    for name in dir(cls):
        if name.startswith("_") or name in RAW_IO:
            continue
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is not None and owner.__module__.startswith("pymeasure"):
            names.append(name)
    return names


def exercise(driver, name: str) -> None:
    """Get, set and call member ``name`` with plausible values; swallow every refusal."""
    member = inspect.getattr_static(type(driver), name)
    attempts = []
    if isinstance(member, property):
        attempts.append(lambda: getattr(driver, name))
        if member.fset is not None:
            attempts += [lambda v=v: setattr(driver, name, v) for v in CANDIDATES]
    elif callable(member):
        bound = getattr(driver, name)
        try:
            params = [p for p in inspect.signature(bound).parameters.values()
                      if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                             p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            params = []
        count = len(params)
        attempts += [lambda v=v: bound(*([v] * count)) for v in CANDIDATES]
    for attempt in attempts:
        with contextlib.suppress(Exception):  # refusals of every kind are what we hope for
            attempt()


@pytest.fixture(autouse=True)
def no_real_waiting(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)


def test_every_registered_driver_loads_and_names_its_roles():
    for name in DRIVERS:
        assert any(name in ROLES[role] for role in ROLES), name
        driver, adapter = make(name)
        assert adapter.written == [], f"{name} sends something on construction"
        assert driver.name == "probe"


@pytest.mark.parametrize("name", DRIVES_AN_OUTPUT)
def test_no_inherited_member_changes_an_output(name):
    offenders = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for member in inherited_from_pymeasure(driver_class(name)):
            driver, adapter = make(name, output="1")
            exercise(driver, member)
            sent = changes_an_output(name, adapter.written)
            if sent:
                offenders[member] = sent
    assert offenders == {}, f"{name}: inherited members that change an output: {offenders}"


@pytest.mark.parametrize("name", DRIVES_AN_OUTPUT)
def test_the_blocked_members_name_the_safe_alternative(name):
    cls = driver_class(name)
    blocked = [n for n in dir(cls) if getattr(inspect.getattr_static(cls, n, None), "blocked",
                                              False)
               or getattr(getattr(inspect.getattr_static(cls, n, None), "fset", None),
                          "blocked", False)]
    assert blocked, name
    for member in blocked:
        driver, adapter = make(name)
        with pytest.raises(UnsafeCommand, match="use "):
            attr = getattr(type(driver), member)
            if isinstance(attr, property):
                setattr(driver, member, 0)
            else:
                getattr(driver, member)()
        assert adapter.written == []


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_every_setting_is_strict(name):
    """An absurd value raises before anything is sent (pymeasure's validators may clamp)."""
    cls = driver_class(name)
    settable = [n for n in dir(cls) if not n.startswith("_")
                and isinstance(inspect.getattr_static(cls, n, None), property)
                and inspect.getattr_static(cls, n).fset is not None]
    accepted = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for member in settable:
            for value in (1e12, -1e12, "bogus"):
                driver, adapter = make(name)
                try:
                    setattr(driver, member, value)
                except Exception:  # noqa: BLE001 - ValueError, KeyError, UnsafeCommand ...
                    assert not changes_an_output(name, adapter.written)
                    if adapter.written and not all("?" in c for c in adapter.written):
                        accepted.append((member, value, adapter.written))
                    continue
                accepted.append((member, value, adapter.written))
    assert accepted == [], f"{name}: settings that accept an absurd value: {accepted}"


ACTS = {  # driver -> what could change an output, with arguments
    "keithley2450": [("configure_current_source", 5.0), ("configure_voltage_source", 1e-4),
                     ("reset",)],
    "keithley2400": [("configure_current_source", 5.0), ("configure_voltage_source", 1e-4),
                     ("reset",)],
    "keithley6221": [("configure_current_source", 5.0), ("reset",)],
    "kepco_bop": [("configure_current_mode", 10.0), ("reset",), ("disable_output",)],
}


@pytest.mark.parametrize("name, act", [(n, a) for n, acts in ACTS.items() for a in acts])
def test_query_before_act(name, act):
    """With the output on (or the coil live), the act asks first and sends nothing else."""
    driver, adapter = make(name, output="1")
    with pytest.raises(UnsafeCommand):
        getattr(driver, act[0])(*act[1:])
    assert adapter.written and all("?" in c for c in adapter.written), adapter.written


def test_the_meta_test_sees_an_unsafe_member():
    """The detector itself: pymeasure's own 2450 ramps and switches without asking."""
    from pymeasure.instruments.keithley import Keithley2450 as Raw

    adapter = RecordingAdapter("1")
    raw = Raw(adapter)
    adapter.written.clear()
    exercise(raw, "disable_source")
    exercise(raw, "apply_voltage")
    assert changes_an_output("keithley2450", adapter.written)


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_reserved_names_of_dynamic_properties_stay_hidden(name):
    # pymeasure's rule, kept by labctl's cheaper attribute access: the per-instance
    # parameters of a dynamic property (``<name>_values`` ...) are set, never read back
    driver, adapter = make(name)
    dynamic = [n for n, m in inspect.getmembers(type(driver)) if isinstance(m, DynamicProperty)]
    for prop in dynamic:
        with pytest.raises(AttributeError, match="reserved"):
            getattr(driver, f"{prop}_values")
    if dynamic:
        return
    driver.anything_else = 1  # a model without dynamic properties: plain attributes
    assert driver.anything_else == 1
    assert adapter.written == []


def test_a_dynamic_property_follows_what_is_set_for_this_instance():
    driver, adapter = make("keysight_xseries")
    driver.set_max_frequency(13.6e9)
    driver.stop_frequency = 13.6e9
    with pytest.raises(ValueError):
        driver.stop_frequency = 13.7e9
    other, _ = make("keysight_xseries")
    other.set_max_frequency(26.5e9)
    other.stop_frequency = 20e9  # the limit belongs to the instance, not the class
    assert adapter.written == [":SENS:FREQ:STOP 13600000000"]


def test_a_subclass_may_narrow_a_dynamic_property_at_class_level():
    # pymeasure's way of adapting a model: the class value is each instance's starting value
    base = driver_class("keysight_xseries")
    narrow = type("NarrowAnalyzer", (base,), {"stop_frequency_values": (10.0, 1e9)})
    assert narrow.stop_frequency_values == (10.0, 1e9)
    driver = narrow(RecordingAdapter(), name="probe")
    with pytest.raises(ValueError):
        driver.stop_frequency = 2e9
    with pytest.raises(AttributeError, match="reserved"):
        driver.stop_frequency_values  # noqa: B018
    wide, adapter = make("keysight_xseries")
    wide.stop_frequency = 2e9  # the base class keeps its own values
    assert adapter.written == [":SENS:FREQ:STOP 2000000000"]


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_the_exchange_labctl_writes_out_is_pymeasures(name):
    # drivers.base.LabInstrument does pymeasure's ask/write/read itself (a layer of calls
    # less per message): valid only while no pymeasure base of a driver changes them
    from pymeasure.instruments import Instrument
    from pymeasure.instruments.common_base import CommonBase

    from drivers.base import LabInstrument

    mro = driver_class(name).__mro__
    below = mro[mro.index(LabInstrument) + 1:]
    expected = {"ask": CommonBase, "wait_for": Instrument, "write": Instrument,
                "read": Instrument, "write_bytes": Instrument, "read_bytes": Instrument}
    for method, owner in expected.items():
        assert next(k for k in below if method in vars(k)) is owner, (name, method)
