"""What each run of a study cost: one record per run (``plan.json`` ``stages``), so that a
plan says where its time went (runs, solves and how they started, DOFs, Newton iterations,
wall and CPU seconds)."""
from __future__ import annotations

import resource


def cpu_time() -> float:
    """CPU seconds (user + system) of this process and its finished children (gmsh meshers)."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def start_counts(engine) -> dict[str, int]:
    """Solves of a studies.warm.WarmStarts so far by how they started ({} for another engine)."""
    return {k: getattr(engine, k) for k in ("cold", "continued", "seeded")} if hasattr(engine, "seeded") else {}


def run_record(result, stage: str, wall_s: float, cpu_s: float, starts: dict[str, int] | None = None) -> dict:
    """One run: its stage, applications, voltage (V), covered, mesh size, solves (``starts``:
    how many Newton solves started cold, continued from another voltage or seeded from
    another mesh), Newton and CG iterations, the run's phases (mesh, engine setup, solve,
    post; wall s) and its wall and CPU seconds."""
    sc, tr = result.scenario, result.train
    return {"stage": stage, "applications": max(1, len(sc.applications)),
            "voltage_V": round(sc.protocol.max_voltage, 4), "covered": bool(result.covered),
            "cells": int(result.mesh.num_cells), "dofs": int(result.dofs),
            "solves": int(tr.distinct_configurations), "starts": dict(starts or {}),
            "newton_iterations": int(tr.nonlinear_iterations), "cg_iterations": int(tr.linear_iterations),
            "phases_s": {k: round(result.timings.get(k, 0.0), 3) for k in ("mesh", "setup", "solve", "post")},
            "wall_s": round(wall_s, 3), "cpu_s": round(cpu_s, 3)}


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items()}
