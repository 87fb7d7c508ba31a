"""No silent wrong answer, nothing half-written, same answer twice.

- a solve that does not converge (or produces NaN) is exit 3 with one line, nothing written;
- outputs appear all at once (temporary directory + rename), never over an existing
  directory without --force;
- SIGINT / SIGTERM during meshing or solving exit 130 / 143 leaving nothing behind;
- the same scenario twice gives the same report and the same field file;
- the memory guard refuses with a one-line message naming mesh.size_mm;
- the scenario name never becomes a path outside the output directory.

Scenarios are tiny clamped-plate blocks (meshed in well under a second) except where a
run must last long enough to be interrupted.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from terminal import default_signals

from simulator.cli import main
from simulator.errors import ConvergenceError, ScenarioError
from simulator.output import atomic_directory, check_target, safe_name

ROOT = Path(__file__).resolve().parents[1]

PLATES = """\
name = "{name}"
[tissue]
size_mm = [8, 10, 6]
layers = [ {{ material = "muscle" }} ]
[[tumours]]
diameter_mm = 3.0
depth_mm = 3.0
[electrode]
type = "plates"
gap_mm = 8.0
length_mm = 10.0
depth_mm = 6.0
[protocol]
pulses = 8
pulse_duration_us = 100
frequency_Hz = 5000
voltage_V = {voltage}
[mesh]
size_mm = {size}
cache = {cache}
accuracy = 0
[solver]
max_iterations = {max_iterations}
rtol = {rtol}
"""


def scenario(tmp_path: Path, name="plates", voltage=400, size=2.0, cache="false", max_iterations=50,
             rtol=1e-8, file="s.toml") -> Path:
    p = tmp_path / file
    p.write_text(PLATES.format(name=name, voltage=voltage, size=size, cache=cache,
                               max_iterations=max_iterations, rtol=rtol), encoding="utf-8")
    return p


def leftovers(where: Path) -> list[str]:
    """Hidden partial/old directories that an interrupted or failed run might leave."""
    return sorted(p.name for p in where.rglob(".*") if ".partial-" in p.name or ".old-" in p.name)


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if not ln.startswith("[")]   # drop progress lines
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ----------------------------------------------------------------------------- atomic output
def test_atomic_directory_all_or_nothing(tmp_path):
    out = tmp_path / "o"
    with pytest.raises(RuntimeError):
        with atomic_directory(out) as tmp:
            (tmp / "report.json").write_text("{}")
            assert tmp.parent == out.parent and tmp.name.startswith(".o.partial-")
            assert not out.exists()
            raise RuntimeError("boom")
    assert not out.exists() and leftovers(tmp_path) == []
    with pytest.raises(KeyboardInterrupt):
        with atomic_directory(out) as tmp:
            (tmp / "report.json").write_text("{}")
            raise KeyboardInterrupt
    assert not out.exists() and leftovers(tmp_path) == []
    with atomic_directory(out) as tmp:
        (tmp / "report.json").write_text('{"v": 1}')
    assert json.loads((out / "report.json").read_text()) == {"v": 1} and leftovers(tmp_path) == []
    # an existing output: refused without force; with force replaced only on success
    with pytest.raises(ScenarioError, match="--force"):
        with atomic_directory(out):
            pass
    with pytest.raises(RuntimeError):
        with atomic_directory(out, force=True) as tmp:
            (tmp / "report.json").write_text('{"v": 2}')
            raise RuntimeError("boom")
    assert json.loads((out / "report.json").read_text()) == {"v": 1} and leftovers(tmp_path) == []
    with atomic_directory(out, force=True) as tmp:
        (tmp / "report.json").write_text('{"v": 2}')
    assert json.loads((out / "report.json").read_text()) == {"v": 2} and leftovers(tmp_path) == []


def test_atomic_directory_interrupted_mid_swap_keeps_old(tmp_path, monkeypatch):
    out = tmp_path / "o"
    with atomic_directory(out) as tmp:           # an earlier epsim output (with its marker)
        (tmp / "report.json").write_text('{"v": 1}')
    real = os.replace
    calls = []

    def flaky(a, b):
        calls.append((a, b))
        if len(calls) == 2:                     # after old -> trash, before tmp -> out
            raise KeyboardInterrupt
        return real(a, b)
    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(KeyboardInterrupt):
        with atomic_directory(out, force=True) as tmp:
            (tmp / "report.json").write_text('{"v": 2}')
    assert json.loads((out / "report.json").read_text()) == {"v": 1}
    assert leftovers(tmp_path) == []


def test_force_never_replaces_a_foreign_directory(tmp_path):
    d = tmp_path / "home"
    d.mkdir()
    (d / "thesis.tex").write_text("precious")
    with pytest.raises(ScenarioError, match="epsim did not write it; epsim replaces only directories it wrote"):
        check_target(d, force=True)
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ScenarioError, match="not a directory"):
        check_target(f, force=True)
    with pytest.raises(ScenarioError, match="not a directory"):
        check_target(f / "sub" / "out", force=False)


# ----------------------------------------------------------------------------- runs
def _run(argv, capsys) -> tuple[int, str, str]:
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_run_force_and_determinism(tmp_path, capsys):
    """Two runs of one scenario (no mesh cache): identical report (timings aside) and field."""
    s = scenario(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    code, _, err = _run(["run", str(s), "--out", str(a), "--quiet", "--no-figures"], capsys)
    assert code == 0, err
    code, _, err = _run(["run", str(s), "--out", str(b), "--quiet", "--no-figures"], capsys)
    assert code == 0, err
    ra, rb = (json.loads((d / "report.json").read_text()) for d in (a, b))
    assert ra["solver"]["converged"] is True
    for r in (ra, rb):
        r.pop("timings_s")
        r["solver"].pop("mesh_from_cache")
    assert ra == rb
    assert (a / "field.vtu").read_bytes() == (b / "field.vtu").read_bytes()
    assert leftovers(tmp_path) == []
    # existing output: refused without --force (one line, untouched), replaced with it
    before = (a / "report.json").stat().st_mtime_ns
    code, out, err = _run(["run", str(s), "--out", str(a), "--quiet", "--no-figures"], capsys)
    assert code == 2 and out == ""
    assert one_line(err).startswith("epsim: error: --out: ") and "--force" in err
    assert (a / "report.json").stat().st_mtime_ns == before
    code, _, err = _run(["run", str(s), "--out", str(a), "--quiet", "--no-figures", "--force"], capsys)
    assert code == 0, err
    assert leftovers(tmp_path) == []


def test_non_convergence_exits_3(tmp_path, capsys):
    """max_iterations = 1 with a tiny rtol on a scenario across the thresholds: exit 3, one
    line with the iterations and the residual, nothing written."""
    s = scenario(tmp_path, voltage=300, max_iterations=1, rtol=1e-14)
    out = tmp_path / "o"
    code, stdout, err = _run(["run", str(s), "--out", str(out), "--quiet"], capsys)
    assert code == 3, err
    line = one_line(err)
    assert re.search(r"did not converge after 1 iterations \(residual \d\.\d+e[-+]\d+\)", line), line
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_in_solution_is_an_error(tmp_path, capsys, monkeypatch):
    """A conductivity law gone NaN must not produce a report: ConvergenceError, exit 3."""
    import simulator.solve.pipeline as pipeline
    real = pipeline.cell_law

    def poisoned(mesh, sc):                     # the law's data, whatever evaluates it
        law, rho_c, alpha = real(mesh, sc)
        sigma1 = np.array(law.sigma1)           # uniform parameters are read-only views
        sigma1[::7] = np.nan
        return dataclasses.replace(law, sigma1=sigma1), rho_c, alpha
    monkeypatch.setattr(pipeline, "cell_law", poisoned)
    s = scenario(tmp_path)
    out = tmp_path / "o"
    code, _, err = _run(["run", str(s), "--out", str(out), "--quiet"], capsys)
    assert code == 3, err
    assert "did not converge" in one_line(err)
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_in_linear_solve_raises(monkeypatch):
    """The engine's linear solve itself refuses NaN (not only the nonlinear loop)."""
    from simulator.engines import SolverSettings, create_engine
    from simulator.meshing.build import build_mesh
    from simulator.scenario import load_scenario
    from simulator.solve.train import configuration_of
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        sc = load_scenario(scenario(Path(d)))
    mesh = build_mesh(sc)
    eng = create_engine("embedded", mesh, SolverSettings())
    cfg = configuration_of(sc.protocol.groups[0], tuple(sc.electrode.contact_names), "floating")
    sigma = np.full(mesh.num_cells, 0.1)
    sigma[::5] = np.nan
    with pytest.raises(ConvergenceError):
        eng.solve_linear(cfg, sigma)
    sigma[::5] = np.inf
    with pytest.raises(ConvergenceError):
        eng.solve_linear(cfg, sigma)


def test_unconverged_solution_never_reported(tmp_path, capsys, monkeypatch):
    """An engine that returns converged = False (instead of raising) must not yield a report."""
    from simulator.engines.embedded import EmbeddedEngine
    real = EmbeddedEngine.solve_stationary

    def lazy(self, *a, **k):
        sol = real(self, *a, **k)
        sol.converged = False
        return sol
    monkeypatch.setattr(EmbeddedEngine, "solve_stationary", lazy)
    s = scenario(tmp_path)
    out = tmp_path / "o"
    code, _, err = _run(["run", str(s), "--out", str(out), "--quiet", "--no-figures"], capsys)
    assert code == 3, err
    assert not out.exists()


# ----------------------------------------------------------------------------- resources
def test_memory_guard(tmp_path, capsys):
    s = scenario(tmp_path, size=1.0)
    out = tmp_path / "o"
    code, _, err = _run(["run", str(s), "--out", str(out), "--quiet", "--max-memory", "0.001"], capsys)
    assert code == 2
    line = one_line(err)
    assert line.startswith("epsim: error: mesh.size_mm: ") and "--max-memory 0.001 GB" in line, line
    assert not out.exists() and leftovers(tmp_path) == []
    # a limit that holds half of this mesh: the message suggests a size, and that size fits
    from simulator.meshing.build import build_mesh
    from simulator.engines.resources import BASELINE_BYTES, BYTES_PER_CELL
    from simulator.scenario import load_scenario
    cells = build_mesh(load_scenario(s)).num_cells
    limit = f"{(BASELINE_BYTES + 0.5 * BYTES_PER_CELL[1] * cells) / 1e9:.6f}"
    code, _, err = _run(["run", str(s), "--out", str(out), "--quiet", "--max-memory", limit], capsys)
    assert code == 2
    m = re.search(r"mesh\.size_mm >= ([0-9.]+) would fit", one_line(err))
    assert m, err
    s2 = scenario(tmp_path, size=float(m.group(1)), file="s2.toml")
    code, _, err = _run(["run", str(s2), "--out", str(out), "--quiet", "--no-figures", "--max-memory", limit],
                        capsys)
    assert code == 0, err


def test_unmeshable_geometry_is_one_line(tmp_path, capsys, monkeypatch):
    """When gmsh fails, the user sees one geometry error naming the parts (exit 2)."""
    import gmsh

    def broken(dim=3):
        raise Exception("Invalid boundary mesh (overlapping facets) on surface 12 surface 14")
    monkeypatch.setattr(gmsh.model.mesh, "generate", broken)
    s = scenario(tmp_path)
    out = tmp_path / "o"
    code, _, err = _run(["run", str(s), "--out", str(out), "--quiet"], capsys)
    assert code == 2, err
    line = one_line(err)
    assert line.startswith("epsim: error: ") and "gmsh could not mesh" in line
    assert "tumour" in line or "plate" in line, line
    assert not out.exists()


# ----------------------------------------------------------------------------- security
@pytest.mark.parametrize("name", ["../../etc/x", "/abs", "a/b", "..", "~root", "C:\\evil"])
def test_name_never_escapes_the_output_directory(name, tmp_path, monkeypatch, capsys):
    slug = safe_name(name)
    assert slug and "/" not in slug and "\\" not in slug and not slug.startswith(".")
    assert (Path("out") / slug).resolve().parent == Path("out").resolve()
    if name not in ("../../etc/x", "/abs"):
        return                                   # the rest is the same code path
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    s = scenario(tmp_path, name=name.replace("\\", "\\\\"))
    code, _, err = _run(["run", str(s), "--quiet", "--no-figures"], capsys)
    assert code == 0, err
    made = [p for p in tmp_path.rglob("report.json")]
    assert len(made) == 1 and made[0].parent.parent == work / "out", made


def test_toml_is_data_only(tmp_path, monkeypatch):
    """Nothing in a scenario is evaluated: an expression is just a (refused or kept) string."""
    from simulator.scenario import load_scenario
    monkeypatch.chdir(tmp_path)
    p = scenario(tmp_path, name="__import__('os').system('touch pwned')")
    assert load_scenario(p).name.startswith("__import__")
    p.write_text(p.read_text().replace("voltage_V = 400", 'voltage_V = "__import__(\'os\').getpid()"'))
    with pytest.raises(ScenarioError, match="voltage_V"):
        load_scenario(p)
    assert not (tmp_path / "pwned").exists()


# ----------------------------------------------------------------------------- signals
def _interrupt(tmp_path: Path, sig: int, when: str) -> tuple[int, str]:
    """Run a scenario whose solve takes several seconds in a subprocess; send ``sig`` once the
    progress line ``when`` appears on stderr. Returns (exit code, stderr)."""
    s = scenario(tmp_path, size=0.2, voltage=400, cache="true")     # ~1 s to mesh, ~2 s to solve
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               EPSIM_CACHE_DIR=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "run", str(s), "--out", str(tmp_path / "o")],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=tmp_path, env=env,
                            preexec_fn=default_signals)
    err = []
    deadline = time.monotonic() + 120
    try:
        for line in proc.stderr:
            err.append(line)
            if when in line:
                time.sleep(0.05)            # inside the phase named by the progress line
                proc.send_signal(sig)
                break
            assert time.monotonic() < deadline, "".join(err)
        else:
            pytest.fail(f"progress line {when!r} never appeared:\n{''.join(err)}")
        _, rest = proc.communicate(timeout=120)
        err.append(rest or "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, "".join(err)


@pytest.mark.parametrize("sig, code, when", [
    (signal.SIGINT, 130, "meshing: volumes"),
    (signal.SIGTERM, 143, "meshing: volumes"),
    (signal.SIGINT, 130, "nonlinear solve"),
    (signal.SIGTERM, 143, "nonlinear solve"),
], ids=["SIGINT-meshing", "SIGTERM-meshing", "SIGINT-solving", "SIGTERM-solving"])
def test_interrupt_leaves_nothing(sig, code, when, tmp_path):
    rc, err = _interrupt(tmp_path, sig, when)
    assert rc == code, err
    assert "Traceback" not in err
    assert ("interrupted" if sig == signal.SIGINT else "terminated") in err.splitlines()[-1]
    assert not (tmp_path / "o").exists()
    assert leftovers(tmp_path) == []
    cache = tmp_path / "cache"
    if cache.exists():                          # no half-written cache entry either
        names = [p.name for p in cache.rglob("*")]
        assert not any("partial" in n or n.endswith(".tmp") for n in names), names


def test_interrupt_while_importing_is_one_line_exit_130(tmp_path):
    """Ctrl-C in the first second, while the command is still importing numpy, gmsh and
    matplotlib: deferred to the end of the imports (cli.exits.defer_interrupts), then one
    line and exit 130, never a traceback or a broken half-imported module."""
    s = scenario(tmp_path, size=0.2, voltage=400, cache="true")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               EPSIM_CACHE_DIR=str(tmp_path / "cache"))
    for delay in (0.15, 0.4):
        proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "run", str(s), "--out", str(tmp_path / "o")],
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=tmp_path, env=env,
                                preexec_fn=default_signals)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, (delay, err)
        assert "Traceback" not in err and err.strip().splitlines()[-1] == "epsim: interrupted; nothing written", err
        assert not (tmp_path / "o").exists()


def test_deferred_interrupt_is_raised_when_allowed():
    from simulator.cli.exits import allow_interrupts, defer_interrupts
    defer_interrupts()
    try:
        os.kill(os.getpid(), signal.SIGINT)         # recorded, not raised
        time.sleep(0.01)
    except KeyboardInterrupt:                       # pragma: no cover - the bug this guards
        allow_interrupts()
        pytest.fail("SIGINT was raised while deferred")
    with pytest.raises(KeyboardInterrupt):
        allow_interrupts()
    allow_interrupts()                              # no-op once restored
