"""SCPI header matching for simulated instruments: long/short forms and optional nodes.

A pattern is written as in a programming manual: ``[:SOURce]:CURRent[:LEVel][:IMMediate]``
(upper-case letters are the short form, ``[...]`` is optional, ``#`` an optional numeric
suffix, a trailing ``?`` a query).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

_TOKEN = re.compile(r"\[|\]|:|\?|#|\*?[A-Za-z][A-Za-z0-9]*")


def _keyword_regex(word: str) -> str:
    short = "".join(ch for ch in word if ch.isupper() or ch.isdigit() or ch == "*")
    long = word.upper()
    if short == long or not short:
        return re.escape(long)
    rest = long[len(short):]
    # accept the short form or the long form, nothing in between (as instruments do)
    return f"{re.escape(short)}(?:{re.escape(rest)})?"


@cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    if not pattern.startswith(("*", ":", "[:")):
        pattern = ":" + pattern
    out = []
    for tok in _TOKEN.findall(pattern):
        if tok == "[":
            out.append("(?:")
        elif tok == "]":
            out.append(")?")
        elif tok == ":":
            out.append(":")
        elif tok == "?":
            out.append(r"\?")
        elif tok == "#":
            out.append(r"(\d*)")
        else:
            out.append(_keyword_regex(tok))
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE)


def normalize_header(header: str) -> str:
    """Give every non-common header one leading ':' so patterns match either spelling."""
    return header if header.startswith("*") else ":" + header.lstrip(":")


def scpi(pattern: str) -> Callable[[Callable], Callable]:
    """Mark a simulated-instrument method as the handler of one SCPI header pattern."""

    def mark(func: Callable) -> Callable:
        func.__dict__.setdefault("_scpi_patterns", []).append(pattern)
        return func

    return mark


def _split_quoted(message: str) -> list[str]:
    units: list[str] = []
    buf, quote = [], ""
    for ch in message:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            buf.append(ch)
        elif ch == ";":
            units.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    units.append("".join(buf))
    return units


def split_message(message: str) -> list[tuple[str, str]]:
    """Split a program message into (header, arguments) units at ';' (outside quotes)."""
    if '"' not in message and "'" not in message:
        units = message.split(";")  # the common case, without walking every character
    else:
        units = _split_quoted(message)
    result = []
    previous_root = ""
    for unit in units:
        unit = unit.strip()
        if not unit:
            continue
        header, _, args = unit.partition(" ")
        # IEEE 488.2 rule: a header without a leading ':' after ';' continues the previous path
        if previous_root and not header.startswith((":", "*")) and ":" not in header:
            header = previous_root + ":" + header
        if not header.startswith("*"):
            previous_root = header.lstrip(":").rsplit(":", 1)[0] if ":" in header else ""
        result.append((header, args.strip()))
    return result


def parse_bool(arg: str) -> bool:
    a = arg.strip().upper()
    if a in ("1", "ON"):
        return True
    if a in ("0", "OFF"):
        return False
    raise ValueError(arg)


def parse_number(arg: str, minimum: float | None = None, maximum: float | None = None) -> float:
    """A SCPI numeric argument, including MIN/MAX/DEF keywords when bounds are given."""
    a = arg.strip().upper()
    if a in ("MIN", "MINIMUM") and minimum is not None:
        return minimum
    if a in ("MAX", "MAXIMUM") and maximum is not None:
        return maximum
    return float(a)
