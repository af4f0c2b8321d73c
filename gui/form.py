"""A form generated from a procedure's typed parameters (no GUI code per procedure).

Numbers with a unit take SI prefixes (``2.2 mA``, ``10.5 GHz``) and are never clamped: a value
out of range stays as typed, is marked, and says why. The values are checked exactly as the
command line checks them: the procedure's own validation, its cross-parameter checks and the
station's limits.
"""

from __future__ import annotations

import re
from typing import Any

import pyqtgraph as pg
from PyQt5.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLineEdit, QWidget

from labctl.errors import UserInputError
from labctl.units import format_value, parse_list

PREFIXED = {"A", "V", "T", "Hz", "s", "ohm", "W"}  # units an SI prefix reads well on
BAD = "background: #f6c6c6;"
NAMED = re.compile(r"parameters? (\w+)")  # "parameter i_stop = ..." names the culprit


class ParameterField:
    """The widget of one parameter, its value, and a mark for a problem."""

    def __init__(self, parameter, on_change):
        self.p = p = parameter
        if p.kind is bool:
            self.widget = QCheckBox()
            self.widget.setChecked(bool(p.default))
            self.widget.toggled.connect(lambda _: on_change())
        elif p.kind is str and p.choices:
            self.widget = QComboBox()
            self.widget.addItems(list(p.choices))
            self.widget.setCurrentText(str(p.default))
            self.widget.currentIndexChanged.connect(lambda _: on_change())
        elif p.kind in (str, list):
            self.widget = QLineEdit(self._text(p.default))
            self.widget.textChanged.connect(lambda _: on_change())
        else:
            unit = "Ω" if p.unit == "ohm" else p.unit
            self.widget = pg.SpinBox(value=p.default, int=p.kind is int,
                                     suffix=unit, siPrefix=p.unit in PREFIXED,
                                     dec=p.kind is not int, step=1 if p.kind is int else 0.1,
                                     minStep=1 if p.kind is int else 1e-12, decimals=6,
                                     compactHeight=False, scaleAtZero=1)
            self.widget.sigValueChanged.connect(lambda *_: on_change())
        lo = "" if p.minimum is None else format_value(p.minimum, p.unit)
        hi = "" if p.maximum is None else format_value(p.maximum, p.unit)
        self.range = f"{lo} … {hi}" if (lo or hi) else ""
        self.tip = p.description + (f" (range {self.range})" if self.range else "")
        self.widget.setToolTip(self.tip)

    def _text(self, value: Any) -> str:
        if isinstance(value, list | tuple):
            return ", ".join(format_value(v, self.p.unit) if isinstance(v, float) else str(v)
                             for v in value)
        return str(value)

    def value(self) -> Any:
        """The entered value in the parameter's kind (UserInputError for unreadable text)."""
        w, p = self.widget, self.p
        if p.kind is bool:
            return w.isChecked()
        if isinstance(w, QComboBox):
            return w.currentText()
        if p.kind is list:
            text = w.text().strip()
            if not text:
                return []
            try:
                return parse_list(text, p.unit, p.name)
            except UserInputError:
                return p.parse(text)  # e.g. memristor targets "HRS, 10 kOhm"
        if p.kind is str:
            return w.text()
        v = w.value()
        return int(v) if p.kind is int else float(v)

    def set_value(self, value: Any) -> None:
        w = self.widget
        if isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QComboBox):
            w.setCurrentText(str(value))
        elif isinstance(w, QLineEdit):
            w.setText(self._text(value))
        else:
            w.setValue(value)

    def mark(self, problem: str) -> None:
        self.widget.setStyleSheet(BAD if problem else "")
        self.widget.setToolTip(problem or self.tip)


class ParameterForm(QWidget):
    """Fields for every parameter of a procedure class; :meth:`check` says what is wrong."""

    def __init__(self, cls, on_change, parent: QWidget | None = None):
        super().__init__(parent)
        self.cls = cls
        layout = QFormLayout(self)
        self.fields: dict[str, ParameterField] = {}
        for p in cls.parameters:
            f = ParameterField(p, on_change)
            self.fields[p.name] = f
            layout.addRow(p.name, f.widget)

    def values(self) -> dict[str, Any]:
        return {name: f.value() for name, f in self.fields.items()}

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self.fields:
                self.fields[name].set_value(value)

    def build(self, config):
        """(procedure, '') if every value is good, else (None, the first problem); the field
        the problem names is marked."""
        for f in self.fields.values():
            f.mark("")
        try:
            proc = self.cls(**self.values())
            proc.check_station(config)
        except UserInputError as err:
            text = str(err)
            match = NAMED.search(text)
            if match and match.group(1) in self.fields:
                self.fields[match.group(1)].mark(text)
            return None, text
        return proc, ""
