"""epsim robustness: zero spread gives probability 1 for a covering plan; seeded runs repeat
exactly (also in two worker processes); spread lowers the coverage; bad options exit 2 with
one line."""
import json

import pytest

from simulator.cli import main
from study_pages import assert_self_contained, read_study_page

COVERING = {"name": "robust", "tissue": {"size_mm": [20, 20, 12], "layers": [{"material": "muscle"}]},
            "tumours": [{"diameter_mm": 4.0, "depth_mm": 4.0, "margin_mm": 0.5}],
            "electrode": {"type": "needle-pair", "spacing_mm": 6.0, "insertion_depth_mm": 8.0},
            "protocol": {"preset": "esope", "voltage_V": 560.0},   # covers: margin 0.99928 (480 V: 0.9979)
            "mesh": {"size_mm": 1.5, "far_size_mm": 5.0, "accuracy": 0},
         "coverage": {"margin_threshold": "tissue"}}   # calibrated on the per-tissue margin rule


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    import tomli_w
    p = tmp_path_factory.mktemp("rob") / "s.toml"
    p.write_text(tomli_w.dumps(COVERING))
    return p


def _robust(src, out, *args):
    assert main(["robustness", str(src), "--out", str(out), "--quiet", *args]) == 0
    return json.loads((out / "robustness.json").read_text())


def test_zero_spread_covering_plan_has_probability_one(src, tmp_path):
    rep = _robust(src, tmp_path / "a", "--samples", "2")
    assert rep["probability_covered"] == 1.0 and rep["mesh_reused"]
    assert rep["margin_coverage_p05"] >= 0.999
    assert (tmp_path / "a" / "robustness.png").stat().st_size > 10_000
    page = read_study_page(tmp_path / "a" / "report.html")          # one row per draw, the histogram
    col = {h: k for k, h in enumerate(page.head)}
    assert [c[col["sample"]] for c in page.rows] == ["1", "2"]
    assert [c[col["covered"]] for c in page.rows] == [str(d["covered"]) for d in rep["draws"]]
    assert len(page.images) == 1 and page.title == "epsim robustness: robust"
    assert_self_contained(page, tmp_path / "a", src.read_text())


def test_seeded_runs_repeat_exactly_and_spread_costs_coverage(src, tmp_path):
    args = ["--samples", "2", "--sigma-rel-sd", "0.3", "--threshold-rel-sd", "0.3", "--seed", "7"]
    a = _robust(src, tmp_path / "a", *args)
    b = _robust(src, tmp_path / "b", *args, "--jobs", "2")          # two worker processes: the same file
    assert a == b
    factors = [d["material_factors"]["muscle"]["threshold"] for d in a["draws"]]
    assert len(set(factors)) == 2                                    # real draws, not one value
    assert len({d["margin_reversible_fraction"] for d in a["draws"]}) == 2   # and they change the field
    other = _robust(src, tmp_path / "c", "--samples", "1", *args[2:-1], "8")
    assert other["draws"][0]["material_factors"] != a["draws"][0]["material_factors"]


def test_placement_error_moves_the_electrode(src, tmp_path):
    # two samples in two workers: each placement draw is meshed in the worker that runs it,
    # and started from the nominal field moved with the electrode; the same file in one process
    args = ["--samples", "2", "--placement-sd-mm", "1.0", "--seed", "1"]
    rep = _robust(src, tmp_path / "p", *args, "--jobs", "2")
    assert not rep["mesh_reused"] and rep["warm_start"]
    shifts = [tuple(d["shift_mm"][0]) for d in rep["draws"]]
    assert (0.0, 0.0) not in shifts and shifts[0] != shifts[1]
    assert len({d["margin_reversible_fraction"] for d in rep["draws"]}) == 2     # two meshes, two fields
    assert _robust(src, tmp_path / "q", *args, "--jobs", "1") == rep


def test_warm_rows_equal_cold_rows():
    """Each sample started from the nominal field gives the row of its cold run (the
    fractions to ~1e-6), in fewer iterations; the nominal row is the unperturbed run's."""
    from simulator.studies.robustness import Spreads, robustness
    data = {**COVERING, "protocol": {"preset": "esope", "voltage_V": 380.0}}      # draws: margin 0.95-0.995
    spreads = Spreads(placement_sd_mm=0.8, tilt_sd_deg=3.0, sigma_rel_sd=0.1, threshold_rel_sd=0.1)
    warm, _ = robustness(data, 3, spreads, seed=4)
    cold, _ = robustness(data, 3, spreads, seed=4, warm=False)
    assert warm["nominal"] == cold["nominal"]
    solver = ("newton_iterations", "cg_iterations")
    for w, c in zip(warm["draws"], cold["draws"]):
        assert {k: v for k, v in w.items() if k not in solver + ("margin_reversible_fraction",)} == \
            {k: v for k, v in c.items() if k not in solver + ("margin_reversible_fraction",)}
        assert w["margin_reversible_fraction"] == pytest.approx(c["margin_reversible_fraction"], rel=1e-6, abs=1e-6)
        assert w["margin_reversible_fraction"] < 0.9999 and w["cg_iterations"] < c["cg_iterations"]
    assert sum(d["newton_iterations"] for d in warm["draws"]) < sum(d["newton_iterations"] for d in cold["draws"])


@pytest.mark.parametrize("args, field", [
    (["--samples", "0"], "--samples"),
    (["--samples", "2", "--sigma-rel-sd", "-0.1"], "--sigma-rel-sd"),
    (["--samples", "2", "--placement-sd-mm", "nan"], "--placement-sd-mm"),
    (["--samples", "2", "--seed", "-1"], "--seed"),
    (["--samples", "2", "--jobs", "0"], "--jobs"),
    (["--sigma-rel-sd", "0.1"], "--samples"),
])
def test_bad_robustness_options_exit_2(src, tmp_path, capsys, args, field):
    code = main(["robustness", str(src), "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and field in err
    assert not (tmp_path / "o").exists()


def test_a_row_report_is_the_full_reports_part():
    """coverage_report of a coverage-only run (what a row is built from) equals the same
    keys of the full report of a full run."""
    from simulator.output.report import build_report, coverage_report
    from simulator.scenario import scenario_from_dict
    from simulator.solve.pipeline import run
    sc = scenario_from_dict({**COVERING, "protocol": {"preset": "esope", "voltage_V": 380.0}})
    full = build_report(run(sc))
    light = run(sc, coverage_only=True)
    assert light.zones == [] and light.volumes == {}             # the rest is not computed
    row = coverage_report(light)
    # whether a run met its mesh in the cache depends on the runs before it: the one key
    # that may differ
    full["solver"].pop("mesh_from_cache")
    assert row["solver"].pop("mesh_from_cache") is True          # the second run's mesh: the first's
    assert row == {k: full[k] for k in row} and set(row) >= {"coverage", "tumours", "solver"}
    assert 0.99 < row["tumours"][0]["margin_reversible_fraction"] < 1.0
