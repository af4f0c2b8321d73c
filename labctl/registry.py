"""Instrument drivers and procedures found by name, so nothing imports every one of them.

Built-in drivers and procedures are listed here; other packages add theirs through the
entry-point groups ``labctl.drivers`` and ``labctl.procedures`` (``name = "package.module:Class"``).
The core names them as text only, so it never imports ``drivers/`` or ``procedures/``.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import entry_points

from labctl.errors import UserInputError, did_you_mean

# driver name -> "module:Class" of the real driver (pymeasure-based)
DRIVERS: dict[str, str] = {
    "keithley2450": "drivers.keithley2450:Keithley2450",
    "keithley2400": "drivers.keithley2400:Keithley2400",
    "keithley6221": "drivers.keithley6221:Keithley6221",
    "keysight_xseries": "drivers.keysight_xseries:KeysightXSeries",
    "rs_fsv": "drivers.rs_fsv:RohdeSchwarzFSV",
    "kepco_bop": "drivers.kepco_bop:KepcoBOP",
    "lakeshore425": "drivers.lakeshore425:LakeShore425",
}

# driver name -> "module:Class" of the simulated instrument that speaks the same SCPI
SIMULATED: dict[str, str] = {
    "keithley2450": "labctl.sim.sourcemeter:SimKeithley2450",
    "keithley2400": "labctl.sim.sourcemeter:SimKeithley2400",
    "keithley6221": "labctl.sim.sourcemeter:SimKeithley6221",
    "keysight_xseries": "labctl.sim.analyzer:SimKeysightXSeries",
    "rs_fsv": "labctl.sim.analyzer:SimRohdeSchwarzFSV",
    "kepco_bop": "labctl.sim.magnet_supply:SimKepcoBOP",
    "lakeshore425": "labctl.sim.gaussmeter:SimLakeShore425",
}


# station slot -> the built-in drivers that can play it (a plugin driver class names its
# slots in a ROLES attribute)
ROLES: dict[str, tuple[str, ...]] = {
    "shno_source": ("keithley2450", "keithley2400", "keithley6221"),
    "gate": ("keithley2450", "keithley2400"),
    "spectrum": ("keysight_xseries", "rs_fsv"),
    "field.supply": ("kepco_bop",),
    "field.gaussmeter": ("lakeshore425",),
}


# procedure name -> "module:Class"
PROCEDURES: dict[str, str] = {
    "freq-current": "procedures.freq_current:FreqCurrent",
    "field-sweep": "procedures.field_sweep:FieldSweep",
    "sync-map": "procedures.sync_map:SyncMap",
    "memristor-cycles": "procedures.memristor_cycles:MemristorCycles",
    "memristor-program": "procedures.memristor_program:MemristorProgram",
    "memristor-retention": "procedures.memristor_retention:MemristorRetention",
    "iv-stripe": "procedures.iv_stripe:IVStripe",
}


def _plugins(group: str = "labctl.drivers") -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=group)}


def known_driver(name: str) -> bool:
    return name in DRIVERS or name in _plugins()


def _load(target: str):
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def driver_class(name: str):
    """The driver class registered under ``name``."""
    target = DRIVERS.get(name) or _plugins().get(name)
    if target is None:
        raise KeyError(name)
    return _load(target)


def simulated_class(name: str):
    """The simulated instrument for driver ``name`` (KeyError if there is none)."""
    return _load(SIMULATED[name])


def known_drivers() -> list[str]:
    return sorted({*DRIVERS, *_plugins()})


def drivers_for(slot: str) -> list[str]:
    """The drivers that can play station slot ``slot`` (built-in, then plugins)."""
    plugins = [name for name in _plugins()
               if slot in getattr(_load(_plugins()[name]), "ROLES", ())]
    return [*ROLES.get(slot, ()), *plugins]


def check_driver(slot: str, name: str, options: dict) -> str:
    """What is wrong with driver ``name`` in ``slot`` with ``options`` ('' if nothing)."""
    if not known_driver(name):
        return f"driver = {name!r}: unknown driver; known drivers: {', '.join(known_drivers())}"
    able = drivers_for(slot)
    if name not in able:
        return (f"driver = {name!r}: a {name} cannot be the {slot}; drivers that can: "
                f"{', '.join(able)}")
    if options:
        allowed = getattr(driver_class(name), "STATION_OPTIONS", {})
        for key, value in options.items():
            kind = allowed.get(key)
            if kind is None:
                known = ", ".join(allowed) or "none"
                return (f"options.{key} = {value!r}: not an option of {name} "
                        f"(its options: {known})")
            accepted = (int, float) if kind is float else kind
            if not isinstance(value, accepted) or isinstance(value, bool) != (kind is bool):
                return f"options.{key} = {value!r}: must be {kind.__name__}"
    return ""


def _procedures() -> dict[str, str]:
    return {**PROCEDURES, **_plugins("labctl.procedures")}


def available_procedures() -> list[str]:
    """Names of the procedures whose module is present."""
    return [name for name, target in _procedures().items()
            if importlib.util.find_spec(target.partition(":")[0]) is not None]


def procedure_class(name: str):
    """The procedure class called ``name``; UserInputError naming the known ones otherwise."""
    known = available_procedures()
    if name not in known:
        raise UserInputError(f"unknown procedure {name!r}{did_you_mean(name, known)} "
                             f"(known: {', '.join(known)})")
    return _load(_procedures()[name])
