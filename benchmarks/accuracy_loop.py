"""The accuracy loop on an example at the default target: levels, DOFs, time, estimates.

    python benchmarks/accuracy_loop.py EXAMPLE [--uniform | --local | --indicator] [--cold] [--max-dofs N]
                                               [--json FILE]

EXAMPLE is a stem of examples/*.toml (its ``[mesh] accuracy`` forced to 0.02). The levels are
sized as by default (``simulator.solve.accuracy.INDICATOR``: levels >= 1 from the
error-equidistributing size map of post.error_indicator, replacing the scenario's size
field), or: ``--uniform`` all sizes x a factor per level; ``--local`` the flagged-zone map
of post.size_target (``LOCAL``, min with the scenario's sizes); ``--indicator`` the
default's map; ``--cold`` starts
every level's Newton solves from the linear solve instead of the previous level's fields
(``simulator.solve.accuracy.WARM_START = False``). Prints wall and CPU time (this process
and its meshing children).

**Estimated against reference error.** When the loop ran three levels or more from the size
map (a ``--max-dofs`` above the default lets it go one level past the default target's
stop), the value extrapolated from the last three of them at their observed order
(``richardson.observed_order``) serves as the reference, and each earlier level's error
estimate (what the loop would have reported had it stopped there) is printed with its error
against that reference and the effectivity (estimate / reference error). The reference is
itself a Richardson value, not an exact solution; the last level's estimate comes from the
same three levels as the reference, so it is not compared.
``--json FILE`` writes levels, figures and that comparison.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.scenario import scenario_from_dict     # noqa: E402
from simulator.post.richardson import observed_order  # noqa: E402
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
    ap.add_argument("--json", type=Path, help="write levels, figures and the reference comparison here")
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
    wall, cpu = time.perf_counter() - t, _cpu() - c
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{a.example} {acc.mode}{' cold' if a.cold else ' warm'}: "
          f"{wall:.0f} s wall, {cpu:.0f} s CPU (with the meshing children), "
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
    comparison = reference_comparison(acc)
    for name, row in comparison.items():
        print(f"  reference {name}: {row['reference']:.6g} (order {row['order']:.2f}); "
              + "; ".join(f"level {c['level']} ({c['dofs']:,} DOFs) estimated {100 * c['estimated_rel']:.2f} % "
                          f"against {100 * c['reference_rel']:.2f} %, effectivity {c['effectivity']:.2f}"
                          for c in row["levels"]))
    if a.json:
        record = {"command": " ".join(["python", "benchmarks/accuracy_loop.py"] + sys.argv[1:]),
                  "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load_average": os.getloadavg()[0],
                  "wall_s": wall, "cpu_s": cpu, "met": acc.met, "stopped_by": acc.stopped_by,
                  "levels": [{"dofs": lv.dofs, "cells": lv.cells, "time_s": lv.time, "mapped": lv.mapped,
                              "newton": lv.newton_iterations, "cg": lv.cg_iterations, "currents_A": lv.currents,
                              "volumes_m3": lv.volumes, "coverage": lv.tumours} for lv in acc.levels],
                  "figures": {k: {"value": f.value, "error": f.error, "order": f.order, "tolerance": f.tolerance,
                                  "met": f.met} for k, f in acc.figures.items()},
                  "reference_comparison": comparison}
        a.json.write_text(json.dumps(record, indent=1) + "\n")


def _series(levels) -> dict[str, list[float]]:
    """Each current and volume (not the coverage fractions: relative errors of fractions near
    1 say little) over the levels."""
    out = {f"current[{i}]": [lv.currents[i] for lv in levels] for i in range(len(levels[0].currents))}
    out.update({f"volumes.{k}": [lv.volumes[k] for lv in levels] for k in levels[0].volumes})
    return out


def reference_comparison(acc) -> dict:
    """Per current and volume: the reference (extrapolated over the last three levels from the
    size map, at their observed order) and, for each level with an estimate but the last, the
    loop's error estimate there against the reference error (module docstring); {} with
    fewer than three mapped levels or where the order is not observed."""
    mapped = [k for k, lv in enumerate(acc.levels) if lv.mapped]
    if len(mapped) < 3:
        return {}
    h = [lv.size for lv in acc.levels]
    out = {}
    for name, q in _series(acc.levels).items():
        i, j, k = mapped[-3:]
        p = observed_order((h[i], h[j], h[k]), (q[i], q[j], q[k]))
        if p is None:
            continue
        ref = q[k] + (q[k] - q[j]) / ((h[j] / h[k]) ** p - 1.0)
        rows = []
        for n in range(1, k):           # every level with an estimate, but the last
            fig = accuracy.estimate(acc.levels[:n + 1], acc.target)[name]
            true = abs(q[n] - ref)
            rows.append({"level": n, "dofs": acc.levels[n].dofs, "estimated_rel": fig.error / abs(q[n]),
                         "reference_rel": true / abs(ref), "effectivity": fig.error / true if true else float("inf")})
        out[name] = {"reference": ref, "order": p, "levels": rows}
    return out


if __name__ == "__main__":
    main()
