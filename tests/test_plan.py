"""epsim plan (simulator.studies): the minimum voltage covers and 5 % less does not; the
planned scenario is covered when run; ranking follows the stated hierarchy; bad plan
options exit 2 with one line."""
import json
import tomllib

import pytest

from simulator import build_report, run, scenario_from_dict
from simulator.cli import main
from simulator.solve.pipeline import build_mesh_for
from simulator.studies.minimum_voltage import minimum_voltage
from simulator.studies.ranking import parse_hierarchy, rank
from simulator.studies.treatment_time import drug_window_warning, treatment_time
from study_pages import assert_self_contained, read_study_page

SMALL = {"name": "plan-small", "tissue": {"size_mm": [20, 20, 12], "layers": [{"material": "muscle"}]},
         "tumours": [{"diameter_mm": 4.0, "depth_mm": 4.0, "margin_mm": 0.5}],
         "electrode": {"type": "needle-pair", "spacing_mm": 6.0, "insertion_depth_mm": 8.0},
         "protocol": {"preset": "esope", "voltage_V": 300.0},
         "mesh": {"size_mm": 1.5, "far_size_mm": 5.0, "accuracy": 0},
         "coverage": {"margin_threshold": "tissue"}}   # calibrated on the per-tissue margin rule


@pytest.fixture(scope="module")
def small_min_voltage():
    sc = scenario_from_dict(SMALL)
    mesh, _ = build_mesh_for(sc)
    return sc, mesh, minimum_voltage(sc, mesh=mesh)


def test_minimum_voltage_covers_and_five_percent_less_does_not(small_min_voltage):
    sc, mesh, mv = small_min_voltage
    assert mv.voltage is not None and 300.0 < mv.voltage < sc.generator.max_voltage
    assert mv.result.covered
    # independent runs on the same mesh, not the search's own results
    at = run(sc.with_voltage(mv.voltage), mesh=mesh)
    below = run(sc.with_voltage(0.95 * mv.voltage), mesh=mesh)
    assert at.covered and not below.covered
    assert at.tumours[0].margin_reversible_fraction >= 1 - sc.coverage_tolerance
    # the bracket the search closed: an uncovered voltage within 1 % below the answer
    lower = max(v for v, c in mv.tried if not c)
    assert mv.voltage - lower <= mv.rel_tol * mv.voltage
    assert len(mv.tried) <= 8                      # the linear guesses keep the search short


def test_minimum_voltage_is_null_when_the_generator_cannot_cover():
    data = json.loads(json.dumps(SMALL))
    data["generator"] = {"max_voltage_V": 200.0}
    sc = scenario_from_dict(data)
    mv = minimum_voltage(sc)
    assert mv.voltage is None and mv.tried[-1] == (200.0, False)


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan") / "p"
    src = out.parent / "small.toml"
    import tomli_w
    src.write_text(tomli_w.dumps(SMALL))
    code = main(["plan", str(src), "--out", str(out), "--electrodes", "plates-4", "--quiet"])
    return code, out


def test_plan_writes_its_files_and_ranks_covering_plans_first(planned):
    code, out = planned
    assert code == 0
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == {"plan.json", "planned.toml", "plan.png", "report.html"}
    plan = json.loads((out / "plan.json").read_text())
    for key in ("feasible", "minimum_voltage_V", "diagnosis", "best", "candidates"):
        assert key in plan
    assert plan["feasible"] and plan["best"]["rank"] == 1 and plan["best"]["coverage"]["covered"]
    ranks = [c["rank"] for c in plan["candidates"]]
    assert ranks == list(range(1, len(ranks) + 1))
    feasible = [c["feasible"] for c in plan["candidates"]]
    assert feasible == sorted(feasible, reverse=True)           # every covering plan before the others
    # among covering single applications, least healthy irreversible volume first
    hi = [c["healthy_irreversible_mm3"] for c in plan["candidates"] if c["feasible"]]
    assert hi == sorted(hi)
    for c in plan["candidates"]:
        app = c["applications"][0]
        assert set(app) == {"centre_mm", "rotation_deg", "insertion_depth_mm", "voltage_V"}
        assert c["treatment_time_s"] > 60.0
    assert {c["electrode"] for c in plan["candidates"]} == {"scenario", "plates-4"}
    assert plan["minimum_voltage_V"] is not None
    assert plan["diagnosis"]["cold_regions"]                  # 300 V does not cover: said why


def test_planned_toml_run_is_covered(planned, tmp_path):
    _, out = planned
    plan = json.loads((out / "plan.json").read_text())
    data = tomllib.loads((out / "planned.toml").read_text())
    assert data["protocol"]["voltage_V"] == plan["best"]["applications"][0]["voltage_V"]
    code = main(["run", str(out / "planned.toml"), "--out", str(tmp_path / "r"), "--quiet", "--no-figures"])
    assert code == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["coverage"]["covered"] is True
    assert report["max_current_A"] == pytest.approx(plan["best"]["max_current_A"], rel=1e-6)


def test_plan_png_shows_the_field_and_the_lesion(planned):
    from matplotlib.image import imread
    import numpy as np
    img = imread(planned[1] / "plan.png")
    assert img.shape[1] > img.shape[0] > 400                  # two panels side by side
    rgb = img[..., :3]
    coloured = (rgb.max(axis=2) - rgb.min(axis=2)) > 0.2
    assert coloured.mean() > 0.1                               # the field maps, not a blank page
    tumour_pink = (np.abs(rgb - np.array([0xe8, 0x33, 0x6d]) / 255).sum(axis=2) < 0.15)
    assert tumour_pink.sum() > 50                              # lesion outlines drawn


def test_plan_report_html_has_every_candidate_and_renders_offline(planned, browser):
    """report.html: one table row per ranked candidate, plan.png embedded, the scenario as given;
    in headless chromium it loads with no console error and no network request."""
    from browser_check import page_check
    _, out = planned
    plan = json.loads((out / "plan.json").read_text())
    page = read_study_page(out / "report.html")
    col = {h: k for k, h in enumerate(page.head)}
    assert [(c[col["rank"]], c[col["electrode"]]) for c in page.rows] == [
        (str(e["rank"]), e["electrode"]) for e in plan["candidates"]]
    assert len(page.images) == 1 and page.title == "epsim plan"
    assert_self_contained(page, out, (out.parent / "small.toml").read_text())
    check = page_check(browser, out / "report.html", view3d=False)
    assert check.title == "epsim plan" and check.images and all(ok and w > 500 for ok, w in check.images)
    assert not check.severe and not check.network, (check.severe, check.network)
    assert any(u.startswith("file:") and u.endswith("/report.html") for u in check.urls)


@pytest.mark.parametrize("args, field", [
    (["--electrodes", "nosuch"], "--electrodes"),
    (["--electrodes", ","], "--electrodes"),
    (["--max-applications", "0"], "--max-applications"),
    (["--rank-by", "covered,price"], "--rank-by"),
    (["--rank-by", "pulses,pulses"], "--rank-by"),
    (["--reposition-s", "-5"], "--reposition-s"),
    (["--reposition-s", "nan"], "--reposition-s"),
    (["--max-applications", "two"], "--max-applications"),
])
def test_bad_plan_options_exit_2_with_one_line(tmp_path, capsys, args, field):
    import tomli_w
    src = tmp_path / "s.toml"
    src.write_text(tomli_w.dumps(SMALL))
    code = main(["plan", str(src), "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and field in err
    assert not (tmp_path / "o").exists()


def test_ranking_follows_the_hierarchy():
    def e(name, feasible, apps, hi, pulses, cur, cov=1.0):
        return {"electrode": name, "amplitude": "esope", "feasible": feasible, "applications": [{}] * apps,
                "healthy_irreversible_mm3": hi, "total_pulses": pulses, "max_current_A": cur,
                "coverage": {"margin_reversible_fraction": cov}}
    entries = [e("a", False, 1, 0.0, 8, 1.0, 0.9), e("b", True, 2, 1.0, 8, 1.0), e("c", True, 1, 5.0, 8, 1.0),
               e("d", True, 1, 5.0, 4, 9.0), e("f", True, 1, 5.0, 4, 2.0), e("g", False, 1, 0.0, 8, 1.0, 0.95)]
    assert [x["electrode"] for x in rank(entries)] == ["f", "d", "c", "b", "g", "a"]
    by_current = rank(entries, parse_hierarchy("covered,current"))
    assert [x["electrode"] for x in by_current][:2] == ["b", "c"]     # 1 A ties, then coverage, then name


def test_treatment_time_and_drug_window():
    sc = scenario_from_dict({**SMALL, "electrode": {"catalogue": "hexagonal-10"}, "protocol": {"preset": "esope-1hz"}})
    # 96 pulses 1 s apart: the last one ends 100 us after it starts, 95 s after the first
    assert sc.protocol.train_time == pytest.approx(95.0001)
    assert treatment_time([sc.protocol] * 3, 60.0) == pytest.approx(3 * 155.0001)
    assert drug_window_warning(20 * 60.0) is None
    assert "drug window" in drug_window_warning(21 * 60.0)


def test_one_treatment_time_in_the_report_summary_and_table():
    """Two groups at different rates: 4 pulses at 1 Hz (3 s + one period to the next group),
    then 8 at 5 kHz (7 x 0.2 ms + 100 us); the report, its summary and a table row agree."""
    from protocols.pulses import Protocol, PulseGroup
    from simulator.studies.table import report_row
    slow = PulseGroup(("A",), ("B",), 500.0, 4, 100e-6, 1.0)
    fast = PulseGroup(("B",), ("A",), 500.0, 8, 100e-6, 5000.0)
    assert Protocol((slow, fast)).train_time == pytest.approx(4.0 + 7 / 5000 + 100e-6)
    assert Protocol((fast, slow)).train_time == pytest.approx(8 / 5000 + 3.0 + 100e-6)
    rep = build_report(run(scenario_from_dict({**SMALL, "protocol": {"voltage_V": 500, "pulses": 4,
                                                                     "frequency_Hz": 1.0}})))
    assert rep["protocol"]["treatment_time_s"] == pytest.approx(3.0001)
    assert rep["summary"]["treatment_time_s"] == rep["protocol"]["treatment_time_s"]
    assert report_row(rep)["treatment_time_s"] == rep["protocol"]["treatment_time_s"]


def test_needles_go_below_the_lesion_but_not_past_their_length():
    from simulator.studies.candidates import catalogue_candidate
    sc = scenario_from_dict(SMALL)                  # tumour + margin reaches 6.5 mm deep
    c = catalogue_candidate("linear-10", SMALL, sc)
    assert c.insertion_depth_mm == pytest.approx(8.5)         # 6.5 mm + 2 mm below the lesion
    deep = json.loads(json.dumps(SMALL))
    deep["tissue"]["size_mm"][2] = 30
    deep["tumours"][0].update(depth_mm=12.0, diameter_mm=6.0)
    c = catalogue_candidate("linear-10", deep, scenario_from_dict(deep))
    assert c.insertion_depth_mm == 10.0 == c.needle_length_mm  # capped at the 10 mm needle
    assert scenario_from_dict(c.data).electrode.needles[0].insertion_depth == pytest.approx(10e-3)


def test_plan_says_it_does_not_refine_to_the_accuracy_target():
    """A plan solves each candidate on one fixed mesh: a scenario's [mesh] accuracy target is
    named as not applied (as a sweep does), not silently dropped."""
    from simulator.studies.plan import PlanOptions, plan
    data = json.loads(json.dumps(SMALL))
    data["mesh"]["accuracy"] = 0.02
    report = plan(data, PlanOptions(electrodes="plates-4")).report
    assert any(w.startswith("[mesh] accuracy = 0.02 is not applied in a plan") for w in report["warnings"]), \
        report["warnings"]


def test_plan_png_shades_the_cold_part_red(tmp_path):
    """SMALL as given (300 V: 7.1 mm3 of tumour + margin cold between the needles): plan.png
    still shows it in red now that only the part of a cold cell below its threshold (on the
    plane's recovered field) is shaded, not the whole cell."""
    from matplotlib.image import imread
    from simulator.output.report import cold_regions_of
    from simulator.studies.plan_output import plot_plan
    result = run(scenario_from_dict(SMALL))
    assert sum(r.volume for r in cold_regions_of(result)) > 5e-9
    best = {"electrode": "scenario", "amplitude": "scenario",
            "applications": [{"voltage_V": 300.0, "insertion_depth_mm": 8.0}],
            "coverage": {"margin_reversible_fraction": 0.9, "covered": False}}
    rgb = imread(plot_plan(result, best, tmp_path / "plan.png"))[..., :3]
    red = (rgb[..., 0] > 0.55) & (rgb[..., 1] < 0.3) & (rgb[..., 2] < 0.35)
    assert red.sum() > 500, red.sum()
