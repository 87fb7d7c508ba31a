"""Run one benchmark case in this process and return its record (see SCHEMA.md).

``python -m benchmarks.runner CASE OUT.json [--size MM] [--cached] [--npz MESH.npz]`` is what
suite.py starts in a fresh subprocess per case, so that peak memory is per case.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from simulator.output.report import build_report
from simulator.units import MM

SCHEMA_VERSION = 1


def _rss_peak_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss      # KiB on Linux
    return kb / 1024.0


def _rss_now_mb() -> float:
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2**20
    except Exception:                                               # pragma: no cover
        return float("nan")


class _RssSampler:
    """Peak RSS of this process while a phase runs (sampled every 10 ms by a thread):
    ru_maxrss cannot tell the solve's peak from the (earlier, larger) meshing peak."""

    def __init__(self, interval: float = 0.01):
        import threading
        self.interval = interval
        self.peak = _rss_now_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, _rss_now_mb())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_now_mb())
        return False


@contextmanager
def empty_mesh_cache():
    """A temporary folder whose ``cache`` subfolder is ``EPSIM_CACHE_DIR`` while the block
    runs (a timed case meshes from scratch); yields the folder, restores the variable."""
    old = os.environ.get("EPSIM_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="epsim-bench-") as tmp:
        os.environ["EPSIM_CACHE_DIR"] = str(Path(tmp) / "cache")
        try:
            yield Path(tmp)
        finally:
            if old is None:
                os.environ.pop("EPSIM_CACHE_DIR", None)
            else:
                os.environ["EPSIM_CACHE_DIR"] = old


def run_case(name: str, scenario_dict: dict, kind: str, *, cached_mesh: bool = False,
             export_npz: str | None = None, output: bool = True, refinement: float | None = None) -> dict:
    """Run one scenario through :func:`simulator.solve.pipeline.run` (the users' path, sliver
    recovery included), build its report, write its outputs; the phases are run()'s timings.

    cached_mesh: mesh once (timed as ``extra.mesh_build_s``), then run from the mesh cache.
    export_npz: also save the mesh (points, tets, contacts) for the DOLFINx baseline.
    refinement: all mesh sizes x this (``mesh.refinement``, as the accuracy loop scales a level).
    """
    from dataclasses import replace

    from simulator.engines.registry import engine_class
    from simulator.engines.resources import check_memory
    from simulator.scenario import scenario_from_dict
    from simulator.solve.pipeline import run

    cpu0 = time.process_time()
    t_start = time.perf_counter()
    scenario = scenario_from_dict(scenario_dict)
    if refinement is not None:
        scenario = replace(scenario, mesh=replace(scenario.mesh, refinement=refinement))
    engine_class(scenario.solver.engine)                # imports are not a phase
    extra: dict[str, float] = {}
    memory: dict[str, float] = {}
    sampler = _RssSampler()

    def after_mesh(mesh, degree):
        """run()'s resource-guard hook (after the mesh, before the engine): the users' check,
        then the memory marks and the solve-phase RSS sampler."""
        check_memory(mesh, degree, mesh_size=scenario.mesh.size)
        memory["peak_after_mesh"] = _rss_peak_mb()
        if sampler._thread.ident is None:           # the accuracy loop meshes once per level
            memory["before_solve"] = _rss_now_mb()
            sampler.__enter__()

    with empty_mesh_cache() as tmp:
        try:
            if cached_mesh:
                from simulator.meshing.cache import cached_build_mesh
                t = time.perf_counter()
                cached_build_mesh(scenario)
                extra["mesh_build_s"] = time.perf_counter() - t
            result = run(scenario, memory_check=after_mesh)
            if cached_mesh and not result.mesh_from_cache:
                raise RuntimeError("the mesh cache did not return the cached mesh")
            mesh, train, tim = result.mesh, result.train, result.timings
            if export_npz:
                np.savez(export_npz, points=mesh.points, tets=mesh.tets,
                         **{f"contact_{k}": v for k, v in mesh.contact_facets.items()})
            t = time.perf_counter()
            report = build_report(result)
            t_report = time.perf_counter() - t
            t = time.perf_counter()
            if output:
                from simulator.output import write_outputs
                write_outputs(result, Path(tmp) / "out", force=True, figures=False)
            t_output = time.perf_counter() - t
        finally:
            if sampler._thread.is_alive():              # from engine setup to the end of output
                sampler.__exit__(None, None, None)
    phases = {"mesh": tim["mesh"], "setup": tim["setup"], "nonlinear_total": tim["solve"],
              **{key: float(tim.get(f"solve.{key}", 0.0))
                 for key in ("assemble", "preconditioner", "linear_solve", "line_search")},
              "post": tim["post"] + t_report, "output": t_output,
              "total": time.perf_counter() - t_start}
    rss_mesh, rss_before_solve = memory["peak_after_mesh"], memory["before_solve"]
    cpu = time.process_time() - cpu0
    dofs = int(result.dofs)
    peak = _rss_peak_mb()
    cov = report.get("coverage", {})
    vols = report.get("volumes_mm3", {})
    answer = {
        "current_A": [float(g.current) for g in train.groups],
        "max_current_A": float(max(abs(g.current) for g in train.groups)),
        "reversible_volume_mm3": float(vols.get("reversible")),
        "irreversible_volume_mm3": float(vols.get("irreversible")),
        "tumour_reversible_fraction": cov.get("tumour_reversible_fraction"),
        "margin_reversible_fraction": cov.get("margin_reversible_fraction"),
    }
    return {
        "name": name,
        "kind": kind,
        "engine": result.engine,
        "degree": int(scenario.solver.degree),
        "mesh_size_mm": float(scenario.mesh.size / MM),
        "mesh_cached": bool(cached_mesh),
        "dofs": dofs,
        "cells": int(mesh.num_cells),
        "configurations": int(train.distinct_configurations),
        "pulse_groups": len(train.groups),
        "times_s": {k: round(float(v), 4) for k, v in phases.items()},
        "cpu_s": round(cpu, 3),
        "time_per_dof_us": round(1e6 * (phases["setup"] + phases["nonlinear_total"]) / dofs, 3),
        "iterations": {"nonlinear": int(train.nonlinear_iterations), "linear": int(train.linear_iterations)},
        "converged": bool(train.converged),
        "memory_mb": {"peak": round(peak, 1), "peak_after_mesh": round(rss_mesh, 1),
                      "before_solve": round(rss_before_solve, 1),
                      "peak_per_million_dofs": round(peak / dofs * 1e6, 1),
                      "peak_solve": round(sampler.peak, 1),
                      "peak_solve_per_million_dofs": round(sampler.peak / dofs * 1e6, 1),
                      "solve_bytes_per_cell": round(max(sampler.peak - rss_before_solve, 0.0) * 2**20
                                                    / mesh.num_cells, 1)},
        "answer": answer,
        "extra": {k: round(v, 4) for k, v in extra.items()},
    }


def environment() -> dict:
    import numpy
    import scipy
    try:
        import pyamg
        pv = pyamg.__version__
    except Exception:                                               # pragma: no cover
        pv = None
    try:
        from simulator import __version__ as ev
    except Exception:                                               # pragma: no cover
        ev = None
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None,)
    return {"python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
            "pyamg": pv, "epsim": ev, "cpus": os.cpu_count(), "machine": platform.machine(),
            "system": platform.system(), "load_average_1min": load[0]}


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description="run one benchmark case (used by benchmarks.suite)")
    p.add_argument("case")
    p.add_argument("out")
    p.add_argument("--size", type=float, default=None, help="override mesh.size_mm")
    p.add_argument("--cached", action="store_true", help="time the run from the mesh cache")
    p.add_argument("--npz", default=None, help="export the mesh for the DOLFINx baseline")
    a = p.parse_args(argv)
    from .cases import all_cases
    spec = all_cases()[a.case]
    if spec["kind"] == "study":
        from .studies import run_study
        Path(a.out).write_text(json.dumps(run_study(a.case), indent=1))
        return 0
    if spec["kind"] == "mesh":
        from .meshing import run_mesh_case
        Path(a.out).write_text(json.dumps(run_mesh_case(a.case), indent=1))
        return 0
    sc = json.loads(json.dumps(spec["scenario"]))
    if a.size is not None:
        sc["mesh"]["size_mm"] = a.size
    name = a.case + (" (cached mesh)" if a.cached else "")
    rec = run_case(name, sc, spec["kind"], cached_mesh=a.cached, export_npz=a.npz)
    Path(a.out).write_text(json.dumps(rec, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
