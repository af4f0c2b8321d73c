"""Procedures by name (a table, so importing the catalog does not import every procedure)."""

from __future__ import annotations

import importlib

from labctl.errors import UserInputError

PROCEDURES: dict[str, str] = {
    "freq-current": "procedures.freq_current:FreqCurrent",
    "field-sweep": "procedures.field_sweep:FieldSweep",
    "sync-map": "procedures.sync_map:SyncMap",
    "memristor-cycles": "procedures.memristor_cycles:MemristorCycles",
    "memristor-program": "procedures.memristor_program:MemristorProgram",
    "memristor-retention": "procedures.memristor_retention:MemristorRetention",
}


def available() -> list[str]:
    """Names of the procedures whose module is present."""
    out = []
    for name, target in PROCEDURES.items():
        module = target.partition(":")[0]
        if importlib.util.find_spec(module) is not None:
            out.append(name)
    return out


def procedure_class(name: str):
    """The procedure class called ``name``; UserInputError naming the known ones otherwise."""
    target = PROCEDURES.get(name)
    if target is None or name not in available():
        raise UserInputError(
            f"unknown procedure {name!r} (known: {', '.join(available())})")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
