"""Speed of a voltage sweep against one run (issue 14).

    python -m benchmarks.sweep_speed [--scenario examples/hexagonal.toml] [--points 10]
                                     [--size-mm S] [--models constant,scenario] [--check]
                                     [--jobs N] [--json out.json]
    python -m benchmarks.sweep_speed --cli [--repeat R] [--jobs N] [--json out.json]

For each conductivity model given (default: constant, then the scenario's own), times one
run (mesh from the cache, as a sweep's first point would be; with its report and table row,
as every point of a sweep has them: ``one_run_without_report_s`` is run() alone; the same
thread count for both) and a sweep of ``--points``
voltages from 0.6x to 1.4x the scenario's voltage, and prints the ratio sweep / one run,
in wall time and in CPU time of this process (all its threads; steadier than wall time on a
shared machine). With constant conductivity a sweep solves each configuration once and
scales it, so the ratio is far below the number of points; a nonlinear law needs one Newton
solve per point and configuration, each started from the previous voltages' potentials
(studies.scaling), so a point costs ~0.4 of a cold one. ``--check`` also runs every
point alone on the sweep's mesh and records the largest relative difference of any number
in its row (the issue's 1e-9; rows hold the report's 6 significant digits) and of the raw
fields behind them (max |E| of every cell, every group's current). ``--jobs N``: the sweep
as ``epsim sweep --jobs N`` (a nonlinear voltage sweep: its configuration chains in N worker
processes, studies.farm); CPU then adds the workers' (``sweep_cpu_s`` = this process +
children).

``--cli``: the same comparison as a user times it, end to end: ``epsim run SCENARIO --out D``
against ``epsim sweep SCENARIO --vary protocol.voltage_V=V1,...,V10 [--jobs N] --out D``,
each a fresh process (start-up, mesh from the cache filled by a first run, outputs written:
the run's report, figures and field file, the sweep's table, plots and page), alternated
``--repeat`` times; wall time and CPU time (the process and its children).
"""
from __future__ import annotations

import argparse
import json
import os
import time


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the sweep's worker processes)."""
    t = os.times()
    return t.children_user + t.children_system


SKIP = ("run_time_s", "run", "field_solves", "solver.nonlinear_iterations", "solver.linear_iterations")


def _row_difference(a: dict, b: dict) -> float:
    """Largest relative difference between the numbers of two rows (run counters skipped)."""
    worst = 0.0
    for key, value in b.items():
        if key in SKIP or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        worst = max(worst, abs(a[key] - value) / max(abs(value), 1e-12))
    return worst


def _check(sweep, run, build_report, report_row) -> dict:
    """Every point alone (cold Newton) on the sweep's mesh against the sweep: its rows (report
    numbers, 6 significant digits) and the raw fields behind them (max |E| per cell, each
    group's current), the latter by replaying the sweep's continuation in voltage order."""
    from collections import Counter

    from simulator.engines import create_engine
    from simulator.studies.scaling import SharedSolutions, field_family, field_keys, is_linear

    (mesh,) = sweep.meshes.values()
    order = sorted(range(len(sweep.scenarios)), key=lambda i: sweep.scenarios[i].protocol.max_voltage)
    fam = field_family(sweep.scenarios[0], "check", "embedded")
    uses = Counter(k for sc in sweep.scenarios for k in field_keys(sc, fam))
    shared = {}

    def make(name, m, settings):
        if "engine" not in shared:
            shared["engine"] = SharedSolutions(create_engine(name, m, settings), fam,
                                               is_linear(sweep.scenarios[0]), uses)
        return shared["engine"]
    rows, worst_e, worst_i = sweep.rows(), 0.0, 0.0
    worst_row = 0.0
    for i in order:
        chained = run(sweep.scenarios[i], mesh=mesh, make_engine=make)
        alone = run(sweep.scenarios[i], mesh=mesh)
        worst_row = max(worst_row, _row_difference(rows[i], report_row(build_report(alone))))
        e0, e1 = alone.train.E_max, chained.train.E_max
        worst_e = max(worst_e, float(abs(e1 - e0).max() / abs(e0).max()))
        worst_i = max([worst_i] + [abs(a.current / b.current - 1) for a, b in
                                   zip(chained.train.groups, alone.train.groups)])
    return {"max_relative_difference_rows": worst_row, "max_relative_difference_E_max": worst_e,
            "max_relative_difference_currents": worst_i}


def measure(path: str, points: int, size_mm: float | None, models: list[str | None],
            check: bool = False, jobs: int = 1) -> list[dict]:
    from simulator import load_scenario, run
    from simulator.studies.sweep import plan_sweep, run_sweep
    from simulator.studies.variation import Variation

    from simulator.output.report import build_report
    from simulator.studies.table import report_row

    base = load_scenario(path)
    if size_mm is not None:
        base = base.with_changes({"mesh.size_mm": size_mm})
    out = []
    for model in models:
        sc = base if model is None else base.with_conductivity_model(model)
        run(sc)                                   # fills the mesh cache
        t0, c0 = time.perf_counter(), time.process_time()
        one = run(sc)
        t_run, c_run = time.perf_counter() - t0, time.process_time() - c0
        report_row(build_report(one))             # what a sweep does for each of its points
        t_one, c_one = time.perf_counter() - t0, time.process_time() - c0
        v0 = sc.protocol.max_voltage
        volts = [round(v0 * (0.6 + 0.8 * k / max(points - 1, 1)), 3) for k in range(points)]
        sweep = plan_sweep(sc, [Variation("protocol.voltage_V", tuple(volts))])
        t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
        run_sweep(sweep, jobs=jobs)
        t_sweep = time.perf_counter() - t0
        c_sweep = time.process_time() - c0 + _children_cpu() - k0
        row = {"scenario": path, "conductivity_model": model or "as in the scenario",
               "dofs": one.dofs, "points": points, "jobs": jobs, "one_run_s": round(t_one, 3),
               "one_run_without_report_s": round(t_run, 3), "one_run_without_report_cpu_s": round(c_run, 3),
               "sweep_s": round(t_sweep, 3), "ratio": round(t_sweep / t_one, 2),
               "one_run_cpu_s": round(c_one, 3), "sweep_cpu_s": round(c_sweep, 3),
               "cpu_ratio": round(c_sweep / c_one, 2),
               "field_solves": sum(s for s in sweep.solves if s is not None),
               "newton_iterations": [r["solver.nonlinear_iterations"] for r in sweep.rows()],
               "load_average_1min": os.getloadavg()[0]}
        if check:
            row.update(_check(sweep, run, build_report, report_row))
        out.append(row)
        print(json.dumps(out[-1]))
    return out


def _timed(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the finished child and its children) of one command."""
    import resource
    import subprocess
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure_cli(path: str, points: int, repeat: int, jobs: int) -> dict:
    """End to end through the CLI (module docstring): one run against a ``points``-voltage sweep."""
    import shutil
    import sys
    import tempfile

    from simulator import load_scenario
    v0 = load_scenario(path).protocol.max_voltage
    volts = ",".join(str(round(v0 * (0.6 + 0.8 * k / max(points - 1, 1)), 3)) for k in range(points))
    script = os.path.join(os.path.dirname(sys.executable), "epsim")     # the installed console script
    epsim = [script] if os.path.exists(script) else [sys.executable, "-c",
                                                      "import sys; from simulator.cli import entry; sys.exit(entry())"]
    runs, sweeps = [], []
    with tempfile.TemporaryDirectory(prefix="epsim-sweep-cli-") as tmp:
        def out(name):
            d = os.path.join(tmp, name)
            shutil.rmtree(d, ignore_errors=True)
            return d
        _timed(epsim + ["run", path, "--out", out("warm")])             # fills the mesh cache
        for _ in range(repeat):
            runs.append(_timed(epsim + ["run", path, "--out", out("run")]))
            sweeps.append(_timed(epsim + ["sweep", path, "--vary", f"protocol.voltage_V={volts}",
                                          "--jobs", str(jobs), "--out", out("sweep")]))
    ratios = [s[0] / r[0] for r, s in zip(runs, sweeps)]
    row = {"scenario": path, "mode": "cli", "points": points, "jobs": jobs, "repeat": repeat,
           "one_run_s": [round(r[0], 2) for r in runs], "one_run_cpu_s": [round(r[1], 2) for r in runs],
           "sweep_s": [round(s[0], 2) for s in sweeps], "sweep_cpu_s": [round(s[1], 2) for s in sweeps],
           "ratio": [round(x, 2) for x in ratios], "ratio_max": round(max(ratios), 2),
           "cpu_ratio": [round(s[1] / r[1], 2) for r, s in zip(runs, sweeps)],
           "load_average_1min": os.getloadavg()[0]}
    print(json.dumps(row))
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="examples/hexagonal.toml")
    p.add_argument("--points", type=int, default=10)
    p.add_argument("--size-mm", type=float, default=None)
    p.add_argument("--models", default="constant,scenario", help="comma list; 'scenario' = the file's own")
    p.add_argument("--check", action="store_true", help="compare every row with a single run (1e-9)")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--json", default=None)
    p.add_argument("--cli", action="store_true", help="end to end: `epsim run` against `epsim sweep`")
    p.add_argument("--repeat", type=int, default=3, help="--cli: alternated repetitions")
    a = p.parse_args(argv)
    if a.cli:
        row = measure_cli(a.scenario, a.points, a.repeat, a.jobs)
        if a.json:
            with open(a.json, "w") as fh:
                json.dump([row], fh, indent=2)
        return 0
    models = [None if m == "scenario" else m for m in a.models.split(",")]
    rows = measure(a.scenario, a.points, a.size_mm, models, a.check, a.jobs)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
