"""DOLFINx engine: exact solutions, floating contacts, Newton, MPI, agreement with embedded.

Run with the system Python that has python3-dolfinx (see the venv notes in .ci); every
test but the "unavailable" one is skipped when DOLFINx cannot be imported.
"""
from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from simulator.physics.conductivity import CellConductivity
from simulator.engines.base import PulseConfiguration, SolverSettings
from simulator.errors import ConvergenceError, EngineUnavailableError

try:
    import dolfinx  # noqa: F401
    HAVE_DOLFINX = True
except Exception:
    HAVE_DOLFINX = False

needs_dolfinx = [pytest.mark.dolfinx,
                 pytest.mark.skipif(not HAVE_DOLFINX, reason="DOLFINx is not importable")]

S, A_R, H = 0.005, 0.0005, 0.001          # needle spacing (centre to centre), radius, slab
SIG, V = 0.2, 100.0


def exact_two_needles(sigma=SIG, voltage=V):
    return H * np.pi * sigma * voltage / np.arccosh(S / (2 * A_R))


def law_uniform(M, model, s0=0.2, s1=0.6, Er=4e4, Ei=8e4):
    return CellConductivity(np.full(M, s0), np.full(M, s1), np.full(M, Er), np.full(M, Ei),
                            np.zeros(M, dtype=np.int64), (model,))


def engine(mesh, degree, **kw):
    from simulator.engines.dolfinx.engine import DolfinxEngine
    return DolfinxEngine(mesh, SolverSettings(degree=degree, **kw))


@pytest.fixture(scope="module")
def plates():
    from gmsh_fixtures import plates_mesh
    return plates_mesh(d=0.01, Ly=0.006, Lz=0.004, h=0.0015)


@pytest.fixture(scope="module")
def needles_coarse():
    from gmsh_fixtures import needles_mesh
    return needles_mesh([("A", -S / 2, 0, A_R), ("B", S / 2, 0, A_R)], h=4e-4)


@pytest.fixture(scope="module")
def needles_fine():
    from gmsh_fixtures import needles_mesh
    return needles_mesh([("A", -S / 2, 0, A_R), ("B", S / 2, 0, A_R)], h=2e-4)


@pytest.fixture(scope="module")
def three_needles():
    from gmsh_fixtures import needles_mesh
    return needles_mesh([("A", -S / 2, 0, A_R), ("B", S / 2, 0, A_R), ("C", 0.0, 0.004, A_R),
                         ("D", 0.001, -0.005, A_R)], R=0.03, h=3e-4)


# ----------------------------------------------------------------------------- import
def test_unavailable_raises_engine_unavailable(monkeypatch):
    """Without dolfinx the import gives EngineUnavailableError naming solver.engine."""
    for mod in list(sys.modules):
        if mod.startswith("simulator.engines.dolfinx"):
            monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "dolfinx", None)
    with pytest.raises(EngineUnavailableError) as exc:
        importlib.import_module("simulator.engines.dolfinx.engine")
    assert exc.value.field == "solver.engine"
    assert "apt-get install python3-dolfinx" in str(exc.value)


# ----------------------------------------------------------------------------- plates
@pytest.mark.parametrize("degree", [1, 2])
def test_plates_constant_exact(plates, degree):
    if not HAVE_DOLFINX:
        pytest.skip("DOLFINx is not importable")
    d, area = 0.01, 0.006 * 0.004
    eng = engine(plates, degree)
    sol = eng.solve_linear(PulseConfiguration(("A",), ("B",), V), np.full((plates.num_cells, eng.Q), SIG))
    assert sol.E.shape == (plates.num_cells, 1 if degree == 1 else 4)
    np.testing.assert_allclose(sol.E, V / d, rtol=1e-7)
    assert sol.current == pytest.approx(SIG * area * V / d, rel=1e-8)
    np.testing.assert_allclose(sol.weights.sum(axis=1), plates.volumes(), rtol=1e-12)
    np.testing.assert_allclose(sol.potential, V * (1 - plates.points[:, 0] / d), atol=1e-6 * V)
    assert sol.converged and sol.dofs == eng.dofs


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("model", ["linear", "smoothstep", "sigmoid"])
def test_plates_nonlinear_exact(plates, degree, model):
    """E uniform => sigma uniform: the nonlinear solution is the linear one, exactly."""
    if not HAVE_DOLFINX:
        pytest.skip("DOLFINx is not importable")
    d, area, voltage = 0.01, 0.006 * 0.004, 550.0        # E = 55 kV/m inside [40, 80]
    law = law_uniform(plates.num_cells, model)
    eng = engine(plates, degree)
    sol = eng.solve_stationary(PulseConfiguration(("A",), ("B",), voltage), law)
    s_exact = float(law.sigma(np.full(plates.num_cells, voltage / d))[0])
    assert 0.2 < s_exact < 0.6
    np.testing.assert_allclose(sol.E, voltage / d, rtol=1e-6)
    np.testing.assert_allclose(sol.sigma, s_exact, rtol=1e-6)
    assert sol.current == pytest.approx(s_exact * area * voltage / d, rel=1e-6)
    assert sol.converged and sol.residual <= 1e-8


# ----------------------------------------------------------------------------- needles
def test_two_needles_exact_and_p2_better(needles_coarse, needles_fine, capsys):
    if not HAVE_DOLFINX:
        pytest.skip("DOLFINx is not importable")
    exact = exact_two_needles()
    cfg = PulseConfiguration(("A",), ("B",), V)
    err = {}
    for label, mesh in (("coarse", needles_coarse), ("fine", needles_fine)):
        for degree in (1, 2):
            eng = engine(mesh, degree)
            sol = eng.solve_linear(cfg, np.full((mesh.num_cells, eng.Q), SIG))
            err[label, degree] = sol.current / exact - 1.0
            # energy identity I V = int sigma |E|^2 (the residual current is consistent)
            energy = float(np.sum(sol.sigma * sol.E ** 2 * sol.weights))
            assert energy == pytest.approx(sol.current * V, rel=1e-8)
    order = {p: np.log2(abs(err["coarse", p]) / abs(err["fine", p])) for p in (1, 2)}
    with capsys.disabled():
        print(f"\n[dolfinx two needles] rel. current errors {err}; observed orders {order}")
    assert abs(err["fine", 1]) < 0.02 and abs(err["fine", 2]) < 0.01
    for label in ("coarse", "fine"):
        assert abs(err[label, 2]) < abs(err[label, 1])
    assert order[1] > 1.2 and order[2] > 1.2


def test_floating_contact(three_needles):
    if not HAVE_DOLFINX:
        pytest.skip("DOLFINx is not importable")
    mesh = three_needles
    eng = engine(mesh, 1)
    law = law_uniform(mesh.num_cells, "constant")
    cfg = PulseConfiguration(("A",), ("B",), V, floating=("C", "D"))
    sol = eng.solve_stationary(cfg, law)
    fc, fd = sol.floating_potentials["C"], sol.floating_potentials["D"]
    assert 0.0 < fc < V and 0.0 < fd < V
    assert fc == pytest.approx(V / 2, rel=0.01)          # C on the symmetry plane x = 0
    assert fd < V / 2 - 1.0                              # D nearer the cathode
    # all nodes of a floating contact carry its potential
    for name, val in (("C", fc), ("D", fd)):
        np.testing.assert_allclose(sol.potential[mesh.contact_nodes(name)], val, rtol=1e-12)
    cur = eng.contact_currents()
    assert cur["A"] == pytest.approx(sol.current, rel=1e-12)
    assert cur["B"] == pytest.approx(-sol.current, rel=1e-6)
    assert abs(cur["C"]) < 1e-6 * sol.current and abs(cur["D"]) < 1e-6 * sol.current
    energy = float(np.sum(sol.sigma * sol.E ** 2 * sol.weights))
    assert energy == pytest.approx(sol.current * V, rel=1e-7)
    # insulating instead of floating: different field, still conservative
    sol_ins = eng.solve_stationary(PulseConfiguration(("A",), ("B",), V), law)
    assert sol_ins.current < sol.current
    assert eng.contact_currents()["B"] == pytest.approx(-sol_ins.current, rel=1e-6)


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("model", ["linear", "smoothstep", "sigmoid"])
def test_newton_converges_fast(three_needles, degree, model):
    if not HAVE_DOLFINX:
        pytest.skip("DOLFINx is not importable")
    mesh = three_needles
    eng = engine(mesh, degree)
    law = law_uniform(mesh.num_cells, model)
    cfg = PulseConfiguration(("A",), ("B",), 500.0, floating=("C",))
    sol = eng.solve_stationary(cfg, law)
    assert sol.converged and 2 <= sol.nonlinear_iterations <= 8
    assert sol.residual <= 1e-8
    np.testing.assert_allclose(sol.sigma, np.maximum(law.sigma(sol.E), 0), rtol=1e-12)
    assert sol.sigma.max() > 0.3                           # some cells are electroporated
    energy = float(np.sum(sol.sigma * sol.E ** 2 * sol.weights))
    assert energy == pytest.approx(sol.current * 500.0, rel=1e-6)
    # restart from the solution: converged at once, same answer
    again = eng.solve_stationary(cfg, law, initial=sol)
    assert again.nonlinear_iterations <= 1
    assert again.current == pytest.approx(sol.current, rel=1e-8)


def test_floor_and_nonconvergence(three_needles):
    if not HAVE_DOLFINX:
        pytest.skip("DOLFINx is not importable")
    mesh = three_needles
    eng = engine(mesh, 1)
    law = law_uniform(mesh.num_cells, "smoothstep")
    cfg = PulseConfiguration(("A",), ("B",), 500.0)
    floor = np.full(mesh.num_cells, 0.7)                   # above sigma1: sigma = floor
    sol = eng.solve_stationary(cfg, law, sigma_floor=floor)
    lin = eng.solve_linear(cfg, np.full((mesh.num_cells, 1), 0.7))
    assert sol.current == pytest.approx(lin.current, rel=1e-8)
    np.testing.assert_allclose(sol.sigma, 0.7)
    strict = engine(mesh, 1, max_iterations=1)
    with pytest.raises(ConvergenceError) as exc:
        strict.solve_stationary(cfg, law)
    assert exc.value.iterations == 1


# ----------------------------------------------------------------------------- MPI
MPI_SCRIPT = textwrap.dedent("""
    import json, sys, numpy as np
    sys.path[:0] = [{root!r}, {tests!r}]
    from mpi4py import MPI
    from simulator.meshing.mesh import Mesh
    from simulator.physics.conductivity import CellConductivity
    from simulator.engines.base import PulseConfiguration, SolverSettings
    from simulator.engines.dolfinx.engine import DolfinxEngine
    comm = MPI.COMM_WORLD
    mesh = None
    if comm.rank == 0:
        z = np.load({npz!r}, allow_pickle=True)
        mesh = Mesh(z["points"], z["tets"], z["cell_region"], tuple(z["regions"].tolist()),
                    dict(z["contacts"].item()))
    M = comm.bcast(mesh.num_cells if mesh is not None else None)
    out = {{}}
    for degree in (1, 2):
        eng = DolfinxEngine(mesh, SolverSettings(degree=degree))
        law = CellConductivity(np.full(M, 0.2), np.full(M, 0.6), np.full(M, 4e4), np.full(M, 8e4),
                               np.zeros(M, dtype=np.int64), ("smoothstep",))
        sol = eng.solve_stationary(PulseConfiguration(("A",), ("B",), 500.0, ("C",)), law)
        out[degree] = dict(current=sol.current, vrev=float(np.sum(sol.weights * (sol.E >= 4e4))),
                           vol=float(sol.weights.sum()), fc=sol.floating_potentials["C"],
                           its=sol.nonlinear_iterations, dofs=sol.dofs,
                           t=sol.timings["solve"])
        if comm.rank == 0:
            np.save({efile!r} + f"{{degree}}.npy", sol.E)
    if comm.rank == 0:
        print("RESULT" + json.dumps(out))
""")


def _mpirun():
    exe = shutil.which("mpirun") or shutil.which("mpiexec")
    if exe is None:
        pytest.skip("no mpirun")
    return exe


def _run_ranks(n, script, tmp_path):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", PYTHONUNBUFFERED="1")
    cmd = [_mpirun(), "-n", str(n)]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd += ["--oversubscribe", sys.executable, str(script)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path,
                         stdin=subprocess.DEVNULL)      # mpirun forwards stdin to rank 0: never the worker's
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT"):])


def test_mpi_one_vs_two_ranks(three_needles, tmp_path, capsys):
    if not HAVE_DOLFINX:
        pytest.skip("DOLFINx is not importable")
    m = three_needles
    npz = tmp_path / "mesh.npz"
    np.savez(npz, points=m.points, tets=m.tets, cell_region=m.cell_region,
             regions=np.array(m.regions, dtype=object),
             contacts=np.array(m.contact_facets, dtype=object))
    results = {}
    for n in (1, 2):
        script = tmp_path / f"run{n}.py"
        script.write_text(MPI_SCRIPT.format(root=str(Path(__file__).resolve().parents[1]),
                                            tests=str(Path(__file__).resolve().parent),
                                            npz=str(npz), efile=str(tmp_path / f"E{n}_")))
        results[n] = _run_ranks(n, script, tmp_path)
    with capsys.disabled():
        print(f"\n[dolfinx MPI] 1 rank: {results[1]}\n[dolfinx MPI] 2 ranks: {results[2]}")
    for deg in ("1", "2"):
        r1, r2 = results[1][deg], results[2][deg]
        assert r1["dofs"] == r2["dofs"]
        assert r2["current"] == pytest.approx(r1["current"], rel=1e-10)
        assert r2["fc"] == pytest.approx(r1["fc"], rel=1e-10)
        assert r2["vol"] == pytest.approx(r1["vol"], rel=1e-12)
        assert r2["vrev"] == pytest.approx(r1["vrev"], rel=1e-10)
        E1, E2 = np.load(tmp_path / f"E1_{deg}.npy"), np.load(tmp_path / f"E2_{deg}.npy")
        np.testing.assert_allclose(E2, E1, rtol=1e-10, atol=1e-10 * E1.max())


# ----------------------------------------------------------------------------- embedded
def test_agrees_with_embedded(three_needles, capsys):
    if not HAVE_DOLFINX:
        pytest.skip("DOLFINx is not importable")
    emb = pytest.importorskip("simulator.engines.embedded")
    mesh = three_needles
    law = law_uniform(mesh.num_cells, "smoothstep")
    out = {}
    for degree in (1, 2):
        e1 = engine(mesh, degree)
        e2 = emb.EmbeddedEngine(mesh, SolverSettings(degree=degree))
        if degree == 2:
            np.testing.assert_allclose(e1.sample_points(), np.einsum(
                "qv,mvx->mqx", __import__("simulator.engines.embedded.spaces", fromlist=["x"]).QUAD2_BARY,
                mesh.points[mesh.tets]), atol=1e-12)
        for cfg in (PulseConfiguration(("A",), ("B",), 500.0),
                    PulseConfiguration(("A",), ("B",), 500.0, ("C", "D"))):
            s1, s2 = e1.solve_stationary(cfg, law), e2.solve_stationary(cfg, law)
            v1 = float(np.sum(s1.weights * (s1.E >= 4e4)))
            v2 = float(np.sum(s2.weights * (s2.E >= 4e4)))
            out[degree, cfg.floating] = (s1.current / s2.current - 1, v1 / v2 - 1)
            assert s1.current == pytest.approx(s2.current, rel=1e-10)     # README: 1e-10, same mesh
            assert v1 == pytest.approx(v2, rel=1e-10)
            for k, v in s1.floating_potentials.items():
                assert v == pytest.approx(s2.floating_potentials[k], rel=1e-10)
            assert s1.dofs == s2.dofs and s1.potential_full.shape == (s1.dofs,)
            np.testing.assert_allclose(s1.potential_full, s2.potential_full, rtol=0, atol=1e-10 * 500.0)
            np.testing.assert_allclose(s1.E, s2.E, rtol=1e-10, atol=1e-10 * s2.E.max())
    with capsys.disabled():
        print(f"\n[dolfinx vs embedded] rel. differences (current, V_rev): {out}")


for _name, _obj in list(globals().items()):
    if _name.startswith("test_") and _name != "test_unavailable_raises_engine_unavailable":
        for _mark in needs_dolfinx:
            _obj = _mark(_obj)
        globals()[_name] = _obj
