"""The shipped examples with Pennes bioheat (issue 12's closing figures): per-pulse currents and
the temperature figures of ``examples/needle_pair.toml`` and ``examples/hexagonal.toml``.

    EPSIM_THREADS=1 python -m benchmarks.pennes_examples out/pennes_examples [CASE ...]

Cases (default: all): ``needle_pair`` (as shipped, alpha = 0), ``needle_pair_alpha`` (alpha =
0.015/K in every tissue, OpenEP's sigma(T) coefficient, domain.md 2.3 [C-code]),
``needle_pair_alpha_convective`` (the same with a convective skin, default h and T_amb),
``needle_pair_alpha_dolfinx`` (the DOLFINx engine), and the same names for ``hexagonal``.
Writes (and adds to) ``pennes_examples.json``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from simulator import build_report, run, scenario_from_dict
from benchmarks.cases import example

ROOT = Path(__file__).resolve().parents[1]
ALPHA = 0.015
TISSUES = ("skin", "fat", "muscle", "tumour")
CASES = ("needle_pair", "needle_pair_alpha", "needle_pair_alpha_convective", "needle_pair_alpha_dolfinx",
         "hexagonal", "hexagonal_alpha", "hexagonal_alpha_dolfinx")


def scenario(case: str):
    d = example(case.split('_alpha')[0])      # hexagonal: its earlier P1 mesh (benchmarks.cases)
    d["thermal"] = {"model": "pennes"}
    if "_alpha" in case:
        d.setdefault("materials", {})
        for m in TISSUES:
            d["materials"].setdefault(m, {})["temperature_coefficient_per_K"] = ALPHA
    if case.endswith("_convective"):
        d["thermal"]["skin"] = "convective"
    return scenario_from_dict(d)


def summary(res, seconds: float) -> dict:
    rep = build_report(res)
    t = rep["thermal"]
    return {"engine": res.engine, "cells": res.mesh.num_cells, "seconds": round(seconds, 1),
            "solve_s": round(res.timings["solve"], 1), "field_solves": res.thermal.field_solves,
            "heat_steps": res.thermal.heat_steps, "time_step_pulse_us": t["time_step_pulse_us"],
            "time_step_between_pulses_ms": t["time_step_between_pulses_ms"], "skin": t["skin"],
            "max_C": t["max_temperature_C"], "T99_C": t["T99_C"], "above_43C_mm3": t["volume_above_43C_mm3"],
            "above_50C_mm3": t["volume_above_50C_mm3"], "cem43_max_min": t["cem43_max_min"],
            "cem43_240min_mm3": t["volume_cem43_240min_mm3"], "final_max_C": t["final_max_temperature_C"],
            "currents_A": [p["currents_A"] for p in rep["pulses"]]}


def main(out: Path, cases=CASES) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "pennes_examples.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for case in cases:
        t0 = time.perf_counter()
        res = run(scenario(case), engine="dolfinx" if case.endswith("_dolfinx") else None)
        results[case] = summary(res, time.perf_counter() - t0)
        path.write_text(json.dumps(results, indent=1))
        print(case, json.dumps({k: v for k, v in results[case].items() if k != "currents_A"}), flush=True)
    return results


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/pennes_examples"), tuple(sys.argv[2:]) or CASES)
