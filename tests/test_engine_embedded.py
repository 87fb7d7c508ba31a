"""The embedded engine on structured box meshes, against exact solutions.

Contacts "A" (x = 0) and "B" (x = L) clamp the box: the field between them is uniform, so
P1 and P2 are exact, also with a nonlinear sigma(E); two materials in series give a 1-D
nonlinear problem whose exact current follows from continuity of J (root finding).
"""
from dataclasses import replace

import numpy as np
import pytest
from scipy.optimize import brentq

from simulator.physics.conductivity import CellConductivity, get_model
from simulator.engines.base import PulseConfiguration, SolverSettings
from simulator.engines.embedded import EmbeddedEngine
from simulator.errors import ConvergenceError
from structured import box_mesh, two_tissue_law

L = 0.01
AREA = L * L


def uniform_law(M, model, s0=0.2, s1=0.8, er=4e4, ei=8e4):
    return CellConductivity(np.full(M, s0), np.full(M, s1), np.full(M, er), np.full(M, ei),
                            np.zeros(M, dtype=np.int64), (model,))


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("model", ["constant", "linear", "smoothstep", "sigmoid"])
def test_plates_uniform_field_exact(degree, model):
    mesh = box_mesh(n=(6, 4, 4))
    eng = EmbeddedEngine(mesh, SolverSettings(degree=degree))
    V = 600.0
    law = uniform_law(mesh.num_cells, model)
    sol = eng.solve_stationary(PulseConfiguration(("A",), ("B",), V), law)
    E = V / L
    sigma = get_model(model).sigma(np.array([E]), 0.2, 0.8, 4e4, 8e4)[0]
    assert np.allclose(sol.E, E, rtol=1e-8)
    assert sol.current == pytest.approx(sigma * AREA * E, rel=1e-8)
    assert sol.converged


def series_exact(model, V):
    f = get_model(model).sigma

    def mismatch(EA):
        J = f(EA, 0.2, 0.8, 4e4, 8e4) * EA
        EB = brentq(lambda e: f(e, 0.05, 0.2, 3e4, 7e4) * e - J, 0, 1e8)
        return EA * L / 2 + EB * L / 2 - V

    EA = brentq(mismatch, 0, V / (L / 2))
    return f(EA, 0.2, 0.8, 4e4, 8e4) * EA * AREA


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("model", ["linear", "smoothstep", "sigmoid"])
def test_two_materials_in_series_nonlinear_exact(degree, model):
    mesh = box_mesh(n=(8, 3, 3), region_of=lambda c: c[:, 0] > L / 2)
    law = two_tissue_law(mesh, model)
    eng = EmbeddedEngine(mesh, SolverSettings(degree=degree))
    sol = eng.solve_stationary(PulseConfiguration(("A",), ("B",), 700.0), law)
    assert sol.current == pytest.approx(series_exact(model, 700.0), rel=1e-8)
    assert 1 <= sol.nonlinear_iterations <= 8, "Newton on the convex energy needs a handful of steps"


def test_current_from_residual_equals_energy_identity():
    """I V = int sigma |E|^2 holds for the FE solution (Galerkin orthogonality)."""
    mesh = box_mesh(n=(8, 4, 4), region_of=lambda c: (c[:, 1] > L / 2) & (c[:, 0] > L / 3))
    sig = np.where(mesh.cell_region == 1, 1.0, 0.1)
    eng = EmbeddedEngine(mesh, SolverSettings())
    sol = eng.solve_linear(PulseConfiguration(("A",), ("B",), 100.0), sig)
    energy = float(np.sum(sol.weights[:, 0] * sig * sol.E[:, 0] ** 2))
    assert sol.current * 100.0 == pytest.approx(energy, rel=1e-8)


def test_floating_contact_carries_no_current_and_sits_between():
    """Contact B floating, a strip at x = 0 the anode; cathode: none -> use B as cathode of a
    three-contact box: A anode, a mid-plane floating conductor is not available on a box,
    so float B against A and ground nothing: the whole box follows A's potential."""
    mesh = box_mesh(n=(6, 3, 3))
    facets = dict(mesh.contact_facets)
    pts = mesh.points
    # split contact B into two halves: lower half cathode, upper half floating
    fB = facets["B"]
    upper = pts[fB].mean(axis=1)[:, 1] > L / 2
    facets["C"] = fB[~upper]
    facets["F"] = fB[upper]
    from simulator.meshing.mesh import Mesh
    m2 = Mesh(mesh.points, mesh.tets, mesh.cell_region, mesh.regions, facets)
    eng = EmbeddedEngine(m2, SolverSettings())
    cfg = PulseConfiguration(("A",), ("C",), 100.0, floating=("F",))
    sol = eng.solve_linear(cfg, np.full(m2.num_cells, 0.3))
    F = eng._residual(np.full((m2.num_cells, 1), 0.3), eng._gradient(sol.potential_full))
    nodes_F = np.setdiff1d(np.unique(facets["F"]), np.unique(facets["C"]))
    assert 0.0 < sol.floating_potentials["F"] < 100.0
    assert abs(F[nodes_F].sum()) < 1e-9 * abs(sol.current)
    assert np.ptp(sol.potential[nodes_F]) < 1e-9


def test_monotone_nonconvergence_raises():
    from simulator.solve.train import _monotone
    mesh = box_mesh(n=(6, 3, 3), region_of=lambda c: c[:, 0] > L / 2)
    r = mesh.cell_region
    law = CellConductivity(np.where(r, 0.05, 0.2), np.where(r, 0.2, 0.8), np.full(mesh.num_cells, 3e4),
                           np.full(mesh.num_cells, 7e4), np.zeros(mesh.num_cells, dtype=np.int64), ("smoothstep",))
    eng = EmbeddedEngine(mesh, SolverSettings())
    with pytest.raises(ConvergenceError, match="monotone"):
        _monotone(eng, PulseConfiguration(("A",), ("B",), 700.0), law, None, tol=1e-14, max_steps=2)


def test_newton_nonconvergence_raises_with_iterations():
    mesh = box_mesh(n=(6, 3, 3), region_of=lambda c: c[:, 0] > L / 2)
    r = mesh.cell_region
    law = CellConductivity(np.where(r, 0.05, 0.2), np.where(r, 0.2, 0.8), np.full(mesh.num_cells, 3e4),
                           np.full(mesh.num_cells, 7e4), np.zeros(mesh.num_cells, dtype=np.int64), ("smoothstep",))
    eng = EmbeddedEngine(mesh, SolverSettings(max_iterations=1, rtol=1e-15))
    with pytest.raises(ConvergenceError) as info:
        eng.solve_stationary(PulseConfiguration(("A",), ("B",), 700.0), law)
    assert info.value.iterations == 1 and info.value.residual > 0


def test_warm_start_reaches_the_cold_answer():
    """Newton started from the 600 V solution scaled to 700 V (what a voltage sweep does,
    studies.scaling) with a 100x tighter rtol reaches the cold answer (the iterations it saves
    are measured on the hexagonal example by benchmarks/sweep_speed.py: on this 1-D series
    problem the linear start is already close)."""
    from simulator.studies.scaling import extrapolated
    mesh = box_mesh(n=(8, 3, 3), region_of=lambda c: c[:, 0] > L / 2)
    law = two_tissue_law(mesh)
    kept = EmbeddedEngine(mesh, SolverSettings())
    cfg = PulseConfiguration(("A",), ("B",), 700.0)
    cold = kept.solve_stationary(cfg, law)
    low = kept.solve_stationary(PulseConfiguration(("A",), ("B",), 600.0), law)
    warm = kept.solve_stationary(cfg, law, initial=extrapolated([(600.0, low)], 700.0), rtol=1e-10)
    assert warm.converged and warm.residual <= 1e-10 and warm.linear_iterations > 0
    assert warm.current == pytest.approx(series_exact("smoothstep", 700.0), rel=1e-8)
    assert warm.current == pytest.approx(cold.current, rel=1e-10)
    assert np.max(np.abs(warm.E - cold.E)) <= 1e-10 * np.max(cold.E)


def test_warm_start_refreshes_its_starts_hierarchy(monkeypatch):
    """A warm start carrying ``warm_state`` (keep_state=True on the solve it starts from)
    builds no new AMG hierarchy: the start's aggregates and prolongators with Galerkin coarse
    operators of the new Jacobian. It reaches the cold answer with no more CG iterations than
    the same start with a new hierarchy (+1), and nothing keeps the state unless asked
    (``cold``: a tight solve, the reference)."""
    from simulator.studies.scaling import extrapolated
    mesh = box_mesh(n=(24, 8, 8), region_of=lambda c: c[:, 0] > 0.6 * L)
    law = two_tissue_law(mesh)
    eng = EmbeddedEngine(mesh, SolverSettings())
    cfg = PulseConfiguration(("A",), ("B",), 700.0)
    cold = eng.solve_stationary(cfg, law, rtol=1e-12)
    low = eng.solve_stationary(PulseConfiguration(("A",), ("B",), 600.0), law, keep_state=True)
    assert cold.warm_state is None and low.warm_state is not None
    n, hierarchy, _ = low.warm_state
    assert hierarchy.levels >= 2 and hierarchy.ml.levels[0].A is None      # released: not its Jacobian
    start = extrapolated([(600.0, low)], 700.0)
    setups = []
    real = EmbeddedEngine._amg
    monkeypatch.setattr(EmbeddedEngine, "_amg", lambda self, A, red: setups.append(1) or real(self, A, red))
    refreshed = eng.solve_stationary(cfg, law, initial=start, rtol=1e-10)
    assert setups == []
    fresh = eng.solve_stationary(cfg, law, initial=extrapolated([(600.0, replace(low, warm_state=None))], 700.0),
                                 rtol=1e-10)
    assert setups == [1]
    assert refreshed.nonlinear_iterations == fresh.nonlinear_iterations
    assert refreshed.linear_iterations <= fresh.linear_iterations + 1
    for sol in (refreshed, fresh):
        assert sol.residual <= 1e-10
        assert sol.current == pytest.approx(cold.current, rel=1e-10)
        assert np.max(np.abs(sol.E - cold.E)) <= 1e-10 * np.max(cold.E)


def test_warm_start_refreshes_the_coarse_operators_once(monkeypatch):
    """A warm start refreshes its hierarchy's coarse operators for its first Jacobian only;
    later Newton steps (Jacobians close to the first) smooth with their own matrix on those
    coarse operators (``Hierarchy.retarget``): one refresh per solve, the same answer, and
    no more than 10 % more CG iterations than refreshing at every step."""
    from simulator.engines.embedded.amg import Hierarchy
    from simulator.studies.scaling import extrapolated
    mesh = box_mesh(n=(24, 8, 8), region_of=lambda c: c[:, 0] > 0.6 * L)
    law = two_tissue_law(mesh)
    eng = EmbeddedEngine(mesh, SolverSettings())
    cfg = PulseConfiguration(("A",), ("B",), 700.0)
    cold = eng.solve_stationary(cfg, law, rtol=1e-12)
    low = eng.solve_stationary(PulseConfiguration(("A",), ("B",), 600.0), law, keep_state=True)
    calls = []
    refresh, retarget = Hierarchy.refresh, Hierarchy.retarget
    monkeypatch.setattr(Hierarchy, "refresh", lambda self, A: calls.append("refresh") or refresh(self, A))
    monkeypatch.setattr(Hierarchy, "retarget", lambda self, A: calls.append("retarget") or retarget(self, A))
    once = eng.solve_stationary(cfg, law, initial=extrapolated([(600.0, low)], 700.0), rtol=1e-10)
    assert once.nonlinear_iterations >= 2
    assert calls == ["refresh"] + ["retarget"] * (once.nonlinear_iterations - 1)
    monkeypatch.setattr(Hierarchy, "retarget", lambda self, A: refresh(self, A))   # refresh every step
    every = eng.solve_stationary(cfg, law, initial=extrapolated([(600.0, low)], 700.0), rtol=1e-10)
    assert once.nonlinear_iterations == every.nonlinear_iterations
    assert once.linear_iterations <= 1.1 * every.linear_iterations
    for sol in (once, every):
        assert sol.current == pytest.approx(cold.current, rel=1e-10)
        assert np.max(np.abs(sol.E - cold.E)) <= 1e-10 * np.max(cold.E)

def test_reduced_matrix_scattered_in_blocks_is_the_same_matrix(monkeypatch):
    """ReducedEdges.matrix scatters the plain edges per block (memory): the same CSR data, bit
    for bit, with a floating contact (edges merged into one unknown's rows) and without."""
    import simulator.engines.embedded.reduced as R
    from simulator.meshing.mesh import Mesh
    mesh = box_mesh(n=(8, 5, 5))
    facets = dict(mesh.contact_facets)
    fB = facets["B"]
    upper = mesh.points[fB].mean(axis=1)[:, 1] > L / 2
    facets["C"], facets["F"] = fB[~upper], fB[upper]
    m2 = Mesh(mesh.points, mesh.tets, mesh.cell_region, mesh.regions, facets)
    eng = EmbeddedEngine(m2, SolverSettings())
    ev = eng._assemble(np.random.default_rng(2).uniform(0.1, 1.0, (m2.num_cells, 1)))
    for cfg in (PulseConfiguration(("A",), ("C",), 1.0, floating=("F",)), PulseConfiguration(("A",), ("B",), 1.0)):
        red = eng._reduce(cfg)
        assert len(red.plain) > 50 and (red.n_touch > 0) == bool(cfg.floating)
        whole = red.matrix(ev)
        monkeypatch.setattr(R, "SCATTER_BLOCK", 7)
        blocks = red.matrix(ev)
        monkeypatch.setattr(R, "SCATTER_BLOCK", 1 << 20)
        assert np.array_equal(whole.indptr, blocks.indptr) and np.array_equal(whole.indices, blocks.indices)
        assert np.array_equal(whole.data, blocks.data)
        off = np.concatenate([ev[red.plain], np.bincount(red.touch_inv, weights=ev[red.touch], minlength=red.n_touch)])
        k = len(off)                        # both triangles hold [plain edges, touch sums]
        assert np.array_equal(whole.data[red.pos[:k]], off) and np.array_equal(whole.data[red.pos[k:2 * k]], off)
        assert abs(whole - whole.T).max() == 0.0


def test_compiled_p1_loops_match_a_numpy_reference():
    """The compiled P1 loops (engines/embedded/kernels.py) against element matrices from
    numpy's inverse Jacobians: residual F_n = sum w sigma g . grad phi_n and the Jacobian's edge
    values w (sigma grad phi_i . grad phi_j + sigma'/E (grad phi_i . g)(grad phi_j . g)) to
    1e-13 of their largest entry, with sigma'/E zero in some cells; and the gradient of a linear
    potential a . x + b is a in every cell (P1 reproduces it) to 1e-12."""
    mesh = box_mesh(n=(5, 4, 4))
    eng = EmbeddedEngine(mesh, SolverSettings(degree=1))
    rng = np.random.default_rng(3)
    M = mesh.num_cells
    sigma = rng.uniform(0.1, 1.0, (M, 1))
    g = rng.normal(size=(M, 1, 3)) * 1e4
    dsE = rng.uniform(0.0, 1e-9, (M, 1)) * (rng.random((M, 1)) < 0.5)
    F, K = eng._residual_and_jacobian(sigma, g, dsE)
    X = mesh.points[mesh.tets]
    G = np.zeros((M, 3, 4))
    G[:, :, 1:] = np.linalg.inv(X[:, 1:] - X[:, :1])            # columns: grad lambda_1..3
    G[:, :, 0] = -G[:, :, 1:].sum(axis=2)
    w = np.abs(np.linalg.det(X[:, 1:] - X[:, :1])) / 6.0
    bg = np.einsum("mi,min->mn", g[:, 0], G)
    F_ref = np.bincount(mesh.tets.ravel(), weights=((w * sigma[:, 0])[:, None] * bg).ravel(), minlength=eng.dofs)
    local = (w * sigma[:, 0])[:, None, None] * np.einsum("min,mik->mnk", G, G) \
        + (w * dsE[:, 0])[:, None, None] * bg[:, :, None] * bg[:, None, :]
    edges = np.array([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]])
    K_ref = np.bincount(eng._cell_edge.ravel(), weights=local[:, edges[:, 0], edges[:, 1]].ravel(),
                        minlength=len(K))
    assert np.abs(F - F_ref).max() <= 1e-13 * np.abs(F_ref).max()
    assert np.abs(K - K_ref).max() <= 1e-13 * np.abs(K_ref).max()
    a = np.array([120.0, -35.0, 7.5])
    grad = eng._gradient(mesh.points @ a + 3.0)
    assert np.abs(grad[:, 0] - a).max() <= 1e-12 * np.abs(a).max()


def test_compiled_p2_jacobian_matches_the_element_matrices_of_numpy():
    """The compiled P2 Jacobian (engines/embedded/p2_kernels.py) against the einsum element
    matrices sum_q w (sigma B^T B + sigma'/E (B^T g)(g^T B)) scattered by np.bincount (the
    pre-compiled implementation), with sigma'/E zero in some cells, and the stiffness alone
    (no Newton term): to 1e-13 of the largest entry. The matrix is symmetric."""
    mesh = box_mesh(n=(4, 3, 3))
    eng = EmbeddedEngine(mesh, SolverSettings(degree=2))
    rng = np.random.default_rng(5)
    B, w = eng.space.B, eng.space.w
    M, Q = w.shape
    sigma = rng.uniform(0.1, 1.0, (M, Q))
    g = rng.normal(size=(M, Q, 3)) * 1e4
    dsE = rng.uniform(0.0, 1e-9, (M, Q)) * (rng.random((M, 1)) < 0.5)
    Bg = np.einsum("mqin,mqi->mqn", B, g)
    local = np.einsum("mq,mqin,mqik->mnk", w * sigma, B, B)
    ref_stiffness = np.bincount(eng._scatter, weights=local.ravel(), minlength=len(eng._indices))
    local += np.einsum("mq,mqn,mqk->mnk", w * dsE, Bg, Bg)
    ref = np.bincount(eng._scatter, weights=local.ravel(), minlength=len(eng._indices))
    got = eng._assemble(sigma, g, dsE)
    assert np.abs(got - ref).max() <= 1e-13 * np.abs(ref).max()
    assert np.abs(eng._assemble(sigma) - ref_stiffness).max() <= 1e-13 * np.abs(ref_stiffness).max()
    import scipy.sparse as sp
    A = sp.coo_matrix((got, (eng._rows, eng._indices)), shape=(eng.dofs, eng.dofs)).tocsr()
    assert abs(A - A.T).max() <= 1e-13 * np.abs(got).max()


def test_compiled_p2_gradient_residual_and_line_search_match_numpy():
    """The compiled P2 field gradient, residual (p2_kernels) and line-search trial
    (kernels.trial on sample-point rows) against their einsum / bincount forms (the
    pre-compiled implementation): to 1e-13 of the largest value."""
    from simulator.engines.embedded import kernels
    mesh = box_mesh(n=(4, 3, 3))
    eng = EmbeddedEngine(mesh, SolverSettings(degree=2))
    rng = np.random.default_rng(6)
    B, w, dofs = eng.space.B, eng.space.w, eng.space.cell_dofs
    u = rng.normal(size=eng.dofs) * 100.0
    g_ref = np.einsum("mqin,mn->mqi", B, u[dofs])
    g = eng._gradient(u)
    assert g.shape == g_ref.shape and np.abs(g - g_ref).max() <= 1e-13 * np.abs(g_ref).max()
    sigma = rng.uniform(0.1, 1.0, w.shape)
    F_ref = np.bincount(dofs.ravel(), weights=np.einsum("mq,mqi,mqin->mn", w * sigma, g_ref, B).ravel(),
                        minlength=eng.dofs)
    F = eng._residual(sigma, g)
    assert np.abs(F - F_ref).max() <= 1e-13 * np.abs(F_ref).max()
    gd = rng.normal(size=g.shape) * 1e3
    E, p = np.empty(g.size // 3), np.empty(g.size // 3)
    kernels.trial(g.reshape(-1, 3), gd.reshape(-1, 3), 0.3, E, p)
    ga = g_ref + 0.3 * gd
    assert np.abs(E - np.sqrt(np.einsum("mqi,mqi->mq", ga, ga)).ravel()).max() <= 1e-13 * E.max()
    assert np.abs(p - np.einsum("mqi,mqi->mq", ga, gd).ravel()).max() <= 1e-13 * np.abs(p).max()


def test_newton_linear_tolerance_follows_the_residual_and_the_target():
    """Inexact Newton (engine.newton_linear_rtol): 0.1 x the residual, capped at 1e-3, but
    no tighter than a last step needs to land 100x below the solve's tolerance."""
    from simulator.engines.embedded.engine import newton_linear_rtol
    assert newton_linear_rtol(0.5, 1e-8, 1e-10) == 1e-3
    assert newton_linear_rtol(2e-4, 1e-10, 1e-10) == pytest.approx(2e-5)
    assert newton_linear_rtol(4e-8, 1e-10, 1e-10) == pytest.approx(2.5e-5)
    assert newton_linear_rtol(1e-5, 1e-10, 5e-6) == 5e-6            # never below the settings' linear_rtol


def test_p1_gradients_are_the_rows_of_the_inverse_jacobian():
    """spaces._p1_block (cofactors on coordinate components): the gradients of the four hat
    functions equal J^-T grad_xi lambda from numpy's inverse to 1e-12, sum to zero, and the
    determinant is 6 x the signed volume; on 1000 random tets of both orientations."""
    from simulator.engines.embedded import spaces
    rng = np.random.default_rng(7)
    points = rng.normal(size=(4000, 3)) * 1e-3
    tets = np.arange(4000).reshape(1000, 4)
    g = np.empty((1000, 3, 4))
    det = spaces._p1_block(points, tets, g)
    X = points[tets]
    J = (X[:, 1:] - X[:, :1])                          # rows e1, e2, e3
    assert np.allclose(det, np.linalg.det(J), rtol=1e-12, atol=0) and (det < 0).any() and (det > 0).any()
    ref = np.linalg.inv(J)                             # columns: gradients of lambda_1..3
    scale = np.abs(ref).max(axis=(1, 2))[:, None, None]
    assert np.all(np.abs(g[:, :, 1:] - ref) <= 1e-12 * scale)
    assert np.all(np.abs(g.sum(axis=2)) <= 1e-12 * scale[:, :, 0])


def test_fused_residual_and_jacobian_pass_gives_the_separate_passes_bits(monkeypatch):
    """P1 computes Newton's residual and Jacobian in one pass (engine._residual_and_jacobian): the same bits as the two passes, at a state where
    sigma'(E) is non-zero in some cells and zero in others, and the same Newton answer."""
    mesh = box_mesh(n=(8, 3, 3), region_of=lambda c: c[:, 0] > L / 2)
    law = two_tissue_law(mesh)
    eng = EmbeddedEngine(mesh, SolverSettings())
    assert eng.space.B is None
    sol = eng.solve_stationary(PulseConfiguration(("A",), ("B",), 700.0), law)
    g = eng._gradient(sol.potential_full)
    E = np.sqrt(np.einsum("mqi,mqi->mq", g, g))
    s = law.sigma(E[:, 0]).reshape(E.shape)
    dsE = law.dsigma(E[:, 0]).reshape(E.shape) / E
    assert 0 < np.count_nonzero(dsE) < dsE.size
    F, values = eng._residual_and_jacobian(s, g, dsE)
    assert np.array_equal(F, eng._residual(s, g)) and np.array_equal(values, eng._assemble(s, g, dsE))
    monkeypatch.setattr(eng, "_residual_and_jacobian", lambda *a: (eng._residual(*a[:2]), eng._assemble(*a)))
    again = eng.solve_stationary(PulseConfiguration(("A",), ("B",), 700.0), law)
    assert np.array_equal(again.E, sol.E) and again.current == sol.current
