"""Recompute tests/example_references.json: each example's pulse currents on a finer mesh.

    EPSIM_THREADS=1 python tests/make_example_references.py [FACTOR]

Each examples/*.toml is run as written except that every element size (``mesh.size_mm``,
``far_size_mm`` and the effective contact size, simulator.meshing.size_field.sizes) is
multiplied by FACTOR (default 0.7: ~3x the cells), with the embedded engine. The currents per pulse group
(A, the converged sigma(E) at the end of the pulse), the DOFs and the same numbers on the
example's own mesh are stored; tests/test_examples.py compares the example's run with them.
"""
from __future__ import annotations

import json
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.meshing.size_field import sizes      # noqa: E402
from simulator.scenario import scenario_from_dict    # noqa: E402
from simulator.solve.pipeline import run             # noqa: E402
from simulator.units import MM                       # noqa: E402

OUT = Path(__file__).resolve().parent / "example_references.json"


def refined(raw: dict, factor: float) -> dict:
    sc = scenario_from_dict(raw)
    sz = sizes(sc)
    mesh = dict(raw.get("mesh", {}))
    mesh["size_mm"] = sz.size / MM * factor
    mesh["far_size_mm"] = sz.far / MM * factor
    mesh["contact_size_mm"] = min(sz.contact.values()) / MM * factor
    return {**raw, "mesh": mesh}


def currents(raw: dict) -> dict:
    t = time.perf_counter()
    r = run(scenario_from_dict(raw))
    return {"currents_A": [g.current for g in r.train.groups], "dofs": r.dofs, "cells": r.mesh.num_cells,
            "mesh": raw.get("mesh", {}), "seconds": round(time.perf_counter() - t, 1)}


def main(factor: float = 0.7) -> None:
    doc = {"how": f"python tests/make_example_references.py {factor:g}: every element size of the example "
                  f"x {factor:g} (size, far and contact size), embedded engine with the example's own [solver] "
                  "degree and [mesh] order (P1; the hexagonal example curved P2), [mesh] accuracy = 0; currents "
                  "per pulse group in A. 'example' is the example's own mesh, for the record.",
           "factor": factor, "examples": {}}
    paths = sorted((ROOT / "examples").glob("*.toml"), key=lambda p: (p.stem == "hexagonal", p.stem))
    for path in paths:                                   # the largest last
        raw = tomllib.loads(path.read_text())
        raw.setdefault("mesh", {})["accuracy"] = 0      # one fixed mesh, as tests/example_runs.py runs them
        fine = currents(refined(raw, factor))
        own = currents(raw)
        doc["examples"][path.stem] = {"reference": fine, "example": own}
        rel = [o / f - 1 for o, f in zip(own["currents_A"], fine["currents_A"])]
        print(f"{path.stem}: fine {fine['dofs']} DOFs ({fine['seconds']} s), example {own['dofs']} DOFs; "
              f"rel. diff {min(rel):+.4f} .. {max(rel):+.4f}", flush=True)
        OUT.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.7)
