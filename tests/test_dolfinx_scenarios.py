"""DOLFINx engine on whole scenarios: agreement with the embedded engine, MPI runs, XDMF.

Marked ``dolfinx``: skipped where DOLFINx is not importable, a failure in CI
(EPSIM_REQUIRE_DOLFINX=1).
"""
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from simulator.cli import main
from simulator.meshing.build import build_mesh
from simulator.solve.pipeline import run
from simulator.scenario import scenario_from_dict

try:
    import dolfinx  # noqa: F401
    HAVE_DOLFINX = True
except Exception:
    HAVE_DOLFINX = False

pytestmark = [pytest.mark.dolfinx, pytest.mark.skipif(not HAVE_DOLFINX, reason="DOLFINx is not importable")]
ROOT = Path(__file__).resolve().parents[1]

SCENARIOS = {
    "needle-pair": {
        "tissue": {"size_mm": [24, 24, 16]},
        "tumours": [{"diameter_mm": 5, "depth_mm": 5}],
        "electrode": {"type": "needle-pair", "spacing_mm": 7.3, "insertion_depth_mm": 10},
        "protocol": {"preset": "esope"},
        "mesh": {"size_mm": 1.5, "contact_size_mm": 0.4, "cache": False},
    },
    "hexagonal": {
        "tissue": {"size_mm": [30, 30, 16]},
        "tumours": [{"diameter_mm": 8, "depth_mm": 5}],
        "electrode": {"type": "hexagonal", "insertion_depth_mm": 10},
        "protocol": {"preset": "esope", "pulses": 1},
        "mesh": {"size_mm": 2.0, "contact_size_mm": 0.5, "cache": False},
    },
    "plates": {
        "tissue": {"size_mm": [24, 20, 12]},
        "tumours": [{"diameter_mm": 5, "depth_mm": 3.5}],
        "electrode": {"type": "plates", "gap_mm": 8, "length_mm": 10, "depth_mm": 6},
        "protocol": {"preset": "esope"},
        "mesh": {"size_mm": 1.0, "cache": False},
    },
}


def figures(res) -> dict[str, float]:
    v = res.volumes
    return {"current": max(abs(g.current) for g in res.train.groups), "reversible": v["reversible"],
            "irreversible": v["irreversible"], "coverage": res.tumours[0].reversible_fraction}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_embedded_and_dolfinx_agree_on_the_same_mesh(name, capsys):
    sc = scenario_from_dict({"name": name, **SCENARIOS[name]})
    mesh = build_mesh(sc)
    a = figures(run(sc, mesh=mesh, engine="embedded"))
    b = figures(run(sc, mesh=mesh, engine="dolfinx"))
    with capsys.disabled():
        print(f"\n{name}: " + ", ".join(f"{k} {a[k]:.6g} vs {b[k]:.6g} ({abs(b[k] / a[k] - 1):.2e})" for k in a))
    for key in a:
        assert b[key] == pytest.approx(a[key], rel=1e-10), key     # README: 1e-10 on the same mesh


def _read_xdmf(path: Path) -> dict[str, np.ndarray]:
    """Parse our XDMF (raw little-endian binary DataItems) back into arrays."""
    out = {}
    for item in ET.parse(path).getroot().iter("DataItem"):
        dims = tuple(int(d) for d in item.attrib["Dimensions"].split())
        dtype = "<f8" if item.attrib["NumberType"] == "Float" else "<i8"
        out[item.text.split(".")[-2]] = np.fromfile(path.parent / item.text, dtype=dtype).reshape(dims)
    return out


def _mpirun() -> list[str] | None:
    exe = shutil.which("mpirun")
    return None if exe is None else [exe, "--allow-run-as-root", "--oversubscribe"]


def test_mpi_two_ranks_same_report_and_xdmf(tmp_path):
    mpirun = _mpirun()
    if mpirun is None:
        pytest.skip("no mpirun")
    scen = tmp_path / "pair.toml"
    # the mesh cache (private to this test) lets the 2-rank run reuse the 1-rank run's mesh
    scen.write_text((ROOT / "examples" / "needle_pair.toml").read_text().replace("[mesh]", "[mesh]\naccuracy = 0"))
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               EPSIM_CACHE_DIR=str(tmp_path / "cache"))
    reports = {}
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        cmd = mpirun + ["-n", str(n), sys.executable, "-m", "simulator.cli", "run", str(scen), "--engine", "dolfinx",
                        "--out", str(out), "--quiet", "--no-figures"]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                              stdin=subprocess.DEVNULL)   # mpirun forwards stdin to rank 0
        assert proc.returncode in (0, 1), proc.stderr
        assert proc.stdout.count("verdict:") == 1, "only rank 0 prints the summary"
        reports[n] = json.loads((out / "report.json").read_text())
        assert reports[n]["solver"]["mesh_from_cache"] is (n == 2)
        arrays = _read_xdmf(out / "field.xdmf")
        assert arrays["topology"].shape == (reports[n]["solver"]["cells"], 4)
        assert np.isclose(arrays["E_max_V_per_cm"].max(), reports[n]["max_field_V_per_cm"], rtol=1e-5)
    r1, r2 = reports[1], reports[2]
    assert r1["solver"]["dofs"] == r2["solver"]["dofs"]
    assert r2["pulses"][0]["current_A"] == pytest.approx(r1["pulses"][0]["current_A"], rel=1e-6)
    for key in ("reversible", "irreversible", "tumour"):
        assert r2["volumes_mm3"][key] == pytest.approx(r1["volumes_mm3"][key], rel=1e-6)
    assert r2["coverage"] == r1["coverage"]


def test_cli_engine_dolfinx_writes_xdmf(tmp_path):
    out = tmp_path / "o"
    (tmp_path / "pair.toml").write_text((ROOT / "examples" / "needle_pair.toml").read_text().replace("[mesh]", "[mesh]\naccuracy = 0"))
    code = main(["run", str(tmp_path / "pair.toml"), "--engine", "dolfinx", "--out", str(out),
                 "--quiet", "--no-figures"])
    assert code in (0, 1)
    rep = json.loads((out / "report.json").read_text())
    assert rep["solver"]["engine"] == "dolfinx" and rep["solver"]["converged"] is True
    arrays = _read_xdmf(out / "field.xdmf")
    assert arrays["geometry"].shape[1] == 3 and arrays["state"].max() == 2
