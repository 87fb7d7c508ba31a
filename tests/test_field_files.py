"""Field files read back through meshio (an independent reader): the VTU the CLI wrote for the
clamped-plates example (shared session run) and the XDMF (+ raw binary) of the same result.
Array names, shapes, units (coordinates in mm, E in V/cm) and physical ranges."""
import sys
import types

import numpy as np
import pytest

from simulator.units import MM, V_PER_CM

pytestmark = pytest.mark.xdist_group("example-plates_skin_fold")    # the run tests/example_runs.py shares
CELL_ARRAYS = {"E_max_V_per_cm", "sigma_S_per_m", "region", "state", "pulses_above_E_rev", "temperature_rise_K"}


@pytest.fixture(scope="module")
def plates(example_run):
    run = example_run("plates_skin_fold")
    assert run.code == 0, run.err
    return run


def check_field(m, result, report):
    mesh, sc = result.mesh, result.scenario
    M, N = mesh.num_cells, mesh.num_points
    assert m.points.shape == (N, 3)
    np.testing.assert_allclose(m.points * MM, mesh.points, rtol=0, atol=1e-12)     # written in mm
    assert [c.type for c in m.cells] == ["tetra"] and np.array_equal(m.cells[0].data, mesh.tets)
    cells = {k: v[0] for k, v in m.cell_data.items()}
    assert set(cells) == CELL_ARRAYS
    assert all(v.shape == (M,) for v in cells.values())
    E = cells["E_max_V_per_cm"]
    np.testing.assert_allclose(E, result.train.E_max.max(axis=1) / V_PER_CM, rtol=1e-12)
    assert E.max() == pytest.approx(report["max_field_V_per_cm"], rel=1e-5)
    # clamped plates, 1040 V over 8 mm: skin and fat far from the nodule see ~1300 V/cm
    assert np.median(E) == pytest.approx(1300.0, rel=0.05)
    sig = cells["sigma_S_per_m"]
    mats = [sc.materials[r.material] for r in mesh.regions]
    assert min(x.sigma0 for x in mats) * (1 - 1e-9) <= sig.min() and sig.max() <= max(x.sigma1 for x in mats) * (1 + 1e-9)
    assert set(np.unique(cells["region"])) == set(range(len(mesh.regions)))
    assert set(np.unique(cells["state"])) <= {0, 1, 2} and (cells["state"] == 2).any()
    assert cells["pulses_above_E_rev"].min() >= 0 and cells["pulses_above_E_rev"].max() == sc.protocol.total_pulses
    assert cells["temperature_rise_K"].min() >= 0
    assert cells["temperature_rise_K"].max() == pytest.approx(report["max_temperature_rise_K"], rel=1e-5)
    phi = m.point_data["potential_first_pulse_V"]
    assert phi.shape == (N,)
    U = sc.protocol.groups[0].voltage
    assert phi.min() == pytest.approx(0.0, abs=1e-9 * U) and phi.max() == pytest.approx(U, rel=1e-9)


def test_vtu_read_back(plates):
    import meshio
    check_field(meshio.read(plates.out_dir / "field.vtu"), plates.result, plates.report)


def test_xdmf_read_back(plates, tmp_path, monkeypatch):
    """The XDMF of the DOLFINx engine's outputs (written by hand, raw binary DataItems).
    meshio's reader imports h5py even for Binary items (not needed: stubbed) and resolves
    Binary paths against the working directory (so: read from the output directory)."""
    import meshio
    from simulator.output.fields import write_field
    write_field(plates.result, tmp_path / "field.xdmf")
    monkeypatch.setitem(sys.modules, "h5py", sys.modules.get("h5py") or types.ModuleType("h5py"))
    monkeypatch.chdir(tmp_path)
    check_field(meshio.read("field.xdmf"), plates.result, plates.report)
