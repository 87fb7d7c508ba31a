"""Shared fixtures: the repository root on sys.path and a private mesh cache per session."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep the mesh cache of the test run away from the user's."""
    old = os.environ.get("EPSIM_CACHE_DIR")
    os.environ["EPSIM_CACHE_DIR"] = str(tmp_path_factory.mktemp("mesh-cache"))
    yield
    if old is None:
        os.environ.pop("EPSIM_CACHE_DIR", None)
    else:
        os.environ["EPSIM_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def example_run(tmp_path_factory):
    """example_run(name) -> ExampleRun: each example through the CLI, run once per session."""
    from example_runs import ARGS, run_example
    done = {}

    def get(name: str):
        if name not in done:
            done[name] = run_example(name, tmp_path_factory.mktemp(f"example-{name}") / "out", ARGS[name])
        return done[name]
    return get


@pytest.fixture(scope="session")
def browser():
    """One headless chromium per test session (per xdist worker), quit at the end; skips when
    selenium, chromium or chromedriver is missing (CI installs them: .ci/run)."""
    pytest.importorskip("selenium")
    import browser_check
    if not (browser_check.CHROMIUM and browser_check.DRIVER):
        pytest.skip("chromium / chromedriver not installed")
    driver = browser_check.start_driver()
    yield driver
    browser_check.quit_driver(driver)


def pytest_configure(config):
    """In CI (EPSIM_REQUIRE_DOLFINX=1) a missing DOLFINx is an error, not a skip."""
    if os.environ.get("EPSIM_REQUIRE_DOLFINX"):
        # checked in a subprocess: importing DOLFINx here initialises MPI in the (xdist worker)
        # process before xdist has set it up, and an mpirun started from that worker later
        # exits 1 with no output (seen; the test modules' own imports at collection are fine)
        import subprocess
        check = subprocess.run([sys.executable, "-c", "import dolfinx"], capture_output=True, text=True)
        if check.returncode != 0:
            last = (check.stderr.strip().splitlines() or ["no message"])[-1]
            raise pytest.UsageError(f"EPSIM_REQUIRE_DOLFINX is set but DOLFINx cannot be imported: {last}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With EPSIM_REQUIRE_DOLFINX=1, a skipped DOLFINx test counts as a failure."""
    outcome = yield
    rep = outcome.get_result()
    if os.environ.get("EPSIM_REQUIRE_DOLFINX") and rep.skipped and item.get_closest_marker("dolfinx"):
        rep.outcome = "failed"
        rep.longrepr = f"DOLFINx test skipped although EPSIM_REQUIRE_DOLFINX=1: {rep.longrepr}"
