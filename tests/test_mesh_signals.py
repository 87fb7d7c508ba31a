"""SIGINT / SIGTERM end a run promptly while gmsh meshes (issue 10, item 6), and the mesh
built in the child process is the one an in-process build gives."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from terminal import default_signals

from simulator.meshing.build import build_mesh
from simulator.meshing.child import build_mesh_isolated
from simulator.meshing.inputs import mesh_input
from simulator.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]

LONG_MESH = """\
name = "long-mesh"
[tissue]
size_mm = [40, 40, 25]
[[tumours]]
diameter_mm = 10
depth_mm = 8
[electrode]
type = "hexagonal"
[protocol]
voltage_V = 730
[mesh]
size_mm = 0.25
"""


def test_child_mesh_is_bit_identical_to_an_in_process_build():
    sc = scenario_from_dict({"tissue": {"size_mm": [16, 16, 8]}, "tumours": [{"diameter_mm": 3, "depth_mm": 3}],
                             "electrode": {"type": "needle-pair", "spacing_mm": 6, "insertion_depth_mm": 5},
                             "protocol": {"voltage_V": 100}, "mesh": {"size_mm": 2.0, "cache": False}})
    said = []
    before = {c.pid for c in psutil.Process().children()}  # other tests' helpers (xdist worker)
    isolated = build_mesh_isolated(mesh_input(sc), said.append)
    assert isolated.digest() == build_mesh(sc).digest()
    assert "meshing: volumes" in said and said[-1].startswith("meshing: ")
    assert not {c.pid for c in psutil.Process().children()} - before   # the child was reaped


def test_child_errors_arrive_as_one_line_input_errors():
    from simulator.errors import GeometryError
    sc = scenario_from_dict({"tissue": {"size_mm": [16, 16, 8]},
                             "electrode": {"type": "needle-pair", "spacing_mm": 6, "insertion_depth_mm": 5},
                             "protocol": {"voltage_V": 100}, "mesh": {"size_mm": 2.0, "cache": False}})
    mi = mesh_input(sc)
    import dataclasses
    outside = dataclasses.replace(mi.contacts[1], position=(0.03, 0.0))      # not in the block
    with pytest.raises(GeometryError) as info:
        build_mesh_isolated(dataclasses.replace(mi, contacts=(mi.contacts[0], outside)))
    assert info.value.field == "electrode" and "B" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["TERM", "INT"])
def test_a_signal_during_meshing_ends_the_run_within_5_s(sig, code, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(LONG_MESH)
    cache = tmp_path / "cache"
    env = dict(os.environ, PYTHONPATH=str(ROOT), EPSIM_CACHE_DIR=str(cache), EPSIM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "run", str(path), "--out", str(tmp_path / "o")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
                            preexec_fn=default_signals)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "meshing: surfaces" in line or not line:
                break
        assert "meshing: surfaces" in lines[-1], "".join(lines)
        time.sleep(1.0)                                      # gmsh is now deep in its C++ code
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "meshing should run in a child process"
        t0 = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    assert elapsed < 5.0, elapsed
    assert "nothing written" in err and "Traceback" not in err
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
    assert not (tmp_path / "o").exists()
    assert not cache.exists() or not any(cache.iterdir())
