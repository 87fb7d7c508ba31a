"""The benchmark record: run the quick suite's smallest case in-process and check the schema."""
import json

import pytest

from benchmarks.cases import all_cases
from benchmarks.runner import SCHEMA_VERSION, run_case
from benchmarks.suite import compare, scaling
from benchmarks.table import markdown

TIMES = ("mesh", "setup", "nonlinear_total", "assemble", "preconditioner", "linear_solve", "line_search",
         "post", "output", "total")


@pytest.fixture(scope="module")
def record():
    spec = all_cases()["needle-pair-s"]
    sc = json.loads(json.dumps(spec["scenario"]))
    sc["mesh"]["size_mm"] = 0.6                     # smaller than the suite's case: keep the test fast
    return run_case("needle-pair-s", sc, spec["kind"])


def test_record_schema(record):
    assert {"name", "kind", "engine", "degree", "mesh_size_mm", "mesh_cached", "dofs", "cells", "configurations",
            "pulse_groups", "times_s", "cpu_s", "time_per_dof_us", "iterations", "memory_mb", "answer"} <= set(record)
    assert isinstance(record["dofs"], int) and record["dofs"] > 100
    assert isinstance(record["cells"], int) and record["cells"] > record["dofs"]
    for k in TIMES:
        assert isinstance(record["times_s"][k], float) and record["times_s"][k] >= 0.0, k
    assert record["times_s"]["total"] > 0 and record["times_s"]["nonlinear_total"] > 0
    assert record["iterations"]["nonlinear"] >= 1 and record["iterations"]["linear"] >= 1
    assert record["memory_mb"]["peak"] > 0 and record["memory_mb"]["peak_per_million_dofs"] > 0
    a = record["answer"]
    assert a["max_current_A"] > 0 and a["reversible_volume_mm3"] > 0
    assert a["irreversible_volume_mm3"] <= a["reversible_volume_mm3"]
    assert isinstance(a["current_A"], list) and len(a["current_A"]) == record["pulse_groups"]
    json.dumps(record)                                # plain JSON types only


def test_suite_document_and_table(record):
    same = {"dofs": record["dofs"], "times_s": {"setup": 1.0, "nonlinear_total": 9.0}, "converged": True,
            "iterations": {"nonlinear": 20, "linear": 200},
            "answer": {"reversible_volume_mm3": record["answer"]["reversible_volume_mm3"],
                       "max_current_A": record["answer"]["max_current_A"]}}
    rec = dict(record, baseline=compare(record, same, None))
    assert rec["baseline"]["same_mesh"]["reversible_volume_diff_pct"] == 0.0
    assert rec["baseline"]["same_mesh"]["solve_speedup"] > 0
    doc = {"schema_version": SCHEMA_VERSION, "suite": "quick", "created": "now", "environment": {},
           "cases": [rec], "scaling": scaling([rec])}
    text = markdown(doc)
    assert "needle-pair-s" in text and "same mesh" in text
    assert text.count("\n|") >= 3
