"""Look: light and dark themes, readable fonts, the colours of spectra and of sync states."""

from __future__ import annotations

import pyqtgraph as pg
from PyQt5.QtGui import QColor, QFont, QPalette
from PyQt5.QtWidgets import QApplication

# perceptually uniform, dark floor and bright lines: a weak oscillator line stands out of the
# analyzer's noise floor without a rainbow's false edges
SPECTRUM_COLORMAP = "inferno"
CYCLE_COLORMAP = "viridis"
FONT_POINTS = 11
TICK_POINTS = 10

# synchronization state (procedures.spectra.SYNC_CODES) -> colour, name
SYNC_STYLE = {
    0: ((150, 150, 150), "off"),
    1: ((70, 150, 255), "none"),
    2: ((255, 160, 0), "partial"),
    3: ((40, 210, 110), "full"),
    4: ((190, 120, 210), "uncertain"),  # one line, merging not established in the sweep
}

THEMES = {
    "light": {"background": "w", "foreground": (30, 30, 30), "curve": (20, 60, 160),
              "second": (200, 60, 40), "muted": (150, 150, 150)},
    "dark": {"background": (25, 25, 28), "foreground": (220, 220, 220),
             "curve": (120, 190, 255), "second": (255, 130, 90), "muted": (120, 120, 120)},
}
_current = {"name": "light"}


def colors() -> dict:
    return THEMES[_current["name"]]


def theme_name() -> str:
    return _current["name"]


def apply(name: str = "light", app: QApplication | None = None) -> None:
    """Set pyqtgraph's and (given ``app``) the widgets' colours and fonts; applies to plots
    created afterwards."""
    if name not in THEMES:
        name = "light"
    _current["name"] = name
    c = THEMES[name]
    pg.setConfigOptions(background=c["background"], foreground=c["foreground"],
                        antialias=False, imageAxisOrder="col-major")
    if app is None:
        return
    font = QFont(app.font())
    font.setPointSize(FONT_POINTS)
    app.setFont(font)
    app.setStyle("Fusion")
    if name == "dark":
        pal = QPalette()
        for role, rgb in ((QPalette.Window, (45, 45, 48)), (QPalette.WindowText, (220, 220, 220)),
                          (QPalette.Base, (30, 30, 32)), (QPalette.AlternateBase, (45, 45, 48)),
                          (QPalette.Text, (220, 220, 220)), (QPalette.Button, (55, 55, 58)),
                          (QPalette.ButtonText, (220, 220, 220)),
                          (QPalette.Highlight, (60, 110, 180)),
                          (QPalette.HighlightedText, (255, 255, 255)),
                          (QPalette.ToolTipBase, (45, 45, 48)),
                          (QPalette.ToolTipText, (220, 220, 220))):
            pal.setColor(role, QColor(*rgb))
        pal.setColor(QPalette.Disabled, QPalette.Text, QColor(120, 120, 120))
        pal.setColor(QPalette.Disabled, QPalette.ButtonText, QColor(120, 120, 120))
        app.setPalette(pal)
    else:
        app.setPalette(app.style().standardPalette())


def tick_font() -> QFont:
    font = QFont()
    font.setPointSize(TICK_POINTS)
    return font
