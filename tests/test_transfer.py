"""Transfer of a potential between meshes (simulator.solve.transfer): exact for linear
fields, and as a Newton start on another mesh it changes the iterations, not the answer."""
import numpy as np
import pytest

from simulator.engines.base import PulseConfiguration, SolverSettings
from simulator.engines.embedded import EmbeddedEngine
from simulator.physics.conductivity import CellConductivity
from simulator.solve.transfer import PointLocator, transferred
from structured import box_mesh


def test_linear_field_is_interpolated_exactly_and_outside_points_take_the_nearest_face():
    coarse = box_mesh(n=(4, 3, 5))
    fine = box_mesh(n=(7, 6, 4))
    f = lambda p: 3.0 + 200.0 * p[:, 0] - 50.0 * p[:, 1] + 120.0 * p[:, 2]   # noqa: E731
    loc = PointLocator(coarse)
    got = loc.interpolate(f(coarse.points), fine.points)
    assert np.max(np.abs(got - f(fine.points))) < 1e-12
    # a point 1 mm beyond the face x = L takes a value on that face: the candidate cell's
    # barycentrics clipped to [0, 1] put it on the face, within a cell of the point
    cells, bary = loc.weights(np.array([[0.011, 0.005, -0.005]]))
    assert np.all(bary >= 0) and bary.sum() == pytest.approx(1.0, abs=1e-14)
    at = bary[0] @ coarse.points[coarse.tets[cells[0]]]
    assert at[0] == pytest.approx(0.010, abs=1e-15)
    assert np.hypot(at[1] - 0.005, at[2] + 0.005) < 0.0035


def _law(M):
    return CellConductivity(np.full(M, 0.2), np.full(M, 0.8), np.full(M, 4e4), np.full(M, 8e4),
                            np.zeros(M, dtype=np.int64), ("smoothstep",))


def _two_needle_meshes():
    """A needle pair meshed at two sizes (0.4 and 0.28 mm) and its nonlinear configuration."""
    from gmsh_fixtures import needles_mesh
    pair = [("A", -0.002, 0.0, 0.00035), ("B", 0.002, 0.0, 0.00035)]
    old = needles_mesh(pair, R=0.02, h=4e-4)
    new = needles_mesh(pair, R=0.02, h=2.8e-4)
    return old, new, PulseConfiguration(("A",), ("B",), 300.0)     # 750 V/cm between: nonlinear


def test_newton_started_from_another_mesh_converges_to_the_cold_answer_with_less_work():
    old, new, cfg = _two_needle_meshes()
    first = EmbeddedEngine(old, SolverSettings()).solve_stationary(cfg, _law(old.num_cells))
    eng = EmbeddedEngine(new, SolverSettings())
    cold = eng.solve_stationary(cfg, _law(new.num_cells))
    start = transferred(first, PointLocator(old), new, eng.dofs)
    warm = eng.solve_stationary(cfg, _law(new.num_cells), initial=start)
    assert warm.converged and cold.converged
    # no initial linear solve, fewer CG iterations in all (measured 71 against 96)
    assert warm.linear_iterations < 0.85 * cold.linear_iterations
    assert warm.nonlinear_iterations <= cold.nonlinear_iterations
    # the energy is convex: both reach the new mesh's minimiser, to the Newton tolerance
    assert warm.current == pytest.approx(cold.current, rel=1e-7)
    assert np.max(np.abs(warm.E - cold.E)) < 1e-6 * np.max(cold.E)
    # a space whose DOFs are not the vertices gets no start without their locations
    assert transferred(first, PointLocator(old), new, eng.dofs + 1) is None


def test_a_p2_start_from_another_mesh_reaches_the_cold_answer_with_less_work():
    """P2: the previous mesh's vertex potential interpolated at the new mesh's vertices and
    edge midpoints (transfer.dof_points, the embedded space's DOF order) starts Newton; it
    reaches the cold solve's answer to the Newton tolerance with fewer CG iterations."""
    from simulator.solve.transfer import dof_points
    old, new, cfg = _two_needle_meshes()
    first = EmbeddedEngine(old, SolverSettings(degree=2)).solve_stationary(cfg, _law(old.num_cells))
    eng = EmbeddedEngine(new, SolverSettings(degree=2))
    points = dof_points(eng, new)
    assert points.shape == (eng.dofs, 3)
    e = eng.space.edges[7]
    assert np.allclose(points[new.num_points + 7], new.points[e].mean(axis=0), rtol=0, atol=1e-15)
    loc = PointLocator(old)
    start = transferred(first, loc, new, eng.dofs, weights=loc.weights(points))
    assert start is not None and start.potential_full.shape == (eng.dofs,)
    cold = eng.solve_stationary(cfg, _law(new.num_cells))
    warm = eng.solve_stationary(cfg, _law(new.num_cells), initial=start)
    assert warm.converged and cold.converged
    # no initial linear solve: CG 26 against 39 in all (measured), Newton 5 and 5
    assert warm.linear_iterations < 0.85 * cold.linear_iterations
    assert warm.nonlinear_iterations <= cold.nonlinear_iterations
    assert warm.current == pytest.approx(cold.current, rel=1e-7)
    assert np.max(np.abs(warm.E - cold.E)) < 1e-6 * np.max(cold.E)


def test_a_p2_function_is_evaluated_exactly_where_its_vertex_interpolant_is_not():
    """transfer.p2_values: a quadratic set at a P2 space's DOFs (straight cells) evaluated at
    random points of random cells (barycentric coordinates given) is the quadratic itself, to
    round-off; the P1 interpolant of its vertex values is not."""
    from simulator.engines.embedded.spaces import p2_cell_dofs
    from simulator.solve.transfer import dof_points, p2_values
    coarse = box_mesh(n=(4, 3, 5))
    f = lambda p: 1.0 + 3e4 * p[:, 0] ** 2 - 2e4 * p[:, 1] * p[:, 2] + 50.0 * p[:, 2]   # noqa: E731
    eng = EmbeddedEngine(coarse, SolverSettings(degree=2))
    u = f(dof_points(eng, coarse))
    dofs = p2_cell_dofs(coarse.tets, coarse.num_points)[2]
    assert np.array_equal(dofs, eng.space.cell_dofs)                     # the space's own numbering
    rng = np.random.default_rng(3)
    cells = rng.integers(0, coarse.num_cells, 500)
    bary = rng.dirichlet(np.ones(4), 500)
    x = np.einsum("kn,kna->ka", bary, coarse.points[coarse.tets[cells]])
    exact = f(x)
    assert np.max(np.abs(p2_values(u, dofs, cells, bary) - exact)) < 1e-12 * np.max(np.abs(exact))
    p1 = np.einsum("kn,kn->k", bary, u[:coarse.num_points][coarse.tets[cells]])
    assert np.max(np.abs(p1 - exact)) > 1e-3 * np.max(np.abs(exact))


def test_a_p2_start_evaluated_as_p2_needs_less_work_than_its_vertex_interpolant():
    """The accuracy loop's P2 starts (MeshToMeshStarts) evaluate the previous level's P2
    potential at the new DOFs; against the P1 interpolant of its vertex values: fewer CG
    iterations, the same answer (the cold solve's) to the Newton tolerance."""
    from simulator.engines.embedded.spaces import p2_cell_dofs
    from simulator.solve.transfer import dof_points
    old, new, cfg = _two_needle_meshes()
    first = EmbeddedEngine(old, SolverSettings(degree=2)).solve_stationary(cfg, _law(old.num_cells))
    eng = EmbeddedEngine(new, SolverSettings(degree=2))
    loc = PointLocator(old)
    w = loc.weights(dof_points(eng, new))
    p1_start = transferred(first, loc, new, eng.dofs, weights=w)
    p2_start = transferred(first, loc, new, eng.dofs, weights=w,
                           source_cell_dofs=p2_cell_dofs(old.tets, old.num_points)[2])
    assert not np.allclose(p1_start.potential_full, p2_start.potential_full)
    cold = eng.solve_stationary(cfg, _law(new.num_cells))
    a = eng.solve_stationary(cfg, _law(new.num_cells), initial=p1_start)
    b = eng.solve_stationary(cfg, _law(new.num_cells), initial=p2_start)
    print(f"CG: P1 interpolant {a.linear_iterations}, P2 {b.linear_iterations}, cold {cold.linear_iterations}")
    assert b.linear_iterations < a.linear_iterations
    for s in (a, b):
        assert s.current == pytest.approx(cold.current, rel=1e-7)


def test_a_start_moved_with_the_electrode_is_closer_than_one_left_in_place():
    """A placement draw: the same needle pair shifted 0.6 mm. The nominal field sampled in
    the electrode's frame (to_source = x - shift) is a better start than the field left
    where it was (fewer CG iterations), and both reach the cold answer."""
    from gmsh_fixtures import needles_mesh
    shift = np.array([0.0006, 0.0003, 0.0])
    pair = [("A", -0.002, 0.0, 0.00035), ("B", 0.002, 0.0, 0.00035)]
    moved = [(n, x + shift[0], y + shift[1], r) for n, x, y, r in pair]
    old, new = needles_mesh(pair, R=0.02, h=3e-4), needles_mesh(moved, R=0.02, h=3e-4)
    cfg = PulseConfiguration(("A",), ("B",), 300.0)
    nominal = EmbeddedEngine(old, SolverSettings()).solve_stationary(cfg, _law(old.num_cells))
    eng = EmbeddedEngine(new, SolverSettings())
    loc = PointLocator(old)
    cold = eng.solve_stationary(cfg, _law(new.num_cells))
    in_place = eng.solve_stationary(cfg, _law(new.num_cells), initial=transferred(nominal, loc, new, eng.dofs))
    framed = eng.solve_stationary(cfg, _law(new.num_cells),
                                  initial=transferred(nominal, loc, new, eng.dofs, lambda x: x - shift))
    assert framed.linear_iterations < in_place.linear_iterations
    assert framed.linear_iterations < cold.linear_iterations
    for s in (in_place, framed):
        assert s.current == pytest.approx(cold.current, rel=1e-7)


def test_a_level_locates_its_vertices_once_for_all_its_configurations():
    """MeshToMeshStarts (the accuracy loop's levels): every configuration starts from the
    previous level's potential interpolated at this mesh's vertices; the vertices are located
    once, and each start is the one located afresh for it (same bits)."""
    from gmsh_fixtures import needles_mesh
    from simulator.solve.transfer import MeshToMeshStarts
    needles = [("A", -0.002, 0.0, 0.00035), ("B", 0.002, 0.0, 0.00035), ("C", 0.0, 0.003, 0.00035)]
    old, new = needles_mesh(needles, R=0.02, h=4e-4), needles_mesh(needles, R=0.02, h=3e-4)
    configs = [PulseConfiguration(("A",), ("B",), 300.0), PulseConfiguration(("B",), ("C",), 300.0),
               PulseConfiguration(("C",), ("A",), 300.0)]
    first = EmbeddedEngine(old, SolverSettings())
    previous = {c: first.solve_stationary(c, _law(old.num_cells)) for c in configs}
    loc = PointLocator(old)
    seen = []

    class Recording:            # the engine under the wrapper: keeps the start it is given
        dofs = new.num_points

        def solve_stationary(self, config, law, sigma_floor=None, initial=None, *, rtol=None, start_sweeps=0):
            seen.append((config, initial))
            return previous[config]

    starts = MeshToMeshStarts(Recording(), new, previous, loc, {})
    for c in configs:
        starts.solve_stationary(c, _law(new.num_cells))
    assert starts.located == 1 and starts.warm == 3
    for c, initial in seen:
        fresh = transferred(previous[c], PointLocator(old), new, new.num_points)
        assert np.array_equal(initial.potential, fresh.potential)
        assert np.ptp(initial.potential) > 100.0        # a real start: most of the 300 V
