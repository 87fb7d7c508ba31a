"""A parameter sweep: the grid of variations of a scenario, run with as little work as the
physics allows, collected into one row per point.

* every point is validated before any work starts;
* points that resolve to the same scenario run once (their rows are copies);
* one mesh per distinct geometry (:func:`simulator.meshing.cache.mesh_key`), built once and
  shared by every run on it (and by every worker);
* field problems shared by several runs (same mesh, materials, solver and configuration)
  are solved once; with linear physics (constant sigma, no thermal feedback) a voltage
  sweep solves each configuration once and scales it exactly (:mod:`.scaling`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from simulator.studies.executor import (PointResult, connect_dask, plan_tasks, run_dask, run_processes,
                                       run_serial)
from simulator.studies.table import report_row
from simulator.studies.variation import Variation, fingerprint, grid, scenarios_of


@dataclass
class Sweep:
    """The state and outcome of a sweep (rows in grid order; None until a point is done)."""

    base_name: str
    variations: list[Variation]
    points: list[dict[str, Any]]
    scenarios: list
    same_as: list[int]                      # index of the point whose run a point copies
    reports: list[dict | None] = field(default_factory=list)
    curves: list[dict | None] = field(default_factory=list)
    solves: list[int | None] = field(default_factory=list)
    mesh_builds: int = 0
    meshes: dict = field(default_factory=dict)       # mesh key -> Mesh (reuse them: run(sc, mesh=...))
    tasks: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False               # set on Ctrl-C / SIGTERM: the files written are partial

    @property
    def distinct(self) -> int:
        return sum(1 for i, j in enumerate(self.same_as) if i == j)

    @property
    def complete(self) -> bool:
        return not self.interrupted and all(r is not None for r in self.reports)

    @property
    def warnings(self) -> list[str]:
        """What the sweep did not do that a single run would: a sweep meshes each geometry
        once at the scenario's sizes, so a [mesh] accuracy target is not refined to."""
        targets = sorted({sc.mesh.accuracy for sc in self.scenarios if sc.mesh.accuracy > 0})
        if not targets:
            return []
        return [f"[mesh] accuracy = {', '.join(f'{t:g}' for t in targets)} is not applied in a sweep: each "
                f"geometry is meshed once at its sizes and the rows carry no error estimate (a single "
                f"`epsim run` refines to the target)"]

    def rows(self) -> list[dict]:
        """Rows of the points done so far, in grid order."""
        out = []
        for i, (point, rep) in enumerate(zip(self.points, self.reports)):
            if rep is None:
                continue
            row = report_row(rep, point)
            j = self.same_as[i]
            row["run"] = "solved" if j == i else f"same scenario as row {j}"
            row["field_solves"] = self.solves[i] if j == i else 0
            out.append(row)
        return out


def plan_sweep(base, variations: list[Variation]) -> Sweep:
    """The grid and its scenarios (all validated), with duplicates found."""
    points = grid(variations)
    scenarios = scenarios_of(base, points)
    first: dict[str, int] = {}
    same_as = [first.setdefault(fingerprint(sc), i) for i, sc in enumerate(scenarios)]
    n = len(points)
    return Sweep(base.name, variations, points, scenarios, same_as, [None] * n, [None] * n, [None] * n)


def run_sweep(sweep: Sweep, *, engine: str | None = None, jobs: int = 1, scheduler: str | None = None,
              progress: Callable[[str], None] | None = None,
              on_point: Callable[[PointResult], None] | None = None) -> Sweep:
    """Mesh each geometry once, run the distinct points and fill ``sweep`` in place (so an
    interrupted sweep keeps the rows done so far). ``jobs`` > 1: worker processes here
    (independent tasks, one per process; a sweep that is one task, such as a nonlinear
    voltage sweep, its configurations' continuation chains: studies.farm);
    ``scheduler``: the address of a Dask distributed scheduler."""
    from simulator.meshing.cache import mesh_key
    from simulator.solve.pipeline import build_mesh_for

    say = progress or (lambda _m: None)
    client = connect_dask(scheduler) if scheduler else None        # fail before any work
    t0 = time.perf_counter()
    todo = [i for i, j in enumerate(sweep.same_as) if i == j]
    keys = {i: mesh_key(sweep.scenarios[i]) for i in todo}
    meshes = sweep.meshes
    for i in todo:
        if keys[i] not in meshes:
            say(f"meshing geometry {len(meshes) + 1}")
            meshes[keys[i]], _ = build_mesh_for(sweep.scenarios[i])
            sweep.mesh_builds += 1
    sweep.timings["mesh"] = time.perf_counter() - t0
    tasks = plan_tasks([sweep.scenarios[i] for i in todo], [keys[i] for i in todo], engine)
    for t in tasks:                                  # task indices -> sweep point indices
        t.indices = [todo[k] for k in t.indices]
    sweep.tasks = len(tasks)
    n_todo = len(todo)
    say(f"solving {n_todo} distinct run{'s' * (n_todo != 1)}")

    def done(p: PointResult) -> None:
        for k, j in enumerate(sweep.same_as):
            if j == p.index:
                sweep.reports[k], sweep.curves[k], sweep.solves[k] = p.report, p.curves, p.solves
        say(f"{sum(r is not None for r in sweep.reports)} of {len(sweep.points)} points done")
        if on_point is not None:
            on_point(p)

    t1 = time.perf_counter()
    if scheduler:
        run_dask(tasks, meshes, done, client)
    elif jobs > 1 and len(tasks) > 1:
        run_processes(tasks, meshes, done, jobs)
    else:
        run_serial(tasks, meshes, done, chain_workers=jobs)
    sweep.timings["runs"] = time.perf_counter() - t1
    sweep.timings["total"] = time.perf_counter() - t0
    return sweep
