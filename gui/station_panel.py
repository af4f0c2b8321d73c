"""The station panel: live read-backs, limits, manual setpoints by safe ramps, ramp-down.

Setpoints are typed with SI prefixes and units (``1.2 mA``, pyqtgraph's SpinBox). A value
beyond the station's limit is marked, its Set button is disabled with the reason, and nothing
is sent (the Lab's ramp refuses it again before sending anything). Every setpoint goes through
``Lab.ramp``, the same safe ramp runs use, and the ramp's steps show as they happen. While a run
or a queue owns the station the manual controls are disabled and the read-backs come from the
run's events (``Lab.read_station`` does not talk to the instruments then).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyqtgraph as pg
from PyQt5.QtCore import QTimer
from PyQt5.QtGui import QFont
from PyQt5.QtWidgets import QGridLayout, QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget

from gui.plots.base import show_value
from gui.station_worker import StationWorker

READ_INTERVAL_MS = 1000  # read-backs while idle (one conversation with each instrument)
V_READ, READ_COMPLIANCE = 0.1, 100e-6  # the memristor is read at 0.1 V with a compliance


@dataclass
class Output:
    """One manual output: its role for Lab.ramp, label, unit and allowed range."""

    role: str
    label: str
    unit: str
    low: float
    high: float


def outputs(config) -> list[Output]:
    i_max = config.shno_source.limits.max_current
    g = config.gate.limits
    b_max = config.field.limits.max_field
    return [Output("shno_source", "I_SHNO", "A", -i_max, i_max),
            Output("gate", "V_M", "V", g.min_voltage, g.max_voltage),
            Output("field", "B", "T", -b_max, b_max)]


def spin(unit: str, value: float = 0.0, step: float = 0.1) -> pg.SpinBox:
    """An entry that takes ``1.2 mA``, ``650 mT``; it never clamps (a value beyond the limit
    is refused with a reason instead)."""
    box = pg.SpinBox(value=value, suffix=unit, siPrefix=True, dec=True, step=step,
                     minStep=1e-9, decimals=5, compactHeight=False, scaleAtZero=1)
    box.setMinimumWidth(120)
    return box


def limit_problem(out: Output, value: float) -> str:
    if not math.isfinite(value):
        return f"{out.label}: not a number"
    if not out.low <= value <= out.high:
        return (f"{out.label} = {show_value(value, out.unit)} is beyond the station's limit "
                f"[{show_value(out.low, out.unit)}, {show_value(out.high, out.unit)}]")
    return ""


class StationPanel(QWidget):
    """Read-backs and manual control of a Lab's station."""

    def __init__(self, lab, worker: StationWorker, parent: QWidget | None = None):
        super().__init__(parent)
        self.lab = lab
        self.worker = worker
        self.outputs = {o.role: o for o in outputs(lab.config)}
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.down = QPushButton("RAMP EVERYTHING DOWN")
        self.down.setToolTip("abort any run or queue, then ramp I_SHNO, the field and V_M to "
                             "zero (always allowed)")
        self.down.setStyleSheet("QPushButton {background: #c62828; color: white; "
                                "font-weight: bold; padding: 8px;}")
        self.down.clicked.connect(self.ramp_everything_down)
        self.owner = QLabel("station: idle")
        grid = QGridLayout()
        self.entries, self.set_buttons, self.readback, self.ramping = {}, {}, {}, {}
        for row, out in enumerate(self.outputs.values()):
            entry = spin(out.unit, step={"A": 10e-6, "V": 0.1, "T": 0.01}[out.unit])
            entry.sigValueChanged.connect(lambda *_, r=out.role: self._validate(r))
            button = QPushButton("Set")
            button.clicked.connect(lambda _=False, r=out.role: self.set_output(r))
            value = QLabel("–")
            big = QFont(value.font())
            big.setPointSize(big.pointSize() + 3)
            big.setBold(True)
            value.setFont(big)
            value.setMinimumWidth(120)
            limit = QLabel(f"limit {show_value(out.low, out.unit)} … "
                           f"{show_value(out.high, out.unit)}")
            limit.setStyleSheet("color: gray")
            ramp = QLabel("")
            for col, w in enumerate((QLabel(f"<b>{out.label}</b>"), value, entry, button,
                                     limit, ramp)):
                grid.addWidget(w, row, col)
            self.entries[out.role], self.set_buttons[out.role] = entry, button
            self.readback[out.role], self.ramping[out.role] = value, ramp
        self.compliance = spin("A", 100e-6, 10e-6)
        self.compliance.sigValueChanged.connect(lambda *_: self._validate("gate"))
        grid.addWidget(QLabel("V_M compliance"), 3, 0)
        grid.addWidget(self.compliance, 3, 2)
        limit = QLabel(f"limit {show_value(lab.config.gate.limits.max_compliance, 'A')}")
        limit.setStyleSheet("color: gray")
        grid.addWidget(limit, 3, 4)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.read_r = QPushButton("Read R_M")
        self.read_r.setToolTip(f"memristor resistance at {V_READ} V with a "
                               f"{show_value(READ_COMPLIANCE, 'A')} compliance")
        self.read_r.clicked.connect(self.read_memristor)
        self.memristor = QLabel("R_M: –")
        grid.addWidget(self.read_r, 4, 0)
        grid.addWidget(self.memristor, 4, 1, 1, 2)
        box = QGroupBox("outputs")
        box.setLayout(grid)
        layout = QVBoxLayout(self)
        layout.addWidget(self.down)
        layout.addWidget(self.owner)
        layout.addWidget(box)
        layout.addWidget(self.details)
        layout.addWidget(self.message)
        layout.addStretch(1)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.poll)
        self.timer.start(READ_INTERVAL_MS)
        for role in self.outputs:
            self._validate(role)
        self.poll()

    # ---- setpoints ------------------------------------------------------------------------
    def problem(self, role: str) -> str:
        """Why the entry of ``role`` cannot be sent ('' if it can)."""
        out = self.outputs[role]
        text = limit_problem(out, float(self.entries[role].value()))
        if not text and role == "gate":
            c = float(self.compliance.value())
            top = self.lab.config.gate.limits.max_compliance
            if not 0 < c <= top:
                text = (f"V_M compliance {show_value(c, 'A')} must be above 0 and at most the "
                        f"station's {show_value(top, 'A')}")
        return text

    def _validate(self, role: str, announce: bool = True) -> None:
        """Mark an entry beyond the limit and disable its Set; ``announce`` the problem in the
        message line (an edit does; a re-check after an owner change must not replace the
        outcome of the last action there)."""
        text = self.problem(role)
        entry = self.entries[role]
        entry.setStyleSheet("background: #f6c6c6;" if text else "")
        manual = self.lab.owner not in ("run", "queue")
        self.set_buttons[role].setEnabled(manual and not text)
        self.set_buttons[role].setToolTip(text or "ramp to this value at the station's rate")
        if text and announce:
            self.message.setText(text)

    def set_output(self, role: str) -> None:
        """Ramp ``role`` to its entry's value (refused, nothing sent, beyond the limit)."""
        text = self.problem(role)
        if text:
            self.message.setText(f"refused: {text}; nothing was sent")
            return
        value = float(self.entries[role].value())
        compliance = float(self.compliance.value()) if role == "gate" else None
        out = self.outputs[role]
        self.message.setText(f"{out.label}: ramping to {show_value(value, out.unit)}")
        self.worker.submit(lambda: self.lab.ramp(role, value, compliance),
                           lambda reached: self._ramped(role, reached),
                           lambda err: self.message.setText(f"{out.label}: {err}"))

    def _ramped(self, role: str, reached: float) -> None:
        out = self.outputs[role]
        self.message.setText(f"{out.label} at {show_value(reached, out.unit)}")
        self.poll()

    def ramp_everything_down(self) -> None:
        self.message.setText("ramping everything down …")
        self.down.setEnabled(False)
        self.worker.ramp_down(self.lab, self._down_done)

    def _down_done(self, failures: list[str]) -> None:
        self.down.setEnabled(True)
        self.message.setText("RAMP-DOWN FAILED: " + "; ".join(failures) if failures
                             else "every output ramped to zero")
        self.poll()

    def read_memristor(self) -> None:
        self.worker.submit(lambda: self.lab.read_memristor(V_READ, READ_COMPLIANCE),
                           lambda r: self.memristor.setText(f"R_M: {show_value(r, 'ohm')} at "
                                                            f"{V_READ:g} V"),
                           lambda err: self.message.setText(f"R_M: {err}"), key="memristor")

    # ---- read-backs -----------------------------------------------------------------------
    def poll(self) -> None:
        """A reading (fresh from the instruments when idle, derived from a run otherwise)."""
        if self.lab.closed:
            return
        self.worker.submit(self.lab.read_station, self.show_reading,
                           lambda err: self.message.setText(f"read-back: {err}"), key="read")

    def show_reading(self, r) -> None:
        on = {True: "output on", False: "output off", None: ""}
        self.readback["shno_source"].setText(show_value(r.i_shno, "A"))
        self.readback["gate"].setText(show_value(r.v_m, "V"))
        self.readback["field"].setText(show_value(r.field, "T"))
        a = r.analyzer or {}
        analyzer = ""
        if a.get("f_start") is not None:
            analyzer = (f"analyzer {show_value(a['f_start'], 'Hz')} – "
                        f"{show_value(a.get('f_stop', math.nan), 'Hz')}, {a.get('points')} "
                        f"points, RBW {show_value(a.get('rbw', math.nan), 'Hz')}, "
                        f"{a.get('averages')} averages")
        source = "from the run's events" if r.derived else "read from the instruments"
        self.details.setText(
            f"stripe: V {show_value(r.v_shno, 'V')}, R {show_value(r.r_shno, 'ohm')}, "
            f"{on[r.shno_output]}<br>gate: I_M {show_value(r.i_m, 'A')}, compliance "
            f"{show_value(r.gate_compliance, 'A')}, {on[r.gate_output]}<br>magnet supply "
            f"{show_value(r.supply_current, 'A')}<br>{analyzer}<br><i>{source}</i>")

    def on_event(self, event) -> None:
        """Station events (output steps, owner changes, readings) from the Lab's stream."""
        if getattr(event, "source", "run") != "station":
            return
        data = event.data
        if event.kind == "output" and data.get("role") in self.outputs:
            role = data["role"]
            unit = data.get("unit") or self.outputs[role].unit  # the magnet ramps its supply (A)
            if data.get("done"):
                self.ramping[role].setText("")
            else:
                self.ramping[role].setText(f"ramping {show_value(data['level'], unit)} → "
                                           f"{show_value(data['target'], unit)}")
            if role != "field":  # the field's read-back is the gaussmeter's, not the supply
                self.readback[role].setText(show_value(data["level"], unit))
        elif event.kind == "owner":
            owner = data.get("owner")
            self.owner.setText(f"station: {owner or 'idle'}" + (
                " — manual controls disabled, read-backs from the run" if owner in
                ("run", "queue") else ""))
            manual = owner not in ("run", "queue")
            self.read_r.setEnabled(manual)
            for role in self.outputs:
                self.entries[role].setEnabled(manual)
                self._validate(role, announce=False)
        elif event.kind == "reading" and data.get("reading") is not None:
            self.show_reading(data["reading"])
