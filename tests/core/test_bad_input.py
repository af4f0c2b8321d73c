"""Bad input never gets past the door: station files, parameters, queue files and run files.

Each kind below goes through the real command line (in this process, so that the station
factory can be watched): exit code 2, exactly one line on stderr naming the file, key or
value, no traceback, and no station opened, so nothing was sent to any instrument.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

import labctl.station
from labctl.cli.main import main
from labctl.config import default_sim_station
from labctl.runlayout import write_outcome
from labctl.runner import Runner
from labctl.station import open_station
from procedures.freq_current import FreqCurrent


@dataclass
class Kind:
    name: str
    argv: Callable[[Path], list[str]]  # given a fresh folder with the fixtures in it
    expect: tuple[str, ...]  # what the one line must name


# ---- station files ---------------------------------------------------------------------------

def station_edit(old: str, new: str) -> Callable[[Path], list[str]]:
    def argv(d: Path) -> list[str]:
        text = (d / "station.toml").read_text(encoding="utf-8")
        assert old in text, old
        (d / "bad.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
        return ["station", "check", "--station", str(d / "bad.toml")]
    return argv


def station_bytes(make: Callable[[str], bytes]) -> Callable[[Path], list[str]]:
    def argv(d: Path) -> list[str]:
        (d / "bad.toml").write_bytes(make((d / "station.toml").read_text(encoding="utf-8")))
        return ["run", "freq-current", "--station", str(d / "bad.toml")]
    return argv


STATION = [
    Kind("quoted number", station_edit("max_current = 2.5e-3", 'max_current = "2.5e-3"'),
         ("bad.toml", "shno_source.limits.max_current", "'2.5e-3'", "without quotes")),
    Kind("boolean for seconds", station_edit("dwell = 0.05", "dwell = true"),
         ("bad.toml", "shno_source.limits.dwell", "true", "boolean")),
    Kind("simulated as text", station_edit("simulated = true", 'simulated = "yes"'),
         ("bad.toml", "simulated", "'yes'")),
    Kind("simulated as number", station_edit("simulated = true", "simulated = 1"),
         ("bad.toml", "simulated", "1")),
    Kind("float for a count", station_edit("max_points = 40001", "max_points = 4e4"),
         ("bad.toml", "spectrum.limits.max_points", "40000.0", "whole number")),
    Kind("UTF-16 file", station_bytes(lambda t: t.encode("utf-16")),
         ("bad.toml", "UTF-16")),
    Kind("not UTF-8", station_bytes(lambda t: t.replace("probe station", "Messplatz é").encode(
        "latin-1")), ("bad.toml", "not UTF-8")),
    Kind("nested 100000 deep", station_bytes(lambda t: t.encode() + b"\nx = " + b"[" * 100_000
                                             + b"]" * 100_000 + b"\n"),
         ("bad.toml", "nested")),
    Kind("nested 20 deep", station_bytes(lambda t: t.replace(
        "[sim]\n", "[sim]\ndevice = { a = " + "[" * 20 + "1" + "]" * 20 + " }\n").encode()),
         ("bad.toml", "nested more than 16")),
    Kind("larger than 1 MB", station_bytes(lambda t: t.encode() + b"#" * (1 << 21)),
         ("bad.toml", "bytes")),
    Kind("empty file", station_bytes(lambda t: b""), ("bad.toml", "missing key")),
    Kind("binary garbage", station_bytes(lambda t: bytes(range(256)) * 4),
         ("bad.toml", "not UTF-8")),
    Kind("not TOML", station_bytes(lambda t: t.replace("[gate]", "[gate").encode()),
         ("bad.toml", "not valid TOML")),
    Kind("missing key", station_edit("max_current = 2.5e-3 ", "# "),
         ("bad.toml", "shno_source.limits.max_current", "missing")),
    Kind("unknown key", station_edit("timeout = 5.0\n", "timeout = 5.0\ntimout = 3\n"),
         ("bad.toml", "shno_source.timout", "unknown key")),
    Kind("unit typo beyond ceiling", station_edit("max_current = 2.5e-3", "max_current = 2.5"),
         ("bad.toml", "shno_source.limits.max_current", "2.5")),
    Kind("negative dwell", station_edit("dwell = 0.05", "dwell = -0.05"),
         ("bad.toml", "shno_source.limits.dwell", "-0.05")),
    Kind("unknown driver", station_edit('driver = "keithley2450"', 'driver = "keithley9999"'),
         ("bad.toml", "shno_source.driver", "keithley9999")),
    Kind("calibration not rising", station_edit("[[-15.0, -0.9], [15.0, 0.9]]",
                                                "[[-15.0, 0.9], [15.0, -0.9]]"),
         ("bad.toml", "field.calibration", "rise")),
    Kind("calibration with text", station_edit("[[-15.0, -0.9], [15.0, 0.9]]",
                                               '[[-15.0, "a"], [15.0, 0.9]]'),
         ("bad.toml", "field.calibration", "'a'")),
    Kind("step above maximum", station_edit("max_step = 10e-6", "max_step = 2e-3"),
         ("bad.toml", "shno_source.limits.max_step", "0.002")),
    Kind("zero timeout", station_edit("timeout = 5.0", "timeout = 0.0"),
         ("bad.toml", "shno_source.timeout", "0.0")),
    Kind("unknown approach", station_edit('approach = "below"', 'approach = "sideways"'),
         ("bad.toml", "field.limits.approach", "sideways")),
    Kind("analyzer beyond 110 GHz", station_edit("max_frequency = 26.5e9",
                                                 "max_frequency = 200e9"),
         ("bad.toml", "spectrum.limits.max_frequency", "200000000000.0")),
    Kind("positive lowest V_M", station_edit("min_voltage = -3.0", "min_voltage = 3.0"),
         ("bad.toml", "gate.limits.min_voltage", "3.0")),
    Kind("missing station file", lambda d: ["run", "freq-current", "--station",
                                            str(d / "nowhere.toml")],
         ("nowhere.toml", "cannot read")),
    Kind("station file is a folder", lambda d: ["run", "freq-current", "--station", str(d)],
         (str(Path("x")).strip("x"), "cannot read")),
]


# ---- parameters ------------------------------------------------------------------------------

def run_sets(*sets: str, extra: tuple[str, ...] = ()) -> Callable[[Path], list[str]]:
    def argv(d: Path) -> list[str]:
        out = ["run", "freq-current", "--sim", "--out", str(d / "runs"), *extra]
        for s in sets:
            out += ["--set", s]
        return out
    return argv


PARAMETERS = [
    Kind("unknown parameter", run_sets("i_stpo=2e-3"), ("i_stpo",)),
    Kind("not a number", run_sets("i_stop=abc"), ("i_stop", "abc")),
    Kind("start above stop frequency", run_sets("f_start=12e9", "f_stop=8e9"),
         ("f_start", "f_stop")),
    Kind("beyond the analyzer", run_sets("f_stop=30e9"), ("f_stop", "30 GHz")),
    Kind("beyond max I_SHNO", run_sets("i_stop=3e-3"), ("i_stop", "3 mA", "2.5 mA")),
    Kind("beyond max field", run_sets("field=1.0"), ("field", "1")),
    Kind("beyond the analyzer's points", run_sets("points=50001"), ("points", "50001")),
    Kind("V_M beyond the gate", run_sets("gate_voltage=10"), ("gate_voltage", "10")),
    Kind("V_M that would switch the memristor in either state", run_sets("gate_voltage=2V"),
         ("gate_voltage = 2 V", "whatever its state")),
    Kind("compliance beyond the gate", run_sets("gate_compliance=5e-3"),
         ("gate_compliance", "5 mA")),
    Kind("zero step", run_sets("i_step=0"), ("i_step", "0")),
    Kind("NaN", run_sets("i_stop=nan"), ("i_stop", "nan")),
    Kind("infinity", run_sets("i_stop=inf"), ("i_stop", "inf")),
    Kind("fractional count", run_sets("averages=1.5"), ("averages", "1.5")),
    Kind("negative bandwidth", run_sets("rbw=-1e6"), ("rbw", "-1")),
    Kind("a parameter given twice", run_sets("field=650mT", "field=700mT"),
         ("field", "given twice", "650mT", "700mT")),
    Kind("--set without =", run_sets("i_stop"), ("--set", "i_stop")),
    Kind("unknown procedure", lambda d: ["run", "freq-curent", "--sim"], ("freq-curent",)),
    Kind("--sim and --station", run_sets(extra=("--station", "x.toml")), ("--sim",)),
    Kind("no station", lambda d: ["run", "freq-current"], ("--station",)),
    Kind("--out is a file", lambda d: ["run", "freq-current", "--sim", "--out",
                                       str(d / "station.toml")], ("station.toml", "a file")),
    Kind("--out under a file", lambda d: ["run", "freq-current", "--sim", "--out",
                                          str(d / "station.toml" / "runs")],
         ("station.toml", "a file")),
    Kind("unit of another quantity", run_sets("i_stop=2 V"), ("i_stop", "2 V")),
    Kind("a sweep longer than the analyzer's (7 Hz for 7 MHz)", run_sets("rbw=7Hz"),
         ("rbw = 7 Hz", "longest sweep")),
    Kind("bandwidth wider than the span", run_sets("f_start=8e9", "f_stop=8.01e9", "rbw=20e6"),
         ("rbw", "20 MHz", "span")),
    # a station whose max_field the supply cannot reach is refused as a station file (its
    # max_field must be reachable within 95 % of max_current by the calibration table), so a
    # field within max_field is always within the supply
    Kind("field beyond the supply by the calibration", lambda d: [
        "run", "freq-current", "--station", str(_calibrated(d))],
         ("max_field = 0.9 T", "22.5 A", "max_current")),
    Kind("field sweep ending beyond the supply", lambda d: [
        "run", "field-sweep", "--station", str(_calibrated(d)), "--set", "b_start=0.5",
        "--set", "b_stop=0.85"], ("max_field", "22.5 A")),
]


def _calibrated(d: Path) -> Path:
    """The station with a magnet that reaches only 0.6 T at the supply's 15 A."""
    station_edit("[[-15.0, -0.9], [15.0, 0.9]]", "[[-15.0, -0.6], [15.0, 0.6]]")(d)
    return d / "bad.toml"



# ---- queue files ----------------------------------------------------------------------------

GOOD_QUEUE = """\
station = "station.toml"
out = "night"
[[run]]
procedure = "freq-current"
set = { i_start = 0.8e-3, i_stop = 1.6e-3, i_step = 100e-6, points = 1001 }
foreach = { field = [0.6, 0.65] }
"""


def queue_text(text: str, *, resume: bool = False, encoding: str = "utf-8"
               ) -> Callable[[Path], list[str]]:
    def argv(d: Path) -> list[str]:
        (d / "q.toml").write_bytes(text.encode(encoding))
        return ["queue", str(d / "q.toml"), *(["--resume"] if resume else [])]
    return argv


def queue_edit(old: str, new: str, **kw) -> Callable[[Path], list[str]]:
    assert old in GOOD_QUEUE, old
    return queue_text(GOOD_QUEUE.replace(old, new, 1), **kw)


def queue_with_state(edit: Callable[[dict], object]) -> Callable[[Path], list[str]]:
    def argv(d: Path) -> list[str]:
        from labctl.queue import QueueState, load_queue

        (d / "q.toml").write_text(GOOD_QUEUE, encoding="utf-8")
        state = QueueState.new(load_queue(d / "q.toml"))
        edit(state.data)
        state.save()
        state.release()
        if isinstance(state.data.get("raw"), bytes):
            state.path.write_bytes(state.data["raw"])
        return ["queue", str(d / "q.toml"), "--resume"]
    return argv


def _outside(data: dict) -> None:
    data["runs"][0]["path"] = "/etc/passwd"


QUEUES = [
    Kind("quoted number", queue_edit("i_stop = 1.6e-3", 'i_stop = "1.6e-3"'),
         ("q.toml", "i_stop", "'1.6e-3'", "without quotes")),
    Kind("boolean for a number", queue_edit("i_stop = 1.6e-3", "i_stop = true"),
         ("q.toml", "i_stop", "True")),
    Kind("quoted boolean", queue_edit("points = 1001", 'points = 1001, background = "true"'),
         ("q.toml", "background", "'true'")),
    Kind("a million runs", queue_edit("field = [0.6, 0.65]", "field = [" + ", ".join(
        ["0.6"] * 1000) + "], gate_voltage = [" + ", ".join(["0.0"] * 1000) + "]"),
         ("q.toml", "1000000 runs", "at most 10000")),
    Kind("UTF-16 queue", queue_text(GOOD_QUEUE, encoding="utf-16"), ("q.toml", "UTF-16")),
    Kind("unknown top key", queue_edit('out = "night"', 'out = "night"\nretries = 3'),
         ("q.toml", "retries")),
    Kind("unknown procedure", queue_edit('"freq-current"', '"freq-curent"'),
         ("q.toml", "freq-curent")),
    Kind("run is not a table", queue_text('station = "sim"\nout = "x"\nrun = [3]\n'),
         ("q.toml", "run 1", "table")),
    Kind("empty foreach", queue_edit("field = [0.6, 0.65]", "field = []"),
         ("q.toml", "foreach field", "[]")),
    Kind("both set and foreach", queue_edit("points = 1001 }", "points = 1001, field = 0.6 }"),
         ("q.toml", "field", "both")),
    Kind("missing station file", queue_edit('station = "station.toml"',
                                            'station = "nowhere.toml"'),
         ("q.toml", "nowhere.toml")),
    Kind("no out folder", queue_edit('out = "night"\n', ""), ("q.toml", "out")),
    Kind("out folder is a file", queue_edit('out = "night"', 'out = "station.toml"'),
         ("station.toml", "a file")),
    Kind("unknown on_failure", queue_edit('out = "night"', 'out = "night"\non_failure = "retry"'),
         ("q.toml", "on_failure", "retry")),
    Kind("nested too deeply", queue_text(GOOD_QUEUE + "x = " + "[" * 50 + "]" * 50 + "\n"),
         ("q.toml", "nested")),
    Kind("start above stop frequency", queue_edit("points = 1001", "points = 1001, "
                                                  "f_start = 12e9, f_stop = 8e9"),
         ("q.toml", "f_start", "f_stop")),
    Kind("beyond the station in a foreach", queue_edit("[0.6, 0.65]", "[0.6, 1.5]"),
         ("q.toml", "field", "1.5")),
    Kind("progress file without --resume", queue_with_state(lambda data: None)
         and (lambda d: queue_with_state(lambda data: None)(d)[:-1]),
         ("q.toml", "--resume")),
    Kind("progress names a file outside", queue_with_state(_outside),
         ("night.queue.json", "/etc/passwd", "out folder")),
    Kind("progress file not JSON", queue_with_state(lambda data: data.update(raw=b"{x")),
         ("night.queue.json", "cannot read")),
    Kind("progress of another queue", queue_with_state(
        lambda data: data["runs"][0].update(procedure="sync-map")), ("q.toml", "run 1")),
]


# ---- run files ------------------------------------------------------------------------------

def run_file(edit: Callable[[h5py.File], object], command: str = "inspect",
             status: str | None = None, *extra: str) -> Callable[[Path], list[str]]:
    def argv(d: Path) -> list[str]:
        path = d / "bad.h5"
        shutil.copy(d / "good.h5", path)
        with h5py.File(path, "r+") as f:
            if status:
                write_outcome(f, "status", status)
            edit(f)
        return [command, str(path), *extra]
    return argv


def set_attr(key: str, value) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        del f.attrs[key]
        f.attrs[key] = value
    return edit


def _invalid_utf8(f: h5py.File) -> None:
    del f.attrs["procedure"]
    f.attrs.create("procedure", np.array(b"freq-\xff\xfe", dtype=h5py.string_dtype("utf-8", 7)))


def _group_coordinate(f: h5py.File) -> None:
    del f["point"]
    f.create_group("point")


def _reshaped(f: h5py.File) -> None:
    del f["trace"]
    f["trace"] = np.zeros((3, 7), np.float32)


def _stored_station(simulated: bool) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        station = json.loads(f.attrs["station"])
        station["simulated"] = simulated
        set_attr("station", json.dumps(station))(f)
    return edit


def _schema_edit(change: Callable[[dict], None]) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        schema = json.loads(f.attrs["schema"])
        change(schema)
        set_attr("schema", json.dumps(schema))(f)
    return edit


def _renamed(f: h5py.File) -> None:
    """A quantity another labctl version called differently, consistently in the file."""
    f.move("voltage", "stripe_voltage")
    _schema_edit(lambda s: [q.update(name="stripe_voltage") for q in s["streams"][0][
        "quantities"] if q["name"] == "voltage"])(f)


def _parameter(name: str, value) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        parameters = json.loads(f.attrs["parameters"])
        parameters[name] = value
        set_attr("parameters", json.dumps(parameters))(f)
    return edit


def _written(path: Path, data: bytes, command: str) -> list[str]:
    path.write_bytes(data)
    return [command, str(path)]


def _truncated(d: Path) -> list[str]:
    data = (d / "good.h5").read_bytes()
    (d / "bad.h5").write_bytes(data[: len(data) // 3])
    return ["inspect", str(d / "bad.h5")]


RUN_FILES = [
    Kind("text in schema_version", run_file(set_attr("schema_version", "two")),
         ("bad.h5", "schema_version", "two")),
    Kind("text in planned_points", run_file(set_attr("planned_points", "many")),
         ("bad.h5", "planned_points", "many")),
    Kind("text in resumed", run_file(set_attr("resumed", "once")),
         ("bad.h5", "resumed", "once")),
    Kind("invalid UTF-8 in an attribute", run_file(_invalid_utf8), ("bad.h5", "procedure")),
    Kind("coordinate is a group", run_file(_group_coordinate, "replay"), ("bad.h5", "point")),
    Kind("soft-link loop", run_file(lambda f: f.__setitem__("loop", h5py.SoftLink("/loop"))),
         ("bad.h5", "loop", "soft link")),
    Kind("external link", run_file(lambda f: f.__setitem__("x", h5py.ExternalLink(
        "/etc/passwd", "/"))), ("bad.h5", "external link")),
    Kind("replay of a missing dataset", run_file(lambda f: f.__delitem__("trace"), "replay"),
         ("bad.h5", "trace", "missing")),
    Kind("replay of a reshaped dataset", run_file(_reshaped, "replay"), ("bad.h5", "trace")),
    Kind("replay at no speed", run_file(lambda f: None, "replay", None, "--speed", "0"),
         ("--speed 0", "positive")),
    Kind("replay backwards", run_file(lambda f: None, "replay", None, "--speed", "-5"),
         ("--speed -5", "positive")),
    Kind("newer schema_version", run_file(set_attr("schema_version", 99)),
         ("bad.h5", "schema_version 99")),
    Kind("unknown status", run_file(lambda f: write_outcome(f, "status", "weird")),
         ("bad.h5", "status", "weird")),
    Kind("schema names a path", run_file(_schema_edit(
        lambda s: s["streams"][0]["quantities"][0].update(name="../x"))),
         ("bad.h5", "../x")),
    Kind("schema not JSON", run_file(set_attr("schema", "{not json")), ("bad.h5", "schema")),
    Kind("schema with a bad dtype", run_file(_schema_edit(
        lambda s: s["streams"][0]["quantities"][0].update(dtype="object"))),
         ("bad.h5", "object")),
    Kind("truncated", _truncated, ("bad.h5", "truncated")),
    Kind("not HDF5", lambda d: _written(d / "bad.h5", b"hello" * 100, "inspect"),
         ("bad.h5", "not a readable HDF5")),
    Kind("missing run file", lambda d: ["replay", str(d / "none.h5")], ("none.h5", "no such")),
    Kind("resume of a completed run", run_file(lambda f: None, "resume"),
         ("bad.h5", "completed")),
    Kind("resume on a stored real station", run_file(_stored_station(False), "resume",
                                                     "aborted"),
         ("bad.h5", "--station", "real instruments")),
    Kind("resume with parameters not a table", run_file(set_attr("parameters", "[1, 2]"),
                                                        "resume", "aborted"),
         ("bad.h5", "parameters")),
    Kind("resume of an unknown procedure", run_file(set_attr("procedure", "teleport"),
                                                    "resume", "aborted"),
         ("bad.h5", "teleport")),
    Kind("resume with parameters beyond the station", run_file(_parameter("i_stop", 5e-3),
                                                                "resume", "aborted"),
         ("i_stop", "5 mA")),
    Kind("resume of a layout from another version", run_file(_renamed, "resume", "aborted"),
         ("bad.h5", "layout")),
]

KINDS = STATION + PARAMETERS + QUEUES + RUN_FILES


def test_at_least_sixty_kinds():
    assert len(STATION) >= 20 and len(PARAMETERS) >= 15 and len(QUEUES) >= 15
    assert len(RUN_FILES) >= 20 and len(KINDS) >= 60


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fixtures")
    from importlib import resources

    (d / "station.toml").write_text(resources.files("labctl").joinpath(
        "stations/sim.toml").read_text(encoding="utf-8"), encoding="utf-8")
    proc = FreqCurrent(i_start=0.8e-3, i_stop=1.2e-3, i_step=100e-6, points=201, averages=1)
    assert Runner(proc, open_station(default_sim_station()), d / "good.h5").run() == "completed"
    return d


@pytest.mark.parametrize("kind", KINDS, ids=[f"{i:02d}-{k.name}" for i, k in enumerate(KINDS)])
def test_refused_at_the_door(kind, fixtures, tmp_path, capsys, monkeypatch):
    for name in ("station.toml", "good.h5"):
        shutil.copy(fixtures / name, tmp_path / name)
    opened = []
    monkeypatch.setattr(labctl.station, "open_station",
                        lambda *a, **k: opened.append(a) or pytest.fail("a station was opened"))
    monkeypatch.chdir(tmp_path)
    argv = kind.argv(tmp_path)
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (kind.name, out, err)
    assert len(lines) == 1, (kind.name, err)
    assert "Traceback" not in out + err
    for word in kind.expect:
        assert word in lines[0], (kind.name, word, lines[0])
    assert not opened  # nothing was sent: no instrument was even connected


def test_a_huge_sparse_coordinate_is_read_in_bounded_memory(fixtures, tmp_path, capsys):
    import resource

    path = tmp_path / "sparse.h5"
    shutil.copy(fixtures / "good.h5", path)
    with h5py.File(path, "r+") as f:  # 16 GB if read whole; five chunks on disk
        rows = f["point"][:5]
        del f["point"]
        f.create_dataset("point", shape=(2_000_000_000,), chunks=(64,), dtype="int64",
                         fillvalue=-1)[:5] = rows
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert main(["replay", str(path), "--quiet"]) == 0
    assert "replayed 5 points" in capsys.readouterr().out
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # kB
