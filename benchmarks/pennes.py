"""Pennes bioheat figures for the README (issue 12): 1 Hz against 5 kHz on a needle pair,
the cost of Pennes against the adiabatic run on the hexagonal example, and the effect of the
field re-solve criterion. ``python -m benchmarks.pennes [OUT_DIR]`` (EPSIM_THREADS=1)."""
from __future__ import annotations

import json
import sys
import time
import tomllib
from pathlib import Path

from simulator import build_report, run, scenario_from_dict
from benchmarks.cases import example
from simulator.output.thermal_figure import plot_pulse_temperatures

ROOT = Path(__file__).resolve().parents[1]

NEEDLE_IRE = """\
name = "needle-pair-1300V"
[tissue]
size_mm = [30, 30, 20]
layers = [ { material = "skin", thickness_mm = 1.5 }, { material = "fat", thickness_mm = 4.0 },
           { material = "muscle" } ]
[[tumours]]
diameter_mm = 6.0
depth_mm = 5.0
[electrode]
type = "needle-pair"
spacing_mm = 7.3
insertion_depth_mm = 12.0
[protocol]
pulses = PULSES
pulse_duration_us = 100
frequency_Hz = FREQ
voltage_V = 1300
[mesh]
size_mm = 1.0
[thermal]
model = "pennes"
resolve_tolerance = TOL
[materials.muscle]
temperature_coefficient_per_K = 0.015
[materials.tumour]
temperature_coefficient_per_K = 0.015
"""


def needle(freq: float, pulses: int = 8, tol: float = 1e-3, mesh=None):
    text = NEEDLE_IRE.replace("FREQ", str(freq)).replace("PULSES", str(pulses)).replace("TOL", str(tol))
    t0 = time.perf_counter()
    res = run(scenario_from_dict(tomllib.loads(text)), mesh=mesh)
    return res, time.perf_counter() - t0


def summary(res, seconds: float) -> dict:
    rep = build_report(res)
    cur = rep["pulses"][0]["currents_A"]
    return {"seconds": round(seconds, 2), "cells": res.mesh.num_cells, "field_solves": res.thermal.field_solves
            if res.thermal else None, "max_C": rep["thermal"]["max_temperature_C"], "T99_C": rep["thermal"]["T99_C"],
            "above_43C_mm3": rep["thermal"]["volume_above_43C_mm3"],
            "above_50C_mm3": rep["thermal"]["volume_above_50C_mm3"],
            "cem43_max_min": rep["thermal"]["cem43_max_min"], "first_current_A": cur[0], "last_current_A": cur[-1],
            "reversible_mm3": rep["volumes_mm3"]["reversible"], "irreversible_mm3": rep["volumes_mm3"]["irreversible"]}


def main(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    fast, t_fast = needle(5000.0)
    slow, t_slow = needle(1.0, mesh=fast.mesh)
    results["needle_5kHz"], results["needle_1Hz"] = summary(fast, t_fast), summary(slow, t_slow)
    plot_pulse_temperatures({"5 kHz": fast.thermal, "1 Hz": slow.thermal}, out / "pennes_1Hz_vs_5kHz.png",
                            "needle pair 7.3 mm, 1300 V, 8 x 100 us, Pennes + sigma(E, T)")
    for tol in (0.0, 1e-3, 1e-2):                        # the re-solve criterion on a 70-pulse train
        res, t = needle(5000.0, pulses=70, tol=tol, mesh=fast.mesh)
        results[f"needle_70_pulses_tol_{tol:g}"] = summary(res, t)
    hexa = example("hexagonal")                         # its earlier P1 mesh (benchmarks.cases)
    for model in ("adiabatic", "pennes"):
        hexa["thermal"] = {"model": model}
        t0 = time.perf_counter()
        res = run(scenario_from_dict(hexa))
        results[f"hexagonal_{model}"] = {**summary(res, time.perf_counter() - t0),
                                         "solve_s": round(res.timings["solve"], 2)}
    (out / "pennes.json").write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/pennes")), indent=1))
