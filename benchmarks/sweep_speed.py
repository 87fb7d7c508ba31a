"""Speed of a voltage sweep against one run (issue 14).

    python -m benchmarks.sweep_speed [--scenario examples/hexagonal.toml] [--points 10]
                                     [--size-mm S] [--json out.json]

For each conductivity model given (default: constant, then the scenario's own), times one
run (mesh from the cache, as a sweep's first point would be) and a sweep of ``--points``
voltages from 0.6x to 1.4x the scenario's voltage, and prints the ratio sweep / one run.
With constant conductivity a sweep solves each configuration once and scales it, so the
ratio is far below the number of points; a nonlinear law needs one solve per point (no
warm start: rows must equal single runs), so the ratio approaches the number of points
less the mesh and engine set-up saved.
"""
from __future__ import annotations

import argparse
import json
import os
import time


def measure(path: str, points: int, size_mm: float | None, models: list[str | None]) -> list[dict]:
    from simulator import load_scenario, run
    from simulator.studies.sweep import plan_sweep, run_sweep
    from simulator.studies.variation import Variation

    base = load_scenario(path)
    if size_mm is not None:
        base = base.with_changes({"mesh.size_mm": size_mm})
    out = []
    for model in models:
        sc = base if model is None else base.with_conductivity_model(model)
        run(sc)                                   # fills the mesh cache
        t0 = time.perf_counter()
        one = run(sc)
        t_one = time.perf_counter() - t0
        v0 = sc.protocol.max_voltage
        volts = [round(v0 * (0.6 + 0.8 * k / max(points - 1, 1)), 3) for k in range(points)]
        sweep = plan_sweep(sc, [Variation("protocol.voltage_V", tuple(volts))])
        t0 = time.perf_counter()
        run_sweep(sweep)
        t_sweep = time.perf_counter() - t0
        out.append({"scenario": path, "conductivity_model": model or "as in the scenario",
                    "dofs": one.dofs, "points": points, "one_run_s": round(t_one, 3),
                    "sweep_s": round(t_sweep, 3), "ratio": round(t_sweep / t_one, 2),
                    "field_solves": sum(s for s in sweep.solves if s is not None),
                    "load_average_1min": os.getloadavg()[0]})
        print(json.dumps(out[-1]))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="examples/hexagonal.toml")
    p.add_argument("--points", type=int, default=10)
    p.add_argument("--size-mm", type=float, default=None)
    p.add_argument("--models", default="constant,scenario", help="comma list; 'scenario' = the file's own")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    models = [None if m == "scenario" else m for m in a.models.split(",")]
    rows = measure(a.scenario, a.points, a.size_mm, models)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
