"""epsim compare (issue 14): the table's values are the individual reports' values; the
page of field slices has every scenario on it; the README's studies example runs."""
import json
import re
from pathlib import Path

import numpy as np

from simulator import build_report, load_scenario, run
from simulator.cli import main
from simulator.studies.table import report_row
from study_pages import assert_self_contained, read_study_page

ROOT = Path(__file__).resolve().parents[1]
SMALL = ('[tissue]\nsize_mm = [16, 16, 10]\n[[tumours]]\ndiameter_mm = 4.0\ndepth_mm = 4.0\nmargin_mm = 0.5\n'
         '[electrode]\ntype = "needle-pair"\nspacing_mm = {s}\ninsertion_depth_mm = 7.0\n'
         '[protocol]\npreset = "esope"\n[mesh]\nsize_mm = 2.5\naccuracy = 0\n')


def test_compare_values_equal_individual_reports(tmp_path, capsys):
    files = []
    for name, spacing in (("pair-5mm", 5.0), ("pair-7mm", 7.0)):
        f = tmp_path / f"{name}.toml"
        f.write_text(f'name = "{name}"\n' + SMALL.format(s=spacing))
        files.append(f)
    out = tmp_path / "cmp"
    code = main(["compare", *map(str, files), "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert code == 0
    doc = json.loads((out / "compare.json").read_text())
    assert doc["scenarios"] == ["pair-5mm", "pair-7mm"]
    for f, row in zip(files, doc["rows"]):
        single = report_row(build_report(run(load_scenario(f))))
        for key, value in single.items():
            if key not in ("run_time_s",):
                assert row[key] == value, key
    assert "pair-5mm" in text and "treatment time (s)" in text and "covered" in text
    # each run's own warnings (equal to its report's, above) are printed under the table
    printed = [ln for ln in text.splitlines() if ln.startswith("WARNING (")]
    expected = [f"WARNING ({r['name']}): {w}" for r in doc["rows"] for w in filter(None, r["warnings"].split(" | "))]
    assert printed == expected and expected, text
    # wider spacing at the same V/d ratio: more voltage
    assert doc["rows"][1]["max_voltage_V"] > doc["rows"][0]["max_voltage_V"]
    assert (out / "compare.csv").read_text().count("\n") == 3
    from matplotlib.image import imread
    img = imread(out / "compare.png")[..., :3]
    # two columns of slices: the field's colours fill much of both halves of the page
    w = img.shape[1]
    for half in (img[:, : w // 2], img[:, w // 2:]):
        assert (np.ptp(half, axis=2) > 0.3).mean() > 0.1
    # report.html: one table row per scenario with its values, compare.png embedded, both inputs
    page = read_study_page(out / "report.html")
    col = {h: k for k, h in enumerate(page.head)}
    assert [c[col["name"]] for c in page.rows] == ["pair-5mm", "pair-7mm"]
    assert [c[col["max_voltage_V"]] for c in page.rows] == [f"{r['max_voltage_V']:.6g}" for r in doc["rows"]]
    assert len(page.images) == 1 and page.title == "epsim compare: pair-5mm vs pair-7mm"
    for f in files:
        assert_self_contained(page, out, f.read_text())


def test_compare_needs_two_files_exit_2(tmp_path, capsys):
    f = tmp_path / "one.toml"
    f.write_text('name = "one"\n' + SMALL.format(s=5.0))
    assert main(["compare", str(f), "--out", str(tmp_path / "c"), "--quiet"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_readme_studies_example_runs(monkeypatch, capsys):
    """The Python block of the README's studies section, as written (coarser mesh for speed)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("<!-- studies-example -->"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(ROOT)
    code = code.replace('{"mesh.size_mm": 2.0, "mesh.accuracy": 0}',
                        '{"mesh.size_mm": 3.0, "mesh.accuracy": 0, "tissue.size_mm": [20, 20, 14]}')
    assert '"tissue.size_mm": [20, 20, 14]' in code, "the README block no longer sets the mesh as this test expects"
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "1 mesh, 6 runs" in out


def test_compare_colour_scale_follows_the_runs(tmp_path):
    """The shared scale of compare.png is set by the fields shown (issue 15: never a fixed
    0-1600 V/cm): three times the voltage lifts its top well above the first's."""
    from simulator.output import figures as f
    from simulator.studies.figures import compare_scale
    path = tmp_path / "p.toml"
    path.write_text('name = "p"\n' + SMALL.format(s=5.0))
    base = load_scenario(path).with_changes({"conductivity_model": "constant"})
    low, high = (run(base.with_voltage(v)) for v in (500.0, 1500.0))
    mat = [f._reference_material(low, float(base.tumours[0].centre[2]))]
    s_low, s_high = compare_scale([low], mat), compare_scale([low, high], mat * 2)
    assert s_high >= 2.4 * s_low                      # field x3 (constant sigma); nice rounding
    assert s_low >= 1.25 * mat[0].E_irr / 100         # both thresholds on the bar
