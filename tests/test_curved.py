"""Second-order (curved) cells, ``[mesh] order = 2`` (issue 11, item 4): the mesh's mid-edge
nodes on the needle cylinders, the isoparametric P2 space (embedded, and DOLFINx's P2
coordinate element against it), the cache, the validation.

The mesh: two needles (0.7 mm, 4 mm apart) through a 2 mm gel slab, contact size 0.4 mm
(~5.5 segments around a needle: coarse enough that a few cells would fold, so that
simulator.meshing.curving takes back part of their edges' curvature). The convergence order of the current is in tests/test_accuracy.py.
"""
import dataclasses
import math

import numpy as np
import pytest

from test_accuracy import A, D, L, two_wire

from simulator.engines.embedded.spaces import build_space
from simulator.errors import ScenarioError
from simulator.meshing.build import build_mesh
from simulator.meshing.cache import load_mesh, mesh_key, save_mesh
from simulator.meshing.inputs import mesh_input
from simulator.scenario import scenario_from_dict


def scenario(order: int, contact_size_mm: float = 0.4):
    raw = two_wire(size_mm=2.5 * contact_size_mm, contact_size_mm=contact_size_mm, cache=False, accuracy=0,
                   order=order)
    raw["solver"] = {"degree": 2}
    return scenario_from_dict(raw)


@pytest.fixture(scope="module")
def meshes():
    return build_mesh(scenario(1)), build_mesh(scenario(2))


def radius_error(mesh, name: str, x: np.ndarray) -> np.ndarray:
    """|distance from the needle's axis - a| (m) of points x (K, 3) on contact ``name``."""
    cx = D / 2 if name == "B" else -D / 2          # needle-pair: A at -d/2, B at +d/2 (on y = 0)
    return np.abs(np.hypot(x[:, 0] - cx, x[:, 1]) - A)


def contact_edges(mesh, facets: np.ndarray) -> np.ndarray:
    """Rows of ``mesh.edges`` that are edges of the boundary triangles ``facets``."""
    pairs = np.unique(np.sort(facets[:, [[0, 1], [0, 2], [1, 2]]].reshape(-1, 2), axis=1), axis=0)
    keys = mesh.edges[:, 0] * mesh.num_points + mesh.edges[:, 1]
    rows = np.searchsorted(keys, pairs[:, 0] * mesh.num_points + pairs[:, 1])
    assert np.array_equal(mesh.edges[rows], pairs)
    return rows


def test_mid_edge_nodes_lie_on_the_needle_cylinders(meshes):
    straight, curved = meshes
    assert straight.order == 1 and straight.edges is None
    assert curved.order == 2 and curved.edge_points.shape == (curved.edges.shape[0], 3)
    for name, facets in curved.contact_facets.items():
        rows = contact_edges(curved, facets)
        chord = (curved.points[curved.edges[rows, 0]] + curved.points[curved.edges[rows, 1]]) / 2
        on = radius_error(curved, name, curved.edge_points[rows])
        print(f"{name}: {len(rows)} edges, mid-edge |r - a| max {on.max():.2e} m, "
              f"chord midpoints {radius_error(curved, name, chord).max():.2e} m")
        assert on.max() <= 1e-12 * A                                     # on the cylinder
        assert radius_error(curved, name, chord).max() > 0.05 * A      # chords across the cylinder are not
        assert radius_error(curved, name, curved.points[np.unique(facets)]).max() <= 1e-12 * A


def test_cells_that_would_fold_keep_part_of_their_curvature():
    """Contacts of 0.7 mm (~3 segments round a needle): even with the curving blended into
    the cells around it, some cells would fold; their mid-edge nodes on the needle move
    part of the way back to their chords (meshing.curving). All lie between the chord and
    the cylinder, most on it, and every curved cell keeps a positive Jacobian."""
    mesh = build_mesh(scenario(2, contact_size_mm=0.7))
    partial = 0
    for name, facets in mesh.contact_facets.items():
        rows = contact_edges(mesh, facets)
        chord = (mesh.points[mesh.edges[rows, 0]] + mesh.points[mesh.edges[rows, 1]]) / 2
        r_mid = A - radius_error(mesh, name, mesh.edge_points[rows])
        r_chord = A - radius_error(mesh, name, chord)
        exact = np.abs(r_mid - A) <= 1e-12 * A
        print(f"{name}: {len(rows)} edges, {exact.mean():.1%} of their mid-edge nodes on the cylinder")
        assert exact.mean() >= 0.5
        assert np.all(r_mid <= A * (1 + 1e-12)) and np.all(r_mid >= r_chord - 1e-12 * A)
        partial += int((~exact).sum())
    assert partial > 0, "this mesh is known to have cells that would fold (else the test proves less)"
    assert (build_space(mesh, 2).w > 0).all()


def test_the_corner_mesh_is_the_straight_mesh(meshes):
    """The same vertices (those on the contacts where they were, those inside the volume
    near a needle moved by less than its facets' sagitta: the curving blended into the
    cells around it, meshing.curving), cells, regions and contacts, up to the numbering
    (nodes are numbered in the order of their coordinates)."""
    from scipy.spatial import cKDTree
    straight, curved = meshes
    sagitta = A * (1 - math.cos(math.pi * 0.4e-3 / (2 * math.pi * A)))    # 0.4 mm chords on the needle
    moved, new = cKDTree(curved.points).query(straight.points)
    print(f"vertices moved: {np.count_nonzero(moved)}, max {moved.max():.2e} m (sagitta {sagitta:.2e} m)")
    assert 0 < moved.max() < sagitta and np.array_equal(np.sort(new), np.arange(curved.num_points))
    rows = lambda t: np.sort(t, axis=1)[np.lexsort(np.sort(t, axis=1).T[::-1])]          # noqa: E731
    assert np.array_equal(rows(new[straight.tets]), rows(curved.tets))
    assert np.array_equal(np.bincount(straight.cell_region), np.bincount(curved.cell_region))
    for k, facets in straight.contact_facets.items():
        assert np.array_equal(rows(new[facets]), rows(curved.contact_facets[k]))
        assert np.array_equal(straight.points[facets], curved.points[new[facets]])


def test_isoparametric_p2_is_exact_for_linear_fields_and_measures_the_curved_volume(meshes):
    straight, curved = meshes
    space = build_space(curved, 2)
    X = np.concatenate([curved.points, curved.edge_points])            # the P2 nodes
    for c in range(3):                                                  # x, y, z are in the space
        g = np.einsum("mqin,mn->mqi", space.B, X[space.cell_dofs, c])
        assert np.abs(g - np.eye(3)[c]).max() < 1e-9
    assert (space.w > 0).all()
    exact = (0.1 * 0.1 - 2 * math.pi * A * A) * L                      # slab minus the two needles
    e_straight = build_space(straight, 2).w.sum() / exact - 1          # polygons: holes too small
    e_curved = space.w.sum() / exact - 1
    print(f"slab volume error: straight {e_straight:+.2e}, curved {e_curved:+.2e}")
    assert e_straight > 0 and abs(e_curved) < 0.05 * e_straight


def _curved_digest(_: int) -> str:
    return build_mesh(scenario(2)).digest()


def test_second_order_mesh_is_deterministic_and_cached(meshes, tmp_path):
    """Two fresh processes make the same curved mesh (as two `epsim run`s would), and the same
    as this worker's, whatever it meshed before. [gmsh's high-order optimiser, used before
    meshing.curving, depended on memory addresses: meshes of the same input differed by up to
    2.5e-11 m between processes.]"""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    _, curved = meshes
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        first, second = pool.map(_curved_digest, range(2))
    assert first == second == curved.digest()
    save_mesh(curved, tmp_path / "m.npz", "k")
    back = load_mesh(tmp_path / "m.npz", "k")
    assert back.order == 2 and back.digest() == curved.digest()
    assert mesh_key(mesh_input(scenario(2))) != mesh_key(mesh_input(scenario(1)))
    flat = dataclasses.replace(curved, edges=None, edge_points=None)
    assert flat.digest() != curved.digest()


def test_mesh_order_is_validated():
    for bad, text in ((3, "3"), (0, "0"), ("2", "'2'")):
        with pytest.raises(ScenarioError) as exc:
            scenario_from_dict(two_wire(order=bad))
        assert exc.value.field == "mesh.order" and text in str(exc.value)
    with pytest.raises(ScenarioError, match="set solver.degree = 2, got 1"):
        scenario_from_dict(two_wire(order=2))


@pytest.mark.dolfinx
def test_dolfinx_p2_geometry_agrees_with_the_embedded_isoparametric_space(meshes):
    """DOLFINx's own P2 coordinate element on the same 10-node cells: the same sample-point
    volumes, current, potential and field (an independent implementation of the map)."""
    pytest.importorskip("dolfinx")
    from simulator.engines.base import PulseConfiguration, SolverSettings
    from simulator.engines.dolfinx.engine import DolfinxEngine
    from simulator.engines.embedded import EmbeddedEngine
    from simulator.physics.conductivity import CellConductivity
    mesh = meshes[1]
    M = mesh.num_cells
    law = CellConductivity(np.full(M, 0.2), np.full(M, 0.6), np.full(M, 4e4), np.full(M, 8e4),
                           np.zeros(M, dtype=np.int64), ("smoothstep",))
    cfg = PulseConfiguration(("A",), ("B",), 500.0)
    dfx, emb = DolfinxEngine(mesh, SolverSettings(degree=2)), EmbeddedEngine(mesh, SolverSettings(degree=2))
    s1, s2 = dfx.solve_stationary(cfg, law), emb.solve_stationary(cfg, law)
    print(f"dolfinx vs embedded, curved P2: current {s1.current / s2.current - 1:+.1e}, weights "
          f"{np.abs(s1.weights - s2.weights).max() / s2.weights.max():.1e}")
    np.testing.assert_allclose(s1.weights, s2.weights, rtol=1e-10)
    assert s1.current == pytest.approx(s2.current, rel=1e-10)
    assert s1.dofs == s2.dofs
    np.testing.assert_allclose(s1.potential_full, s2.potential_full, rtol=0, atol=1e-10 * 500.0)
    np.testing.assert_allclose(s1.E, s2.E, rtol=1e-10, atol=1e-10 * s2.E.max())


def test_a_curved_run_reports_its_order_and_writes_its_files(meshes, tmp_path):
    """Through run(), the report and the field files (which use the straight corner tets)."""
    from simulator.output import write_outputs
    from simulator.output.report import build_report, summary_table
    from simulator.solve.pipeline import run
    res = run(scenario(2), mesh=meshes[1])
    report = build_report(res)
    assert report["solver"]["mesh_order"] == 2 and report["solver"]["degree"] == 2
    assert "P2 on curved cells" in summary_table(report)
    assert build_report(run(scenario(1), mesh=meshes[0]))["solver"]["mesh_order"] == 1
    files = write_outputs(res, tmp_path / "out", figures=False)
    assert any(p.suffix == ".vtu" for p in files)
