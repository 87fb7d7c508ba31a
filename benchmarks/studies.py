"""Study benchmarks (issue 13): the planning and robustness speed targets, timed end to end
in one process (``python -m benchmarks.runner CASE OUT.json`` as for the solver cases).

* ``minimum-voltage-needle-pair`` (target 60 s, also in ``--quick``): the minimum covering
  voltage of examples/needle_pair.toml on its fixed 1 mm mesh (studies.minimum_voltage;
  meshing included: the runner's cache is empty).
* ``robustness-hexagonal-20`` (target 180 s, full run only): 20 samples of
  examples/hexagonal.toml, placement sd 1 mm, sigma and threshold sd 10 %, seed 1, on both
  cores (``--jobs 2``: each placement draw is meshed and solved in a worker).
* ``plan-24mm-hexagonal`` (target 600 s, full run only): ``epsim plan`` of a 24 mm long,
  10 mm wide, 6 mm thick lesion (ellipsoid semi-axes 12 x 5 x 3 mm, centre 5 mm deep, 1 mm
  margin) with ``--electrodes hexagonal-20 --max-applications 6`` and a 1000 V generator:
  no single hexagon (needles on a 7.3 mm circle) covers it within 1000 V, a tiling does
  (two hexagons at 785.1 V: README, worked example 4; ``plan.json`` ``stages`` says where
  the time went).

* ``accuracy-hexagonal`` (target 30 s, issue 11, full run only): examples/hexagonal.toml as
  shipped (curved P2) at the default accuracy target, meshing included (the runner's cache is
  empty): the levels, the figures with their error estimates, whether every target was met.

``EPSIM_BENCH_OUT=DIR`` also writes the plan's files (plan.json, planned.toml, plan.png)
there (inside the timing: a few seconds). Each record has ``wall_s``, ``cpu_s`` (this process and its children), ``target_s``,
``within_target``, the load average before and after, and the study's answer. Wall times on
the shared machine depend on its load: compare ``cpu_s``.
"""
from __future__ import annotations

import copy
import os
import resource
import time
from pathlib import Path

from benchmarks.cases import example

ROOT = Path(__file__).resolve().parents[1]


def _example(name: str) -> dict:
    data = example(name)                                # hexagonal: its earlier P1 mesh (cases.py)
    data.setdefault("mesh", {})["accuracy"] = 0         # one fixed mesh (the README's figures)
    return data


def lesion_24mm() -> dict:
    """The 24 mm lesion of the plan benchmark, under a hexagonal-20 at its centre."""
    return {
        "name": "bench-lesion-24mm",
        "tissue": {"size_mm": [60, 60, 30]},
        "tumours": [{"shape": "ellipsoid", "semi_axes_mm": [12.0, 5.0, 3.0], "depth_mm": 5.0, "margin_mm": 1.0}],
        "electrode": {"catalogue": "hexagonal-20", "insertion_depth_mm": 11.0},
        "protocol": {"preset": "esope"},
        # the skin Cliniporator's limit, about 1000 V (domain.md 1.4, [R] not confirmed): a single
        # hexagon would need ~1360 V for this lesion (a round 24 mm one: 1362 V before the coverage
        # measure of post.above, 1534.5 V on it, 2026-12-02)
        "generator": {"max_voltage_V": 1000.0},
        "mesh": {"size_mm": 1.5, "far_size_mm": 5.0, "accuracy": 0},
    }


STUDIES = {
    "minimum-voltage-needle-pair": {"target_s": 60.0, "quick": True},
    "robustness-hexagonal-20": {"target_s": 180.0, "quick": False},
    "plan-24mm-hexagonal": {"target_s": 600.0, "quick": False},
    "accuracy-hexagonal": {"target_s": 30.0, "quick": False},
}


def _cpu() -> float:
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def _minimum_voltage() -> dict:
    from simulator.scenario import scenario_from_dict
    from simulator.studies.minimum_voltage import minimum_voltage
    mv = minimum_voltage(scenario_from_dict(_example("needle_pair")))
    return {"minimum_voltage_V": mv.voltage, "runs": len(mv.tried), "tried_V": [[v, c] for v, c in mv.tried],
            "cells": int(mv.result.mesh.num_cells), "dofs": int(mv.result.dofs)}


def _robustness(jobs: int = 2) -> dict:
    from simulator.studies.robustness import Spreads, robustness
    rep, _ = robustness(_example("hexagonal"), 20, Spreads(1.0, 0.0, 0.1, 0.1), seed=1, jobs=jobs)
    per_sample = [[d["margin_reversible_fraction"], d["newton_iterations"], d["cg_iterations"]] for d in rep["draws"]]
    return {k: rep[k] for k in ("samples", "probability_covered", "margin_coverage_p05", "margin_coverage_mean",
                                "mesh_reused", "nominal")} | {"jobs": jobs, "margin_newton_cg_per_sample": per_sample}


def _plan() -> dict:
    from simulator.studies.plan import PlanOptions, plan
    p = plan(copy.deepcopy(lesion_24mm()), PlanOptions(electrodes="hexagonal-20", max_applications=6))
    if os.environ.get("EPSIM_BENCH_OUT"):               # the plan's files too (README figure)
        from simulator.studies.plan_output import write_plan
        write_plan(p, Path(os.environ["EPSIM_BENCH_OUT"]), force=True, figures=True)
    best = p.report["best"]
    return {"feasible": p.report["feasible"], "best": None if best is None else {
        k: best[k] for k in ("electrode", "amplitude", "applications", "healthy_irreversible_mm3", "max_current_A",
                             "total_pulses", "treatment_time_s")} | {"coverage": best["coverage"]},
        "candidates": len(p.report["candidates"]), "tiling_tried": p.report["tiling_tried"],
        "applications_lower_bound": p.report["applications_lower_bound"]}


def _accuracy_hexagonal() -> dict:
    from simulator.scenario import scenario_from_dict
    from simulator.solve.pipeline import run
    acc = run(scenario_from_dict(example("hexagonal", p1=False), base_dir=ROOT / "examples")).accuracy
    return {"met": acc.met, "stopped_by": acc.stopped_by, "method": acc.mode,
            "levels": [{"dofs": lv.dofs, "cells": lv.cells, "time_s": round(lv.time, 2), "newton": lv.newton_iterations,
                        "cg": lv.cg_iterations} for lv in acc.levels],
            "figures": {k: {"value": f.value, "error": f.error, "tolerance": f.tolerance, "met": f.met}
                        for k, f in acc.figures.items()}}


RUN = {"minimum-voltage-needle-pair": _minimum_voltage, "robustness-hexagonal-20": _robustness,
       "plan-24mm-hexagonal": _plan, "accuracy-hexagonal": _accuracy_hexagonal}


def run_study(name: str) -> dict:
    """Time one study case (see the module docstring) with an empty mesh cache of its own
    (meshing included, as for the solver cases); its record."""
    from benchmarks.runner import empty_mesh_cache
    load0 = os.getloadavg()[0]
    with empty_mesh_cache():
        cpu0, t0 = _cpu(), time.perf_counter()
        answer = RUN[name]()
        wall = time.perf_counter() - t0
    target = STUDIES[name]["target_s"]
    return {"name": name, "kind": "study", "wall_s": round(wall, 2), "cpu_s": round(_cpu() - cpu0, 2),
            "target_s": target, "within_target": wall <= target,
            "load_average_1min": [round(load0, 2), round(os.getloadavg()[0], 2)], "answer": answer}
