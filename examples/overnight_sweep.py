"""An overnight sweep in Python: three memristor states, a frequency-current map at each.

    python examples/overnight_sweep.py --sim                  # the simulated probe station
    python examples/overnight_sweep.py --station lab.toml     # a real one

The magnet goes to its field once and stays there between the runs (``keep_outputs``); the
memristor is programmed (write-verify, a recorded run of its own) with I_SHNO at zero, then
read; a freq-current sweep follows. Everything ramps down when the script ends, fails, or is
stopped with Ctrl-C or SIGTERM. The results are loaded back with ``labctl.load_run``.
See docs/scripting.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import labctl
from labctl.lab import interrupt_on_signals
from labctl.lab.signals import reason_of

FIELD = 0.65  # T
# memristor states: the high-resistance state, then two analog low-resistance levels (ohm)
STATES = ("HRS", 20e3, 5e3)
SWEEP = {"i_start": 0.6e-3, "i_stop": 2.2e-3, "i_step": 50e-6, "field": FIELD,
         "points": 2001, "averages": 20}


def label(target) -> str:
    return target if isinstance(target, str) else f"{target / 1e3:g} kohm"


def program(lab, target, out: Path, sample: str) -> float:
    """Bring the memristor to ``target`` ("HRS" or ohm) with I_SHNO at zero; its resistance."""
    lab.ramp("shno_source", 0.0)  # the stripe current would bias the memristor's bottom node
    parameters = {"state": target} if isinstance(target, str) else {"target": target}
    result = lab.run("memristor-program", parameters, out=out / "programming",
                     sample=sample, keep_outputs=True)
    if not result.completed:
        raise SystemExit(f"programming to {label(target)} {result.status}: {result.reason}")
    return lab.read_memristor(v_read=0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--sim", action="store_true", help="the built-in simulated station")
    where.add_argument("--station", type=Path, help="a station file (TOML)")
    parser.add_argument("--out", type=Path, default=Path("runs/overnight-sweep"))
    parser.add_argument("--sample", default="")
    parser.add_argument("--operator", default="")
    args = parser.parse_args()

    try:
        paths = sweep(args)
    except KeyboardInterrupt as err:  # the run in progress is aborted and everything ramped down
        print(f"stopped: {reason_of(err)}; the run in progress was aborted and every output "
              "ramped down", file=sys.stderr)
        return 130
    report(paths)
    return 0


def sweep(args) -> list[Path]:
    """The three states and their maps; the paths of the maps' run files."""
    paths = []
    # Ctrl-C and SIGTERM abort the run in progress safely, then stop the script
    with labctl.open_lab(sim=args.sim, station=args.station) as lab, interrupt_on_signals():
        print(f"field: {lab.ramp('field', FIELD):.4f} T")
        for target in STATES:
            resistance = program(lab, target, args.out, args.sample)
            print(f"memristor {label(target)}: read {resistance:.4g} ohm")
            result = lab.run("freq-current", SWEEP, out=args.out, sample=args.sample,
                             operator=args.operator, keep_outputs=True,
                             comment=f"memristor {label(target)}, read {resistance:.4g} ohm")
            print(f"  freq-current {result.status}: {result.path}")
            paths.append(result.path)
    # the lab is closed here: every output ramped down, the station released
    return paths


def report(paths: list[Path]) -> None:
    """Each map loaded back with labctl.load_run, one line each."""
    for path in paths:
        ds = labctl.load_run(path)
        threshold = ds.attrs["results"].get("threshold_current", float("nan"))
        print(f"{path.name}: {ds.sizes['point']} currents "
              f"{ds.current.values[0] * 1e3:.2f}-{ds.current.values[-1] * 1e3:.2f} mA, "
              f"threshold {threshold * 1e3:.3f} mA, {ds.attrs['comment']}")


if __name__ == "__main__":
    raise SystemExit(main())
