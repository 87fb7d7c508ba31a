"""The accuracy loop on an example at the default target: levels, DOFs, time, estimates.

    python benchmarks/accuracy_loop.py EXAMPLE [--uniform | --local | --indicator] [--cold] [--max-dofs N]

EXAMPLE is a stem of examples/*.toml (its ``[mesh] accuracy`` forced to 0.02). The levels are
sized as by default (``simulator.solve.accuracy.INDICATOR``: levels >= 1 from the
error-equidistributing size map of post.error_indicator, replacing the scenario's size
field), or: ``--uniform`` all sizes x a factor per level; ``--local`` the flagged-zone map
of post.size_target (``LOCAL``, min with the scenario's sizes); ``--indicator`` the
default's map; ``--cold`` starts
every level's Newton solves from the linear solve instead of the previous level's fields
(``simulator.solve.accuracy.WARM_START = False``). Prints wall and CPU time (this process
and its meshing children).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.scenario import scenario_from_dict     # noqa: E402
from simulator.solve import accuracy                  # noqa: E402
from simulator.solve.pipeline import run              # noqa: E402


def _cpu() -> float:
    """CPU seconds of this process and its finished children (gmsh meshes in a child)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("example")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--uniform", action="store_true")
    mode.add_argument("--local", action="store_true")
    mode.add_argument("--indicator", action="store_true")
    ap.add_argument("--cold", action="store_true")
    ap.add_argument("--max-dofs", type=int)
    a = ap.parse_args()
    if a.uniform or a.local:
        accuracy.INDICATOR = False
    accuracy.LOCAL = a.local
    if a.indicator:
        accuracy.INDICATOR = True
    accuracy.WARM_START = not a.cold
    raw = tomllib.loads((ROOT / "examples" / f"{a.example}.toml").read_text())
    raw.setdefault("mesh", {})["accuracy"] = 0.02
    if a.max_dofs:
        raw["mesh"]["max_dofs"] = a.max_dofs
    t, c = time.perf_counter(), _cpu()
    r = run(scenario_from_dict(raw, base_dir=ROOT / "examples"))
    acc = r.accuracy
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{a.example} {acc.mode}{' cold' if a.cold else ' warm'}: "
          f"{time.perf_counter() - t:.0f} s wall, {_cpu() - c:.0f} s CPU (with the meshing children), "
          f"stopped by {acc.stopped_by}, met {acc.met}")
    for lv in acc.levels:
        print(f"  sizes x {lv.refinement:.3g}: {lv.dofs} DOFs, {lv.cells} cells, {lv.time:.0f} s, "
              f"Newton {lv.newton_iterations}, CG {lv.cg_iterations}, currents "
              f"{', '.join(f'{c:.5g}' for c in lv.currents[:3])}{' ...' if len(lv.currents) > 3 else ''} A, "
              f"volumes (mm3) {', '.join(f'{k} {v * 1e9:.5g}' for k, v in lv.volumes.items())}, coverage {lv.tumours}")
    for w in acc.warnings:
        print(f"  WARNING: {w}")
    for k, f in acc.figures.items():
        rel = "" if f.error is None or k.startswith("coverage") else f" ({100 * f.error / max(abs(f.value), 1e-300):.2g} %)"
        print(f"  {k}: {f.value:.6g} +- {f.error if f.error is None else f'{f.error:.3g}'}{rel}, "
              f"tolerance {f.tolerance:.3g}, order {f.order}, met {f.met}")


if __name__ == "__main__":
    main()
