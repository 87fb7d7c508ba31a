"""Outputs that describe themselves (issue 15): scenario.resolved.toml reproduces the run,
report.html is one offline file, field files carry their legend, the summary block and the
terminal summary name what was applied."""
from __future__ import annotations

import json
import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from simulator.cli import main
from simulator.output.fields import field_legend, write_xdmf
from simulator.output.html_report import build_html
from simulator.scenario import load_scenario, scenario_from_dict
from simulator.scenario.resolve import resolved_dict, resolved_toml

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.toml"))
TINY = """
name = "tiny plates"
[tissue]
size_mm = [10, 10, 8]
layers = [ { material = "skin", thickness_mm = 1.5 }, { material = "muscle" } ]
[[tumours]]
diameter_mm = 3.0
depth_mm = 4.0
margin_mm = 0.5
[electrode]
type = "plates"
gap_mm = 10.0
length_mm = 10.0
depth_mm = 8.0
[protocol]
voltage_V = 1000
pulses = 8
[mesh]
size_mm = 1.6
accuracy = 0
"""


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_resolved_scenario_reads_back_equal(example):
    a = load_scenario(example)
    text = resolved_toml(a)
    b = scenario_from_dict(tomllib.loads(text))
    assert a == b
    assert a.materials == b.materials
    assert [m.source for m in a.materials.values()] == [m.source for m in b.materials.values()]
    assert a.electrode.source == b.electrode.source and a.electrode.parameters == b.electrode.parameters
    # every default is written: the solver, mesh, generator and coverage tables are complete
    d = resolved_dict(a)
    assert {"engine", "degree", "model", "rtol", "max_iterations", "idle_contacts"} <= set(d["solver"])
    assert {"max_voltage_V", "max_current_A"} <= set(d["generator"]) and "tolerance" in d["coverage"]
    assert all(set(m) >= {"sigma0_S_per_m", "E_rev_V_per_cm", "conductivity_model"} for m in d["materials"].values())


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    (root / "tiny.toml").write_text(TINY)
    out = root / "out"
    import io
    from contextlib import redirect_stdout
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["run", str(root / "tiny.toml"), "--out", str(out), "--quiet"])
    assert code == 0
    return root, out, buf.getvalue()


def test_rerunning_the_resolved_scenario_gives_the_same_report(tiny_run):
    root, out, _ = tiny_run
    again = root / "again"
    assert main(["run", str(out / "scenario.resolved.toml"), "--out", str(again), "--quiet", "--no-figures"]) == 0
    a, b = (json.loads((d / "report.json").read_text()) for d in (out, again))
    for r in (a, b):
        r.pop("timings_s")
        r["solver"].pop("mesh_from_cache")
    assert a == b
    assert (again / "scenario.resolved.toml").read_text() == (out / "scenario.resolved.toml").read_text()


def test_summary_block_and_terminal_line(tiny_run):
    _, out, stdout = tiny_run
    s = json.loads((out / "report.json").read_text())["summary"]
    assert s["electrode_type"] == "plates" and s["electrode_distance_mm"] == 10.0
    assert s["electrode_dimensions_mm"]["gap_mm"] == 10.0 and s["electrode_dimensions_mm"]["depth_mm"] == 8.0
    assert s["voltage_V"] == [1000.0] and s["voltage_to_distance_ratio_V_per_cm"] == 1000.0
    assert s["pulses"] == 8 and s["pulse_duration_us"] == [100.0] and s["frequency_Hz"] == [1.0]
    assert s["treatment_time_s"] == pytest.approx(7.0 + 1e-4)        # 8 pulses at 1 Hz, 100 us each
    assert s["tumour_count"] == 1 and s["tumour_max_diameters_mm"] == [3.0] and s["applications"] == 1
    assert "Campana" in s["source"] and "InspECT" in s["source"]
    assert "applied: 1000 V (1000 V/cm over 10 mm), 8 x 100 us at 1 Hz, protocol custom, electrode plates, " \
           "stationary model" in stdout


def test_html_report_is_self_contained(tiny_run):
    _, out, _ = tiny_run
    page = (out / "report.html").read_text()
    pngs = sorted(p.name for p in out.glob("*.png"))
    imgs = re.findall(r"<img [^>]*src=\"([^\"]*)\"", page)
    assert len(imgs) == len(pngs) >= 5 and all(s.startswith("data:image/png;base64,") for s in imgs)
    assert not re.search(r"<(script|link|iframe)[^>]+(src|href)=", page)        # nothing fetched
    assert "Plotly.newPlot" in page and 'id="view3d"' in page
    assert "NOT COVERED" in page or "COVERED" in page
    assert "tiny plates" in page and "&lt;" not in page.split("<pre>")[0][:200]
    for text in ("[C", "muscle", "Resolved scenario", "voltage_V = 1000.0", "treatment_time_s", "commit"):
        assert text in page, text
    assert 4e6 < len(page.encode()) < 12e6                  # plotly.js inline (~4.6 MB) + figures


def test_html_renders_unknown_report_blocks(tiny_run, tmp_path):
    _, out, _ = tiny_run
    report = json.loads((out / "report.json").read_text())
    report["zones"] = [{"threshold_V_per_cm": 400, "volume_mm3": 12.5, "extent_mm": [1, 2, 3]}]
    report["accuracy"] = {"coverage_abs": 0.02, "method": "richardson"}
    report["thermal"] = {"max_temperature_C": 39.25, "T99_C": 38.5}
    report["pulses"][0]["currents_A"] = [1.5, 1.75]
    report["nested"] = {"grid": [[1, 2], [3, 4]], "rows": [{"a": [1, {"b": 2}]}], "empty": [], "deep": [[[1]]]}
    class Fake:                                   # what build_html reads of a Result
        scenario = scenario_from_dict(tomllib.loads(TINY))
        train = type("T", (), {"groups": [type("G", (), {"group": g})() for g in scenario.protocol.groups]})()
    page = build_html(Fake(), report, tmp_path, "x = 1", None)
    assert "<h3>zones</h3>" in page and "<th>threshold_V_per_cm</th>" in page and "<td>12.5</td>" in page
    assert "\u00b1 2.0" in page                                   # error bars from accuracy.coverage_abs
    thermal = page.split("<h2>Thermal</h2>")[1].split("<h2>")[0]
    assert "max_temperature_C" in thermal and "39.25" in thermal
    assert "<th>currents_A</th>" in page and "1.5, 1.75" in page
    assert "<h3>nested</h3>" in page and "[1, 2], [3, 4]" in page and "[[1]]" in page   # lists of lists, no recursion


def test_field_files_carry_their_legend(tiny_run, tmp_path):
    import meshio

    _, out, _ = tiny_run
    head = (out / "field.vtu").read_bytes()[:4000].decode("latin-1")
    assert "coordinates in mm" in head and "region: 0 = skin" in head and "2 = irreversible" in head
    m = meshio.read(out / "field.vtu")
    assert {"region", "state", "E_max_V_per_cm"} <= set(m.cell_data)
    names = set(m.field_data)
    assert {"coordinates_unit_mm", "region_0_skin", "region_1_muscle", "region_2_T1", "state_0_intact",
            "state_1_reversible", "state_2_irreversible"} <= names
    assert int(np.ravel(m.field_data["region_2_T1"])[0]) == 2
    assert m.points[:, 0].max() == pytest.approx(5.0)                      # mm
    # XDMF: the same legend as Information elements
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    write_xdmf(tmp_path / "f.xdmf", pts, np.array([[0, 1, 2, 3]]), {"state": np.array([1])}, {},
               {"coordinates_unit_mm": 1, "region_0_skin": 0})
    root = ET.parse(tmp_path / "f.xdmf").getroot()
    info = next(root.iter("Information"))
    assert "coordinates in mm" in info.get("Value") and "region: 0 = skin" in info.get("Value")
    legend = {m.get("key"): int(m.text) for m in ET.fromstring(info.text)}
    assert legend == {"coordinates_unit_mm": 1, "region_0_skin": 0}


def test_field_legend_names_every_region():
    mesh = type("M", (), {"regions": [type("Rg", (), {"name": n})() for n in ("skin", "fat", "T1")]})()
    legend = field_legend(type("Res", (), {"mesh": mesh})())
    assert [k for k in legend if k.startswith("region_")] == ["region_0_skin", "region_1_fat", "region_2_T1"]


def test_study_page_embeds_figures_and_tables(tiny_run, tmp_path):
    import shutil
    from simulator.output.html_report import study_html
    _, out, _ = tiny_run
    shutil.copy(out / "coverage.png", tmp_path / "plan.png")
    page = study_html("epsim plan", {"best": {"electrode": "linear-10", "voltage_V": 400.0},
                                     "candidates": [{"rank": 1, "covered": True}, {"rank": 2, "covered": False}]},
                      tmp_path)
    assert page.count('src="data:image/png;base64,') == 1 and not re.search(r"<(script|link)[^>]+(src|href)=", page)
    assert "<h2>best</h2>" in page and "<th>rank</th>" in page and "linear-10" in page


def test_tumour_table_carries_each_tumours_error_bars():
    """The accuracy block's per-tumour estimate (tumour: on >= E_rev, margin: on "with
    margin"), as the accuracy loop writes it; none on >= E_irr, none without an estimate."""
    from simulator.output.html_report import tumour_table

    def t(name, rev, irr, margin):
        return {"name": name, "tumour_reversible_fraction": rev, "tumour_irreversible_fraction": irr,
                "margin_reversible_fraction": margin, "covered": False, "min_field_V_per_cm": 300.0,
                "volume_mm3": 10.0}
    report = {"tumours": [t("A", 0.967, 0.011, 0.921), t("B", 0.5, 0.0, 0.4)],
              "accuracy": {"coverage_abs": {"tumour": 0.03, "margin": 0.004},
                           "tumours": [{"name": "A", "tumour": 0.01565, "margin": 0.003477},
                                       {"name": "B", "tumour": 0.052, "margin": 0.021}]}}
    rows = [re.findall(r"<td>(.*?)</td>", r) for r in tumour_table(report).split("<tr>")[2:]]
    assert rows[0][1:4] == ["96.7 % \u00b1 1.6", "1.1 %", "92.1 % \u00b1 0.3"]
    assert rows[1][1:4] == ["50.0 % \u00b1 5.2", "0.0 %", "40.0 % \u00b1 2.1"]
    del report["accuracy"]["tumours"]                        # the overall estimate for every tumour
    assert "50.0 % \u00b1 3.0" in tumour_table(report) and "40.0 % \u00b1 0.4" in tumour_table(report)
    report["accuracy"] = {"coverage_abs": None, "method": "none: one fixed mesh"}
    assert "\u00b1" not in tumour_table(report)


def test_a_material_table_no_region_uses_is_a_warning():
    """A [materials.X] that no layer, tumour or surface uses (a study may switch between such
    tables) runs, and the report says its values had no effect."""
    from simulator import build_report, run
    sc = scenario_from_dict({
        "name": "unused", "tissue": {"size_mm": [16, 16, 10], "layers": [{"material": "muscle"}]},
        "electrode": {"type": "needle-pair", "spacing_mm": 6.0, "insertion_depth_mm": 6.0},
        "protocol": {"voltage_V": 300, "pulses": 8}, "mesh": {"size_mm": 2.5, "accuracy": 0},
        "materials": {"stiff": {"sigma0_S_per_m": 0.3, "sigma1_S_per_m": 0.7, "E_rev_V_per_cm": 200,
                                "E_irr_V_per_cm": 450}}})
    warnings = build_report(run(sc))["warnings"]
    assert any(w.startswith("[materials.stiff] defined but used by no tissue layer") for w in warnings), warnings
