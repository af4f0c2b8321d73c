"""``labctl station check``, ``station list`` and ``safe``: what the instruments are doing.

The check only asks (identity, output, function, level, limit, range, read-back) and says
what a run would change before it drives anything; it reports every instrument, whatever
failed before. Nothing here switches, sets or ramps anything.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from labctl.errors import LabctlError, UserInputError
from labctl.units import format_value as show


@dataclass
class InstrumentReport:
    """What one station slot's instrument said, and what a run would change."""

    slot: str
    lines: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    failed: bool = False

    def text(self) -> list[str]:
        out = [f"{self.slot}"] + [f"    {line}" for line in self.lines]
        if self.changes:
            out += [f"    a run would first: {change}" for change in self.changes]
        elif not self.failed:
            out.append("    a run would change nothing it needs")
        return out


def check_station(station) -> list[InstrumentReport]:
    """Ask every instrument; a failing one is reported and the others are still asked."""
    config = station.config
    checks = [
        ("shno_source", lambda r: _source(r, station.shno_source,
                                          config.shno_source.limits.compliance_voltage)),
        ("gate", lambda r: _source(r, station.gate, None)),
        ("spectrum", lambda r: _spectrum(r, station.spectrum)),
        ("field.supply", lambda r: _supply(r, station.field)),
        ("field.gaussmeter", lambda r: _gaussmeter(r, station.field)),
    ]
    drivers = station.drivers()
    reports = []
    for slot, check in checks:
        report = InstrumentReport(slot)
        try:
            report.lines.append(f"identity   {str(drivers[slot].id).strip()}")
            check(report)
            drivers[slot].raise_errors()
        except (LabctlError, ValueError, OSError) as err:
            report.failed = True
            report.lines.append(f"FAILED: {err}")
        reports.append(report)
    return reports


def _source(report: InstrumentReport, role, compliance: float | None) -> None:
    state = role.read_state()
    unit, other = ("A", "V") if state.function == "current" else ("V", "A")
    report.lines += [
        f"output     {'ON' if state.output else 'off'}",
        f"function   {state.function} (the role drives {role.native})",
        f"level      {show(state.level, unit)}",
        f"limit      {show(state.compliance, other)}",
        "range      " + ("auto" if state.source_range is None
                            else show(state.source_range, unit)),
    ]
    if state.output:  # an output that is off has nothing to read back (its 0 V is no reading)
        volts, amps = role.driver.measure_voltage(), role.driver.measure_current() \
            if hasattr(role.driver, "measure_current") else float("nan")
        report.lines.append(f"read-back  V = {volts:.6g} V, I = {amps:.6g} A")
    else:
        report.lines.append("read-back  none: output off")
    if not state.output and state.function != role.native:
        report.changes.append(f"set the {role.native} function (output off), then switch the "
                              f"output on at 0")
    if state.output and state.function != role.native:
        report.changes.append(f"ramp {show(state.level, unit)} to 0 through the {state.function} "
                              f"function, switch the output off, set the {role.native} function")
    elif state.output and not role.allowed.low <= state.level <= role.allowed.high:
        report.changes.append(f"ramp {show(state.level, unit)} down into the station limits "
                              f"[{show(role.allowed.low, unit)}, {show(role.allowed.high, unit)}]")
    if state.function == role.native and compliance is not None and \
            abs(state.compliance - compliance) > 1e-5 * compliance:
        report.changes.append(f"set the limit to {show(compliance, other)} (station file)")
    if state.function == role.native and compliance is None and \
            state.compliance > role.limits.max_compliance:
        report.changes.append(f"set the compliance a procedure asks for (at most "
                              f"{show(role.limits.max_compliance, 'A')}); "
                              f"{show(state.compliance, 'A')} now")
    if state.source_range is not None and not role._range_holds(state):
        report.changes.append("ramp to 0, switch off and set auto range (the fixed range "
                              "cannot hold the station's limits)")


def _spectrum(report: InstrumentReport, role) -> None:
    driver = role.driver
    report.lines.append(f"transfer   {driver.read_transfer_format()}")
    top = getattr(driver, "max_frequency", None)
    if top is None:
        top = driver.read_frequency_option()
    report.lines.append(f"frequency  up to {top / 1e9:g} GHz "
                        f"(station limit {role.limits.max_frequency / 1e9:g} GHz)")
    if role.limits.max_frequency > top:
        report.changes.append(f"nothing above {top / 1e9:g} GHz: lower spectrum.limits."
                              "max_frequency")
    report.lines.append("settings   set and read back at each sweep configuration")


def _supply(report: InstrumentReport, field_role) -> None:
    supply = field_role.supply
    on, mode = supply.read_output_enabled(), supply.read_mode()
    report.lines += [
        f"output     {'ON' if on else 'off'}",
        f"mode       {mode} (the field role drives current)",
        f"current    {show(supply.read_current_setpoint(), 'A')} programmed, "
        f"{show(supply.measure_current(), 'A')} in the coil",
        f"voltage    {show(supply.read_voltage_setpoint(), 'V')} programmed",
    ]
    if on and mode != "current":
        report.changes.append("ramp the voltage to 0 V through voltage mode, wait for the coil, "
                              "switch off, set current mode")
    elif mode == "current" and abs(supply.read_voltage_setpoint()
                                   - field_role.voltage_limit) > 1e-6:
        report.changes.append(f"set the voltage limit to {show(field_role.voltage_limit, 'V')}")


def _gaussmeter(report: InstrumentReport, field_role) -> None:
    meter = field_role.gaussmeter
    probe, full_scale, code = meter.plan_range(field_role.limits.max_field)
    unit, range_code = meter.unit, meter.range_code
    report.lines += [f"probe      {probe}", f"unit       {unit}", f"range      code {range_code}"]
    try:
        report.lines.append(f"reading    {meter.read_field():.6g} T")
    except LabctlError as err:
        report.lines.append(f"reading    none: {err}")
    if unit != "T" or range_code != code:
        report.changes.append(f"set tesla and the {full_scale:g} G range (code {code}) for "
                              f"|B| <= {show(field_role.limits.max_field, 'T')}")


def check_station_config(config) -> tuple[str, list[str]]:
    """Lock the station, ask every instrument, release it untouched: (report, failed slots)."""
    import labctl.station
    from labctl.lab.lab import station_locks

    locks = station_locks(config)
    taken = []
    try:
        for lock in locks:
            lock.acquire()
            taken.append(lock)
        station = labctl.station.open_station(config)
        try:
            reports = check_station(station)
            return report_text(station, reports), [r.slot for r in reports if r.failed]
        finally:
            for driver in station.drivers().values():  # sessions closed; outputs untouched
                with contextlib.suppress(Exception):
                    driver.adapter.close()
    finally:
        for lock in taken:
            lock.release()


def report_text(station, reports: list[InstrumentReport]) -> str:
    c = station.config
    lines = [f"station      {c.name}" + (" (simulated)" if c.simulated else "")]
    for report in reports:
        lines += report.text()
    shno = c.shno_source.limits
    lines.append(f"limits       |I_SHNO| <= {show(shno.max_current, 'A')}, "
                 f"step {show(shno.max_step, 'A')}, dwell {show(shno.dwell, 's')}, "
                 f"compliance {show(shno.compliance_voltage, 'V')}")
    lines.append(f"             V_M in [{show(c.gate.limits.min_voltage, 'V')}, "
                 f"{show(c.gate.limits.max_voltage, 'V')}], compliance <= "
                 f"{show(c.gate.limits.max_compliance, 'A')}")
    lines.append(f"             |B| <= {show(c.field.limits.max_field, 'T')}, "
                 f"ramp <= {show(c.field.limits.max_ramp_rate, 'A')}/s")
    return "\n".join(lines)


def safe_report(station, failures: list[str]) -> list[str]:
    """One line per role after ``Station.ramp_down``; failures said as they are."""
    lines = []
    for name in station.roles:
        mine = [f for f in failures if f.startswith(f"{name}:")]
        if not mine:
            done = ("nothing to make safe; error queue empty" if name == "spectrum"
                    else "at zero and off (confirmed by read-back)")
            lines.append(f"{name:12s} ramped down: {done}")
        for failure in mine:
            lines.append(f"{name:12s} {failure.removeprefix(f'{name}:').strip()}")
    return lines


def visa_resources(backend: str = "") -> list[tuple[str, str]]:
    """(resource, alias or '') of every VISA resource pyvisa can see with ``backend``."""
    import pyvisa

    try:
        manager = pyvisa.ResourceManager(backend)
    except (OSError, ValueError) as err:
        raise UserInputError(f"no VISA library for backend {backend or 'default'!r}: {err} "
                             "(install NI-VISA, or pyvisa-py and use --backend @py)") from None
    try:
        info = manager.list_resources_info()
        return [(name, getattr(item, "alias", "") or "") for name, item in info.items()]
    finally:
        manager.close()
