"""``plan(data) -> Plan``: which electrode, voltage and placement cover a lesion (``epsim plan``).

Steps (each candidate is meshed once; every voltage of it reuses that mesh and starts
Newton from the last voltages' fields, studies.warm):

1. the scenario's own electrode and placement: a run at its own voltage (the diagnosis says
   why it fails, if it does) and the minimum covering voltage (studies.minimum_voltage);
2. every selected catalogue electrode centred over the lesion (studies.candidates) at its
   ESOPE amplitude and at its minimum covering amplitude (up to the generator's maximum);
3. when none covers and ``max_applications`` > 1: a tiling (several applications,
   studies.tiling) of the catalogue electrodes with the best single coverage, searched at
   the generator's maximum (``tiling-max``: coverage grows with the voltage [A], so the
   fewest applications that cover at any allowed voltage cover there, and no grid that
   fails there is tried again lower), fewest applications first, grids below the count
   bound of the single application's run skipped, each session's Newton solves seeded
   from the single application's fields moved with it; then the tiling's minimum covering
   amplitude (``tiling-min``, one voltage for every application, on the tiling's mesh);
4. all entries ranked by the hierarchy (studies.ranking); the best one is the plan.

Candidates with the same electrode geometry and protocol (e.g. hexagonal-20 and -30 when
both are inserted to the same depth) are evaluated once and share the numbers.
``applications_lower_bound`` bounds from below how many applications any union needs.
``stages`` records every run (stage, applications, voltage, cells, DOFs, solves and how
they started, Newton and CG iterations, wall and CPU s; studies.records) and
``timings_s`` sums them per stage.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

from simulator.errors import ScenarioError
from simulator.units import MM
from simulator.studies.candidates import catalogue_candidate, own_candidate, select, with_voltage
from simulator.studies.minimum_voltage import REL_TOL, minimum_voltage
from simulator.studies.ranking import DEFAULT_HIERARCHY, rank
from simulator.studies.records import cpu_time, delta, run_record, start_counts
from simulator.studies.tiling import SingleSource, count_lower_bound, tile
from simulator.studies.warm import WarmEngine
from simulator.studies.treatment_time import DRUG_WINDOW_S, REPOSITION_S, drug_window_warning, treatment_time

MM3 = MM**3
TILING_ELECTRODES = 2        # catalogue electrodes tried for a tiling (best single coverage first)


@dataclass(frozen=True)
class PlanOptions:
    electrodes: str = "all"                         # "all" or catalogue names, comma-separated
    max_applications: int = 1
    hierarchy: tuple[str, ...] = DEFAULT_HIERARCHY
    reposition_s: float = REPOSITION_S
    rel_tol: float = REL_TOL


@dataclass
class Plan:
    """``report``: the plan.json dict; ``best_data``: the scenario dict of the best entry
    (planned.toml); ``best_result``: its run; ``results``: entry id -> run."""

    report: dict
    best_data: dict | None
    best_result: object | None
    results: dict = field(default_factory=dict)


def _entry(cand, data: dict, result, amplitude: str, reposition_s: float) -> dict:
    from simulator.output.report import build_report
    sc = result.scenario
    rep = build_report(result)
    tables = data["applications"] if "applications" in data else [data.get("electrode", {})]
    protocols = [a.protocol for a in sc.applications] or [sc.protocol]
    voltage = sc.protocol.max_voltage
    limits_ok = (voltage <= sc.generator.max_voltage + 1e-9 and rep["max_current_A"] <= sc.generator.max_current)
    seconds = treatment_time(protocols, reposition_s)
    return {
        "electrode": cand.name, "amplitude": amplitude,
        "applications": [{"centre_mm": list(t.get("centre_mm", [0.0, 0.0])), "rotation_deg": t.get("rotation_deg", 0.0),
                          "insertion_depth_mm": cand.insertion_depth_mm, "voltage_V": round(p.max_voltage, 4)}
                         for t, p in zip(tables, protocols)],
        "coverage": rep["coverage"], "feasible": bool(rep["coverage"]["covered"]) and limits_ok,
        "within_generator_limits": limits_ok,
        "healthy_irreversible_mm3": rep["volumes_mm3"]["healthy_irreversible"],
        "reversible_mm3": rep["volumes_mm3"]["reversible"],
        "max_current_A": rep["max_current_A"], "total_pulses": rep["total_pulses"],
        "treatment_time_s": round(seconds, 3), "fits_drug_window": drug_window_warning(seconds) is None,
        "needle_length_mm": cand.needle_length_mm,
        "diagnosis": rep["diagnosis"],
    }


def applications_lower_bound(margin_volume: float, entries: list[dict], covered: bool, field_bound: int = 1) -> int:
    """A lower bound on the applications whose union covers: 1 when one covers; otherwise
    ceil(tumour + margin volume / the largest reversible volume of any single application at
    the generator's maximum) - an application cannot cover more tissue than it electroporates
    (placed anywhere, as long as the tissue around it is alike [A]); 1 without such a run;
    and at least ``field_bound`` (the smallest studies.tiling.count_lower_bound of those
    runs over the electrodes: a union of any of them, mixed too, needs that many)."""
    if covered:
        return 1
    largest = max((e["reversible_mm3"] for e in entries
                   if e["amplitude"] == "maximum" and len(e["applications"]) == 1), default=0.0)
    return max(1, field_bound, math.ceil(margin_volume / largest) if largest > 0 else 1)


def _single_bound(data_result) -> int:
    """studies.tiling.count_lower_bound of a single application's run at the generator's
    maximum ((data, result) of ``results``), 1 without one."""
    return 1 if data_result is None else count_lower_bound(data_result[1])


def plan(data: dict, options: PlanOptions = PlanOptions(), progress: Callable[[str], None] | None = None,
         bar: Callable[[int, int, str], None] | None = None) -> Plan:
    """Plan a lesion from a scenario dict (the parsed TOML); see the module docstring."""
    from simulator.scenario import scenario_from_dict
    from simulator.solve.pipeline import build_mesh_for
    say = progress or (lambda _m: None)
    tick = bar or (lambda _i, _n, _name: None)
    t0, c0 = time.perf_counter(), cpu_time()
    scenario = scenario_from_dict(data)
    if not scenario.tumours:
        raise ScenarioError("tumours", "epsim plan needs at least one tumour to cover")
    if options.max_applications < 1:
        raise ScenarioError("--max-applications", f"must be >= 1, got {options.max_applications}")
    names = select(options.electrodes)
    cands = [own_candidate(data, scenario)] + [catalogue_candidate(n, data, scenario) for n in names]
    entries, skipped, results, seen = [], [], {}, {}
    singles: dict[str, SingleSource] = {}           # candidate -> its runs (seeds for a tiling)
    stages: list[dict] = []                         # one record per run (studies.records)

    def recorded(stage: str, engine: WarmEngine):
        """``run_fn`` of minimum_voltage on ``engine`` that records each run in ``stages``."""
        def run_fn(sc, mesh):
            before = start_counts(engine.engine)
            w, c = time.perf_counter(), cpu_time()
            r = engine.run(sc, mesh)
            stages.append(run_record(r, stage, time.perf_counter() - w, cpu_time() - c,
                                     delta(start_counts(engine.engine), before)))
            return r
        return run_fn
    min_v = None
    own_diagnosis = None
    for i, cand in enumerate(cands):
        tick(i, len(cands), cand.name)
        try:
            sc = scenario_from_dict(cand.data)
        except ScenarioError as exc:                 # e.g. a plate that does not fit the block
            skipped.append({"electrode": cand.name, "reason": str(exc)})
            continue
        key = (sc.electrode, sc.protocol)
        if key in seen and cand.name != "scenario":
            for e in seen[key]:                     # the scenario's own run at ESOPE is this one's ESOPE run
                amplitude = "esope" if e["amplitude"] == "scenario" else e["amplitude"]
                entries.append({**e, "electrode": cand.name, "amplitude": amplitude,
                                "needle_length_mm": cand.needle_length_mm, "same_as": e["electrode"]})
            continue
        say(f"{cand.name}: meshing")
        w, c = time.perf_counter(), cpu_time()
        mesh, _ = build_mesh_for(sc)
        stages.append({"stage": "mesh", "electrode": cand.name, "cells": int(mesh.num_cells),
                       "wall_s": round(time.perf_counter() - w, 3), "cpu_s": round(cpu_time() - c, 3)})
        warm = WarmEngine()                         # every voltage of this candidate continues the last
        run_fn = recorded(f"{cand.name}: single", warm)
        first = run_fn(sc, mesh)
        mv = minimum_voltage(sc, mesh=mesh, first=first, rel_tol=options.rel_tol, run_fn=run_fn, progress=say)
        singles[cand.name] = SingleSource(sc, mesh, warm.engine)
        own = cand.name == "scenario"
        mine = [_entry(cand, cand.data, first, "scenario" if own else "esope", options.reposition_s)]
        results[(cand.name, mine[0]["amplitude"])] = (cand.data, first)
        if mv.voltage is not None:
            d = with_voltage(cand.data, mv.voltage)
            mine.append(_entry(cand, d, mv.result, "minimum", options.reposition_s))
            results[(cand.name, "minimum")] = (d, mv.result)
        else:
            mine.append(_entry(cand, with_voltage(cand.data, mv.limit), mv.result, "maximum",
                               options.reposition_s))
            results[(cand.name, "maximum")] = (with_voltage(cand.data, mv.limit), mv.result)
        if own:
            own_diagnosis = mine[0]["diagnosis"]
            min_v = {"voltage_V": mv.voltage, "rel_tol": mv.rel_tol, "limit_V": mv.limit,
                     "tried_V": [[round(v, 4), c] for v, c in mv.tried],
                     "current_A": mine[1]["max_current_A"] if mv.voltage is not None else None,
                     "healthy_irreversible_mm3": mine[1]["healthy_irreversible_mm3"]
                     if mv.voltage is not None else None}
        seen[key] = mine
        entries += mine
    tick(len(cands), len(cands), "done")
    tiling_tried = []
    if options.max_applications > 1 and not any(e["feasible"] for e in entries):
        by_name = {c.name: c for c in cands}
        # catalogue electrodes (also one evaluated as the scenario's own: same_as), each geometry once
        order, sources = [], set()
        for e in sorted((e for e in entries if e["amplitude"] == "esope"),
                        key=lambda e: -(e["coverage"]["margin_reversible_fraction"] or 0.0)):
            if e.get("same_as", e["electrode"]) not in sources:
                sources.add(e.get("same_as", e["electrode"]))
                order.append(e)
        for e in order[:TILING_ELECTRODES]:
            cand = by_name[e["electrode"]]
            src = e.get("same_as", e["electrode"])
            top = scenario_from_dict(cand.data).generator.max_voltage
            # fewest applications first, at the generator's maximum (coverage grows with V [A]):
            # no grid that fails there covers at a lower voltage, ESOPE's included
            bound = _single_bound(results.get((src, "maximum")))
            say(f"tiling with {cand.name} at {top:g} V (at least {bound} applications)")
            tiling_tried.append(cand.name)
            t = tile(with_voltage(cand.data, top), options.max_applications, progress=say,
                     lower_bound=bound, source=singles.get(src))
            stages += [{**r, "stage": f"{cand.name}: tiling-max"} for r in (t.sessions if t else [])]
            if t is None:
                continue
            label = "tiling-max"
            entry = _entry(cand, t.data, t.result, label, options.reposition_s)
            entries.append(entry)
            results[(cand.name, label)] = (t.data, t.result)
            # the same tiling at its minimum covering amplitude (one voltage for every
            # application, on the tiling's mesh, each voltage continuing the last)
            tsc = scenario_from_dict(t.data)
            mv = minimum_voltage(tsc, mesh=t.result.mesh, first=t.result, rel_tol=options.rel_tol,
                                 limit=tsc.protocol.max_voltage, run_fn=recorded(f"{cand.name}: tiling-min", t.engine),
                                 progress=say)
            if mv.voltage is not None and mv.voltage < tsc.protocol.max_voltage:
                d = with_voltage(t.data, mv.voltage)
                entries.append(_entry(cand, d, mv.result, "tiling-min", options.reposition_s))
                results[(cand.name, "tiling-min")] = (d, mv.result)
            break
    ranked = rank(entries, options.hierarchy)
    best = ranked[0] if ranked else None
    feasible = bool(best and best["feasible"])
    margin_volume = _margin_volume(results)
    warnings = []
    if scenario.mesh.accuracy > 0:
        warnings.append(f"[mesh] accuracy = {scenario.mesh.accuracy:g} is not applied in a plan: every candidate is "
                        "solved on one fixed mesh at the scenario's sizes, with no error estimate (`epsim run` of "
                        "planned.toml refines to the target)")
    if best is not None:
        w = drug_window_warning(best["treatment_time_s"])
        if w:
            warnings.append(w)
    if not feasible:
        warnings.append(f"no plan of at most {options.max_applications} application(s) found that covers the "
                        "lesion within the generator's limits"
                        + ("" if options.max_applications > 1 else "; try --max-applications N"))
    report = {
        "feasible": feasible,
        "minimum_voltage_V": min_v["voltage_V"] if min_v else None,
        "minimum_voltage": min_v,
        "diagnosis": own_diagnosis,
        "best": best,
        "candidates": ranked,
        "skipped": skipped,
        "hierarchy": list(options.hierarchy),
        "applications_lower_bound": applications_lower_bound(
            margin_volume, entries, any(len(e["applications"]) == 1 and e["feasible"] for e in entries),
            min((_single_bound(v) for k, v in results.items() if k[1] == "maximum"), default=1)),
        "tiling_tried": tiling_tried,
        "max_applications": options.max_applications,
        "treatment": {"reposition_s": options.reposition_s, "drug_window_min": [DRUG_WINDOW_S[0] / 60,
                                                                                DRUG_WINDOW_S[1] / 60],
                      "source": "IV bleomycin 8-28 min after injection, ESOPE SOP 2006 / Gehl 2018 [R]; "
                                "repositioning time [A]"},
        "warnings": warnings,
        "timings_s": _stage_times(stages, time.perf_counter() - t0, cpu_time() - c0),
        "stages": stages,
    }
    best_data = best_result = None
    if best is not None:
        src = best.get("same_as", best["electrode"])
        amplitude = "scenario" if src == "scenario" and best["amplitude"] == "esope" else best["amplitude"]
        best_data, best_result = results[(src, amplitude)]
        if "same_as" in best:
            best_data = catalogue_candidate(best["electrode"], data, scenario).data
            if best["amplitude"] in ("minimum", "maximum"):
                best_data = with_voltage(best_data, best["applications"][0]["voltage_V"])
    return Plan(report, best_data, best_result, results)


def _stage_times(stages: list[dict], wall: float, cpu: float) -> dict:
    """Wall and CPU seconds per stage kind (mesh, single, tiling-max, tiling-min) and in all."""
    out: dict = {"total": round(wall, 3), "total_cpu": round(cpu, 3)}
    for r in stages:
        kind = r["stage"].split(": ")[-1]
        row = out.setdefault(kind, {"runs": 0, "solves": 0, "newton_iterations": 0, "wall_s": 0.0, "cpu_s": 0.0})
        row["runs"] += kind != "mesh"
        row["solves"] += r.get("solves", 0)
        row["newton_iterations"] += r.get("newton_iterations", 0)
        row["wall_s"] = round(row["wall_s"] + r["wall_s"], 3)
        row["cpu_s"] = round(row["cpu_s"] + r["cpu_s"], 3)
    return out


def _margin_volume(results: dict) -> float:
    """Tumour + margin volume (mm^3) as meshed, from any run (the same tumours in every run)."""
    for _, r in results.values():
        return sum(t.margin_volume for t in r.tumours) / MM3
    return 0.0
