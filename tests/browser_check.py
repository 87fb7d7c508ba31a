"""A report page in a real headless browser (Debian chromium + chromedriver through selenium).

:func:`start_driver` starts one chromium (the session fixture ``browser`` in conftest.py
keeps one per test session, i.e. per xdist worker); :func:`open_page` loads a page with the
console and network logs emptied first, so :func:`page_check` sees only that page's
messages and requests. What a check reads, it returns: the tests assert on it.
"""
from __future__ import annotations

import io
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
         "--enable-unsafe-swiftshader",       # software WebGL for plotly's 3-D view without a GPU
         "--window-size=1280,1000"]  # the 3-D view (560 px high) fits when scrolled to
NETWORK_SCHEMES = ("http:", "https:", "ws:", "wss:", "ftp:")
VIEW_READY = ("return document.querySelectorAll('#view3d canvas').length > 0 && "
              "document.querySelector('#view3d .main-svg') !== null")
# the context plotly's gl3d scene made on its canvas (getContext returns the existing one of that type)
WEBGL = ("return Array.from(document.querySelectorAll('#view3d canvas')).some(c => "
         "(c.getContext('webgl') || c.getContext('experimental-webgl') || c.getContext('webgl2')) instanceof "
         "WebGLRenderingContext || c.getContext('webgl2') instanceof WebGL2RenderingContext)")


def start_driver():
    """A headless chromium with browser and performance logging, a fresh profile (removed at quit)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="epsim-chromium-")
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.epsim_profile = profile
    return driver


def quit_driver(driver) -> None:
    driver.quit()
    shutil.rmtree(driver.epsim_profile, ignore_errors=True)


@dataclass
class PageCheck:
    title: str
    verdict: str | None
    images: list                 # [complete, naturalWidth] per <img>
    severe: list                 # console messages of level SEVERE
    urls: list                   # every request the page made
    webgl: bool = False          # the 3-D view's canvas has a WebGL context
    canvas_px: int = 0           # largest canvas, pixels
    non_white: float = 0.0       # fraction of the 3-D view's screenshot that is not white
    colours: int = 0             # distinct colours in it
    legend: list = field(default_factory=list)
    seconds: float = 0.0         # load + checks

    @property
    def network(self) -> list:
        return [u for u in self.urls if u.startswith(NETWORK_SCHEMES)]


def open_page(driver, path: Path, *, view3d: bool, timeout: float = 60.0) -> None:
    """Load ``path``; wait for the document, and for plotly's 3-D scene when ``view3d``."""
    driver.get_log("browser")                        # drop what earlier pages logged
    driver.get_log("performance")
    driver.get(Path(path).resolve().as_uri())
    deadline = time.time() + timeout
    ready = VIEW_READY if view3d else "return document.readyState === 'complete'"
    while time.time() < deadline and not driver.execute_script(ready):
        time.sleep(0.1)


def page_check(driver, path: Path, *, view3d: bool = True) -> PageCheck:
    """Open the page and read what the tests assert: title, verdict, images, console, requests,
    and (``view3d``) whether the 3-D view drew: WebGL context, screenshot content, legend."""
    from matplotlib.image import imread

    t0 = time.perf_counter()
    open_page(driver, path, view3d=view3d)
    verdicts = driver.find_elements("id", "verdict")
    check = PageCheck(
        title=driver.title, verdict=verdicts[0].text if verdicts else None,
        images=driver.execute_script("return Array.from(document.images).map(i => [i.complete, i.naturalWidth])"),
        severe=[], urls=[])
    if view3d:
        check.webgl = bool(driver.execute_script(WEBGL))
        sizes = driver.execute_script("return Array.from(document.querySelectorAll('#view3d canvas'))"
                                      ".map(c => c.width * c.height)")
        check.canvas_px = max(sizes, default=0)
        view = driver.find_element("id", "view3d")
        driver.execute_script("arguments[0].scrollIntoView()", view)
        deadline = time.time() + 20.0
        while True:                                   # until WebGL has drawn its first frame
            img = imread(io.BytesIO(view.screenshot_as_png))[..., :3]
            check.non_white = float((img < 0.94).any(axis=2).mean())
            rgb = (img * 255).astype(np.uint32).reshape(-1, 3)
            check.colours = len(np.unique(rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]))
            if (check.non_white > 0.05 and check.colours > 50) or time.time() > deadline:
                break
            time.sleep(0.2)
        check.legend = driver.execute_script("return Array.from(document.querySelectorAll('#view3d .legendtext'))"
                                             ".map(t => t.textContent)")
    check.severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    check.urls = [m["params"]["request"]["url"] for m in (json.loads(e["message"])["message"]
                                                          for e in driver.get_log("performance"))
                  if m["method"] == "Network.requestWillBeSent"]
    check.seconds = time.perf_counter() - t0
    return check
