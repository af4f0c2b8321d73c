"""The sync map paints each synchronization code in the colour its legend gives it."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from gui import theme
from gui.plots.sync import sync_levels, sync_lut


def test_every_sync_code_gets_its_own_colour():
    codes = np.array([sorted(theme.SYNC_STYLE)], dtype=float)
    argb, _ = pg.functions.makeARGB(codes, lut=sync_lut(), levels=sync_levels())
    painted = [tuple(int(c) for c in argb[0, k, 2::-1]) for k in range(codes.shape[1])]  # BGRA
    assert painted == [theme.SYNC_STYLE[k][0] for k in sorted(theme.SYNC_STYLE)]
