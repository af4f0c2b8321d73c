"""Signals for the clients that own the main thread (the CLI, a script): never the lab's job.

The lab and the runner install no signal handler: a library that did would break the GUI
(which has its own event loop) and any thread but the main one. A client that wants Ctrl-C
and SIGTERM to abort what runs turns them into :class:`Interrupt` in its main thread
(:func:`interrupt_on_signals`) and waits with :func:`wait_aborting`, which turns an interrupt
into ``abort(reason)`` and keeps waiting until the outputs are down and the file is closed.
Plain Python already raises KeyboardInterrupt on Ctrl-C, so scripts get that much for free.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

REASONS = {signal.SIGINT: "interrupted by Ctrl-C (SIGINT)",
           signal.SIGTERM: "terminated by SIGTERM"}


class Interrupt(KeyboardInterrupt):
    """A signal turned into an exception in the main thread; ``reason`` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def reason_of(exc: BaseException) -> str:
    """The abort reason an interrupt stands for (plain KeyboardInterrupt: Ctrl-C)."""
    return getattr(exc, "reason", "") or REASONS[signal.SIGINT]


@contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """While inside: SIGINT and SIGTERM raise :class:`Interrupt` in the main thread."""

    def handler(signum, frame):
        raise Interrupt(REASONS.get(signum, f"signal {signum}"))

    previous = {s: signal.signal(s, handler) for s in REASONS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class Abortable(Protocol):
    def wait(self, timeout: float | None = None) -> bool: ...

    def abort(self, reason: str = ...) -> None: ...


def wait_aborting(handle: Abortable, poll: float = 0.1) -> str:
    """Wait until ``handle`` (a run or a queue) has ended; an interrupt aborts it.

    Further interrupts do not cut the wait short: the ramp-down must finish. Returns the
    reason of the first interrupt, or "" if there was none.
    """
    reason, aborted = "", False
    while True:
        try:
            if reason and not aborted:
                handle.abort(reason)
                aborted = True
            if handle.wait(poll):
                return reason
        except KeyboardInterrupt as exc:
            reason = reason or reason_of(exc)
