"""report.html in a real headless browser (Debian chromium + chromedriver through selenium,
tests/browser_check.py): the page renders, the 3-D view draws (WebGL), the console has no
errors, no network request is made: for a small synthetic report and for every example's
report.html of the shared session runs (tests/example_runs.py, never re-run here). One
chromium per worker (the session fixture ``browser``). Skips when chromium, chromedriver or
selenium is absent (CI installs them: .ci/run)."""
from __future__ import annotations

import pytest

from browser_check import page_check
from example_runs import EXPECTED_EXIT


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory, browser):
    """(PageCheck, report dir) of a small plates run."""
    from simulator.output import write_outputs
    from simulator.scenario import scenario_from_dict
    from simulator.solve.pipeline import run
    from test_figure_content import _mesh

    # a well-conducting tumour between plates: the field dips below E_rev inside it (an E_rev surface)
    sc = scenario_from_dict({
        "name": "box-plates", "tissue": {"size_mm": [10, 10, 10], "layers": [{"material": "muscle"}]},
        "tumours": [{"name": "T1", "diameter_mm": 4.0, "depth_mm": 5.0, "margin_mm": 0.5}],
        "materials": {"tumour": {"sigma0_S_per_m": 1.0, "sigma1_S_per_m": 1.5}},
        "electrode": {"type": "plates", "gap_mm": 10.0, "length_mm": 10.0, "depth_mm": 10.0},
        "protocol": {"voltage_V": 550.0, "pulses": 8}})
    out = tmp_path_factory.mktemp("html") / "out"
    write_outputs(run(sc, mesh=_mesh(sc, n=10)), out)
    return page_check(browser, out / "report.html"), out


def assert_report_page(check, out, report: dict) -> None:
    """What every report.html must do in the browser: named, verdict shown, every PNG of the
    folder decoded, the 3-D view drawn by WebGL with a legend naming the tumours, no console
    error, nothing fetched but the file itself."""
    assert check.title == f"epsim report: {report['name']}"
    covered = report["coverage"]["covered"]
    assert check.verdict == ("no tumour" if covered is None else "COVERED" if covered else "NOT COVERED")
    assert len(check.images) == len(list(out.glob("*.png"))) >= 3
    assert all(ok and w > 500 for ok, w in check.images), check.images
    assert check.webgl and check.canvas_px > 100_000
    assert check.non_white > 0.05 and check.colours > 50     # the scene is drawn, not an empty box
    assert "tissue block" in check.legend
    assert {f"tumour {t['name']}" for t in report["tumours"]} <= set(check.legend), check.legend
    assert not check.severe, check.severe
    assert any(u.startswith("file:") and u.endswith("/report.html") for u in check.urls)
    assert not check.network, check.network


def test_synthetic_report_renders_offline(synthetic):
    import json
    check, out = synthetic
    assert_report_page(check, out, json.loads((out / "report.json").read_text()))
    assert any(t.startswith("E_rev") for t in check.legend)       # the tumour's E_rev iso-surface


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group(f"example-{n}"))
                                  for n in sorted(EXPECTED_EXIT)])
def test_example_report_renders_offline(name, example_run, browser):
    r = example_run(name)
    assert r.report is not None, r.err
    check = page_check(browser, r.out_dir / "report.html")
    assert_report_page(check, r.out_dir, r.report)
