"""Nothing lost, nothing half-written, nothing left behind (issue 10, output side).

- ``--force`` replaces only a folder epsim wrote (its ``.epsim-output`` marker and only the
  files the marker lists): never a user's folder, never a symbolic link or ``.``;
- two runs writing one ``--out`` at once (two real processes): one wins, the other exits 2;
- a disk that fills while writing is one line "no space left", exit 2, nothing written and
  the parent folders the run created removed;
- report.json is strict JSON (never NaN / Infinity), the summary copes with the nulls;
- names with ``$`` (matplotlib mathtext) are drawn literally;
- leftovers of a SIGKILLed run (hidden partial folders, cache temp files) are removed by the
  next run once their owner is dead; nothing else is touched.

One tiny clamped-plate scenario (405 cells) is solved once for the module.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from simulator.cli import main
from simulator.errors import ScenarioError
from simulator.leftovers import MAX_AGE_S
from simulator.output import write_outputs
from simulator.output.report import build_report, summary_table
from simulator.output.target import MARKER, MARKER_FORMAT

ROOT = Path(__file__).resolve().parents[1]
NAME = "cost $\\frac{$ 50%"        # malformed mathtext: matplotlib raised after the whole solve
TUMOUR = "T$_$"

PLATES = """\
name = "{name}"
[tissue]
size_mm = [8, 10, 6]
layers = [ {{ material = "muscle" }} ]
[[tumours]]
name = "{tumour}"
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
voltage_V = 400
[mesh]
size_mm = 2.0
cache = {cache}
accuracy = 0
"""


def write_scenario(where: Path, name: str = "plates", tumour: str = "T1", cache: str = "false") -> Path:
    p = where / "s.toml"
    p.write_text(PLATES.format(name=name.replace("\\", "\\\\"), tumour=tumour, cache=cache), encoding="utf-8")
    return p


def hidden(where: Path) -> list[str]:
    return sorted(p.name for p in where.iterdir() if p.name.startswith("."))


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if not ln.startswith("[")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    from simulator import load_scenario, run
    os.environ.setdefault("EPSIM_THREADS", "1")
    return run(load_scenario(write_scenario(tmp_path_factory.mktemp("sc"), NAME, TUMOUR)))


# ----------------------------------------------------------------------------- --force
def test_force_never_replaces_a_folder_epsim_did_not_write(tmp_path, capsys):
    """The attack: a folder with report.json, thesis.tex and src/ is not an epsim output."""
    s = write_scenario(tmp_path)
    p = tmp_path / "p"
    (p / "src").mkdir(parents=True)
    (p / "report.json").write_text("{}")
    (p / "thesis.tex").write_text("precious")
    code = main(["run", str(s), "--out", str(p), "--force", "--quiet", "--no-figures"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--out: " in one_line(err) and "epsim did not write it" in err
    assert sorted(x.name for x in p.iterdir()) == ["report.json", "src", "thesis.tex"]
    assert (p / "thesis.tex").read_text() == "precious"


def test_force_replaces_only_the_files_epsim_wrote(result, tmp_path):
    out = tmp_path / "o"
    files = write_outputs(result, out, figures=False)
    marker = json.loads((out / MARKER).read_text())
    assert marker == {"format": MARKER_FORMAT, "files": sorted(f.name for f in files)}
    assert sorted(os.listdir(out)) == sorted([MARKER] + marker["files"])
    (out / "notes.txt").write_text("mine")                   # a file the user added
    with pytest.raises(ScenarioError, match=r"holds 'notes.txt', which epsim did not write"):
        write_outputs(result, out, force=True, figures=False)
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    (out / "report.json").unlink()
    (out / "report.json").mkdir()                           # a listed name, but not the file epsim wrote
    with pytest.raises(ScenarioError, match="not the regular file epsim wrote"):
        write_outputs(result, out, force=True, figures=False)
    (out / "report.json").rmdir()
    (out / MARKER).write_text('{"format": "something-else/9", "files": []}')
    with pytest.raises(ScenarioError, match="no .epsim-output marker"):
        write_outputs(result, out, force=True, figures=False)
    (out / MARKER).write_text(json.dumps(marker))
    write_outputs(result, out, force=True, figures=False)    # epsim's own output: replaced
    assert json.loads((out / "report.json").read_text())["name"] == NAME
    assert hidden(tmp_path) == []


def test_symlinks_and_current_directory_refused(result, tmp_path, monkeypatch, capsys):
    real = tmp_path / "real"
    write_outputs(result, real, figures=False)
    before = sorted(os.listdir(real))
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(ScenarioError, match=r"is a symbolic link \(to '.*real'\); epsim does not replace links"):
        write_outputs(result, link, force=True, figures=False)
    assert link.is_symlink() and sorted(os.listdir(real)) == before
    assert hidden(tmp_path) == []                            # no .link.old-* left
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(ScenarioError, match="is a dangling symbolic link"):
        write_outputs(result, dangling, figures=False)
    assert dangling.is_symlink() and not (tmp_path / "nowhere").exists()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for arg in (".", "./", "..", "sub/..", str(work)):
        with pytest.raises(ScenarioError, match="is the current directory or contains it"):
            write_outputs(result, Path(arg), force=True, figures=False)
    assert os.listdir(work) == []


def test_out_name_too_long_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """240 bytes fit the file system (255) but not with epsim's temporary ``.NAME.partial-...``."""
    import simulator.solve.pipeline as pipeline

    def no_solve(*a, **k):
        raise AssertionError("meshed or solved before checking --out")
    monkeypatch.setattr(pipeline, "run", no_solve)
    s = write_scenario(tmp_path)
    for name in ("x" * 240, "y" * 300, "new/" + "z" * 250):
        code = main(["run", str(s), "--out", str(tmp_path / name), "--quiet"])
        err = capsys.readouterr().err
        assert code == 2, err
        assert one_line(err).startswith("epsim: error: --out: the name ") and "too long" in err
    assert sorted(os.listdir(tmp_path)) == ["s.toml"]


# ----------------------------------------------------------------------------- disk full
def test_disk_full_is_one_line_and_removes_created_parents(result, tmp_path, capsys, monkeypatch):
    import simulator.output.writer as writer

    def full_disk(res, path):
        Path(path).write_bytes(b"<VTKFile")                  # part written, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    monkeypatch.setattr(writer, "write_field", full_disk)
    out = tmp_path / "new1" / "new2" / "o"
    with pytest.raises(ScenarioError, match=r"--out: cannot write .*\(field.vtu\): no space left"):
        write_outputs(result, out, figures=False)
    assert os.listdir(tmp_path) == []                        # new1/new2 created by the run: removed
    # the CLI: exit 2, one line, nothing written (an existing parent is kept)
    (tmp_path / "keep").mkdir()
    s = write_scenario(tmp_path)
    code = main(["run", str(s), "--out", str(tmp_path / "keep" / "o"), "--quiet", "--no-figures"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "no space left" in one_line(err)
    assert sorted(os.listdir(tmp_path)) == ["keep", "s.toml"] and os.listdir(tmp_path / "keep") == []


# ----------------------------------------------------------------------------- strict JSON
def _strict(text: str):
    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=refuse)


def test_report_is_strict_json_with_nulls_for_non_finite(result, tmp_path):
    train = dataclasses.replace(result.train, temperature_rise=np.full_like(result.train.temperature_rise, np.inf))
    bad = dataclasses.replace(result, train=train)
    out = tmp_path / "o"
    write_outputs(bad, out, figures=False)
    report = _strict((out / "report.json").read_text())
    assert report["max_temperature_rise_K"] is None
    assert any("max_temperature_rise_K = inf" in w for w in report["warnings"])
    assert report["max_field_V_per_cm"] > 0                  # the finite values are untouched
    text = summary_table(build_report(bad))
    assert "hottest point n/a C" in text               # the thermal line (issue 12) replaced "max dT"


# ----------------------------------------------------------------------------- names in figures
def test_names_with_dollar_are_drawn_literally(result, tmp_path):
    files = write_outputs(result, tmp_path / "o")           # scenario and tumour names hold '$'
    pngs = sorted(f.name for f in files if f.suffix == ".png")
    assert pngs == ["coverage.png", "field_xy.png", "field_xz.png", "state_xy.png", "state_xz.png"]
    assert all((tmp_path / "o" / p).stat().st_size > 20_000 for p in pngs)
    from matplotlib.figure import Figure
    from matplotlib.text import Text
    from simulator.output.figures import literal
    for name in (NAME, TUMOUR, "$x$", "a\\$b", "\\", "$$", "100 % $"):
        shown, is_math = Text(text=literal(name))._preprocess_math(literal(name))
        assert (shown, is_math) == (name, False)
        fig = Figure()                                       # mixed with mathtext, as in the titles
        fig.text(0.1, 0.5, f"{literal(name)}: 99 % $\\geq E_\\mathrm{{rev}}$")
        fig.canvas.draw()


# ----------------------------------------------------------------------------- leftovers
KILLED_WRITE = """
import os, signal, sys
from pathlib import Path
from simulator.output import atomic_directory
with atomic_directory(Path(sys.argv[1])) as tmp:
    (tmp / "report.json").write_text("{}")
    os.kill(os.getpid(), signal.SIGKILL)
"""

KILLED_CACHE = """
import os, signal, sys
from pathlib import Path
import numpy as np
import simulator.meshing.cache as cache
from simulator.meshing.mesh import Mesh, Region

def killed(f, **arrays):
    f.write(b"PK" + bytes(100))
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
cache.np.savez = killed
mesh = Mesh(np.eye(4, 3), np.array([[0, 1, 2, 3]], dtype=np.int32), np.zeros(1, dtype=np.int32),
            (Region("muscle", "layer", "muscle", 0),), {})
cache.save_mesh(mesh, Path(sys.argv[1]) / ("mesh-" + "0" * 32 + ".npz"), "k")
"""


def _killed(code: str, arg: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code, str(arg)], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def test_sigkilled_write_leftovers_are_cleaned_by_the_next_run(result, tmp_path):
    _killed(KILLED_WRITE, tmp_path / "o")
    left = hidden(tmp_path)
    assert len(left) == 1 and left[0].startswith(".o.partial-"), left   # what a SIGKILL leaves
    # other hidden things: a live run's partial (this process), an old-format one (fresh
    # and 7 h old), a link and a user's folder with a look-alike name: only stale ones go
    (tmp_path / f".q.partial-{os.getpid()}-0123abcd").mkdir()
    (tmp_path / ".r.partial-0123abcd").mkdir()
    aged = tmp_path / ".s.old-89abcdef"
    aged.mkdir()
    t = time.time() - MAX_AGE_S - 60
    os.utime(aged, (t, t))
    (tmp_path / ".t.partial-1-0123abcd").symlink_to(tmp_path / "nowhere")
    (tmp_path / ".u.partial-xyz").mkdir()
    write_outputs(result, tmp_path / "p", figures=False)
    assert hidden(tmp_path) == sorted([f".q.partial-{os.getpid()}-0123abcd", ".r.partial-0123abcd",
                                       ".t.partial-1-0123abcd", ".u.partial-xyz"])


def test_sigkilled_cache_write_is_cleaned_by_the_next_run(tmp_path, monkeypatch):
    from simulator import load_scenario
    from simulator.meshing.cache import cached_build_mesh
    cache = tmp_path / "cache"
    cache.mkdir()
    _killed(KILLED_CACHE, cache)
    left = os.listdir(cache)
    assert len(left) == 1 and left[0].endswith(".tmp"), left
    (cache / "notes.tmp").write_text("not epsim's")
    monkeypatch.setenv("EPSIM_CACHE_DIR", str(cache))
    mesh, hit = cached_build_mesh(load_scenario(write_scenario(tmp_path, cache="true")))
    assert not hit and mesh.num_cells > 0
    names = sorted(os.listdir(cache))
    assert "notes.tmp" in names and not any(n.startswith("mesh-") and n.endswith(".tmp") for n in names)
    assert len([n for n in names if n.endswith(".npz")]) == 1


def test_folder_made_meanwhile_by_a_program_that_does_not_lock_is_kept(tmp_path, monkeypatch):
    """Another program fills --out just before the final rename: refused, its file kept."""
    from simulator.output import atomic_directory
    out = tmp_path / "o"
    real = os.replace

    def sneaky(src, dst):
        if Path(dst) == out:
            out.mkdir()
            (out / "theirs.txt").write_text("theirs")
        return real(src, dst)
    monkeypatch.setattr(os, "replace", sneaky)
    with pytest.raises(ScenarioError, match="epsim did not write it; epsim replaces only directories it wrote"):
        with atomic_directory(out) as tmp:
            (tmp / "report.json").write_text("{}")
    assert os.listdir(out) == ["theirs.txt"] and hidden(tmp_path) == []


# ----------------------------------------------------------------------------- two processes
# the real CLI in each process, held at the start of writing until both got there (so both
# passed the early --out check and race for the rename: the case a check alone misses)
RACE = """
import os, sys, time
from pathlib import Path
import simulator.output as output
from simulator.cli import main
barrier, real = Path(sys.argv[1]), output.write_outputs

def write_together(*args, **kwargs):
    (barrier / str(os.getpid())).touch()
    deadline = time.time() + 120
    while len(os.listdir(barrier)) < 2 and time.time() < deadline:
        time.sleep(0.01)
    return real(*args, **kwargs)
output.write_outputs = write_together
sys.exit(main(sys.argv[2:]))
"""


def test_two_runs_one_out_the_second_is_refused(tmp_path):
    """Two processes write one --out at the same moment: without --force exactly one
    writes, the other exits 2; the output is one whole run's."""
    s = write_scenario(tmp_path)
    out, barrier = tmp_path / "o", tmp_path / "barrier"
    barrier.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT), EPSIM_THREADS="1")
    cmd = [sys.executable, "-c", RACE, str(barrier), "run", str(s), "--out", str(out), "--quiet", "--no-figures"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=240), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()
    assert len(os.listdir(barrier)) == 2                     # both reached the write
    codes = sorted(c for c, _ in results)
    assert codes == [0, 2], results
    err = next(e for c, e in results if c == 2)
    assert one_line(err).startswith("epsim: error: --out: ") and "--force" in err
    marker = json.loads((out / MARKER).read_text())
    assert sorted(os.listdir(out)) == sorted([MARKER] + marker["files"])
    assert _strict((out / "report.json").read_text())["solver"]["converged"] is True
    assert hidden(tmp_path) == []
