"""report.html in a real headless browser (Debian chromium + chromedriver through selenium):
the page renders, the 3-D view draws, the console has no errors, no network request is made.
Skips when chromium, chromedriver or selenium is absent (CI installs them: .ci/run)."""
from __future__ import annotations

import io
import json
import shutil
import tempfile
import time

import numpy as np
import pytest

selenium = pytest.importorskip("selenium")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="chromium / chromedriver not installed")

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
         "--enable-unsafe-swiftshader",       # software WebGL for plotly's 3-D view without a GPU
         "--window-size=1280,1800"]
NETWORK_SCHEMES = ("http:", "https:", "ws:", "wss:", "ftp:")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """(driver, report dir) with the report of a small plates run loaded."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

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
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="epsim-chromium-")
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        driver.get_log("performance")                    # drop the browser's own start-up requests
        driver.get((out / "report.html").as_uri())
        deadline = time.time() + 60
        while time.time() < deadline and not driver.execute_script(
                "return document.querySelectorAll('#view3d canvas').length > 0 && "
                "document.querySelector('#view3d .main-svg') !== null"):
            time.sleep(0.5)
        time.sleep(1.0)                                  # let WebGL finish its first frame
        yield driver, out
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_page_renders(page):
    driver, out = page
    assert driver.title == "epsim report: box-plates"
    assert driver.find_element("id", "verdict").text in ("COVERED", "NOT COVERED")
    imgs = driver.execute_script("return Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert len(imgs) == len(list(out.glob("*.png"))) and all(ok and w > 500 for ok, w in imgs)


def test_3d_view_draws(page):
    from matplotlib.image import imread

    driver, _ = page
    sizes = driver.execute_script("return Array.from(document.querySelectorAll('#view3d canvas'))"
                                  ".map(c => [c.width, c.height])")
    assert sizes and max(w * h for w, h in sizes) > 100_000
    view = driver.find_element("id", "view3d")
    driver.execute_script("arguments[0].scrollIntoView()", view)
    time.sleep(0.5)
    img = imread(io.BytesIO(view.screenshot_as_png))[..., :3]
    non_white = (img < 0.94).any(axis=2).mean()
    colours = len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert non_white > 0.05 and colours > 50            # the scene is drawn, not an empty box
    legend = driver.execute_script("return Array.from(document.querySelectorAll('#view3d .legendtext'))"
                                   ".map(t => t.textContent)")
    assert "tissue block" in legend and "tumour T1" in legend and any(t.startswith("E_rev") for t in legend)


def test_console_has_no_errors_and_nothing_is_fetched(page):
    driver, _ = page
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    urls = [m["params"]["request"]["url"] for m in (json.loads(e["message"])["message"]
                                                    for e in driver.get_log("performance"))
            if m["method"] == "Network.requestWillBeSent"]
    assert any(u.startswith("file:") and u.endswith("/report.html") for u in urls)
    assert not [u for u in urls if u.startswith(NETWORK_SCHEMES)], urls
