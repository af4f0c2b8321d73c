"""Shared fixtures: the built-in simulated station file as text, and a writer for variants."""

from __future__ import annotations

import os
import tempfile
from importlib import resources

import pytest
from hypothesis import settings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# station locks of this test session (and of the processes it starts) in a folder of its own,
# so that test runs of several worktrees on one machine never refuse each other
os.environ.setdefault("LABCTL_LOCK_DIR", tempfile.mkdtemp(prefix="labctl-test-locks-"))

# CI replays a fixed set of generated examples so that a landing never depends on the luck of
# a draw; on a developer's machine every run explores new ones (and falsifying cases found
# there are pinned with @example).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def sim_toml() -> str:
    return resources.files("labctl").joinpath("stations/sim.toml").read_text(encoding="utf-8")


@pytest.fixture
def write_station(tmp_path, sim_toml):
    """Write the simulated station with text replacements; return the file's path."""

    def write(*replacements: tuple[str, str], name: str = "station.toml"):
        text = sim_toml
        for old, new in replacements:
            assert old in text, old
            text = text.replace(old, new, 1)
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
