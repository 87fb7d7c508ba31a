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
def traced():
    """The record, with what the runner called: run() of the pipeline (the users' path) and
    the contact-sliver recovery inside it."""
    import simulator.solve.pipeline as pipeline
    from simulator.output.report import build_report
    spec = all_cases()["needle-pair-s"]
    sc = json.loads(json.dumps(spec["scenario"]))
    sc["mesh"]["size_mm"] = 0.6                     # smaller than the suite's case: keep the test fast
    calls = {"run": [], "recover": 0}
    real_run, real_recover = pipeline.run, pipeline.recover_sliver_fields

    def run(*a, **k):
        res = real_run(*a, **k)
        calls["run"].append((res, build_report(res)))
        return res

    def recover(*a, **k):
        calls["recover"] += 1
        return real_recover(*a, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "run", run)
        mp.setattr(pipeline, "recover_sliver_fields", recover)
        rec = run_case("needle-pair-s", sc, spec["kind"])
    return rec, calls


@pytest.fixture(scope="module")
def record(traced):
    return traced[0]


def test_record_comes_from_the_users_run(traced):
    rec, calls = traced
    assert len(calls["run"]) == 1 and calls["recover"] == 1
    res, report = calls["run"][0]
    assert rec["answer"]["reversible_volume_mm3"] == report["volumes_mm3"]["reversible"]
    assert rec["answer"]["current_A"] == [g.current for g in res.train.groups]
    assert rec["dofs"] == report["solver"]["dofs"] and rec["converged"] is report["solver"]["converged"] is True
    for phase in ("mesh", "setup", "post"):        # run()'s phase timings, not the runner's own
        assert rec["times_s"][phase] >= round(report["timings_s"][phase], 4) - 1e-4
    assert rec["times_s"]["nonlinear_total"] == round(report["timings_s"]["solve"], 4)


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
    mesh_rec = {"name": "mesh-chest-wall", "kind": "mesh", "cells": 1000, "points": 300,
                "times_s": {"read": 0.0, "mesh": 31.0}, "cpu_s": 30.0, "target_s": 30.0, "within_target": False,
                "memory_mb": {"peak": 100.0}}
    doc = {"schema_version": SCHEMA_VERSION, "suite": "quick", "created": "now", "environment": {},
           "cases": [rec, mesh_rec], "scaling": scaling([rec])}
    text = markdown(doc)
    assert "needle-pair-s" in text and "same mesh" in text
    assert text.count("\n|") >= 3
    assert "| mesh-chest-wall | 1000 | 300 | 31.0 (over) | 30 |" in text


def test_label_image_case():
    """The 128^3 meshing case's image: layer labels by depth, the nodule's voxel volume
    near the 8 mm sphere's (268.1 mm^3) to the voxel-staircase error."""
    import math
    from benchmarks.cases import all_cases
    from benchmarks.meshing import LABEL_VOXEL_MM, label_image
    assert all_cases()["mesh-label-image-128"]["kind"] == "mesh"
    img = label_image(64, 40.0 / 64)
    assert img.shape == (64, 64, 64) and img[0, 0, 0] == 1 and img[0, 0, 5] == 2 and img[0, 0, -1] == 3
    v = (img == 4).sum() * (40.0 / 64) ** 3
    assert abs(v - 4 / 3 * math.pi * 4.0 ** 3) < 0.03 * 268.1 and LABEL_VOXEL_MM == 0.3125


def test_study_cases_are_registered_and_tabled():
    """The issue-13 targets are benchmark cases (the slow ones in the full run only), and a
    study record over its target is flagged in the table."""
    from benchmarks.studies import STUDIES
    cases = all_cases()
    assert {n for n, c in cases.items() if c["kind"] == "study"} == set(STUDIES)
    assert [n for n in STUDIES if cases[n]["quick"]] == ["minimum-voltage-needle-pair"]
    recs = [{"name": "plan-24mm-hexagonal", "kind": "study", "wall_s": 700.0, "cpu_s": 650.0, "target_s": 600.0,
             "within_target": False, "load_average_1min": [2.0, 2.5], "answer": {}},
            {"name": "minimum-voltage-needle-pair", "kind": "study", "wall_s": 9.6, "cpu_s": 3.3, "target_s": 60.0,
             "within_target": True, "load_average_1min": [10.8, 10.7], "answer": {}}]
    text = markdown({"schema_version": SCHEMA_VERSION, "suite": "full", "created": "now", "environment": {},
                     "cases": recs})
    assert "| plan-24mm-hexagonal | 700.0 | 600 | **no** |" in text
    assert "| minimum-voltage-needle-pair | 9.6 | 60 | yes |" in text
