"""The embedded engine's AMG hierarchy (refreshed Galerkin coarse operators) and the
locality orders (mesh extraction, reduced unknowns), issue 11 item 5."""
import numpy as np
import pytest
import scipy.sparse as sp

from simulator.engines.base import PulseConfiguration, SolverSettings
from simulator.engines.embedded import EmbeddedEngine
from simulator.engines.embedded.amg import Hierarchy
from simulator.meshing.extract import _local_order, _signed6
from simulator.physics.conductivity import CellConductivity
from structured import box_mesh, two_tissue_law

L = 0.01


def _law(M, s0=0.2, s1=0.8, er=4e4, ei=8e4):
    return CellConductivity(np.full(M, s0), np.full(M, s1), np.full(M, er), np.full(M, ei),
                            np.zeros(M, dtype=np.int64), ("smoothstep",))


def _two_matrices():
    """Reduced matrices of one box with two conductivity fields (same pattern): uniform,
    and 20x higher in a slab next to contact A (a moved electroporated zone)."""
    mesh = box_mesh(n=(16, 12, 12))
    eng = EmbeddedEngine(mesh)
    red = eng._reduce(PulseConfiguration(("A",), ("B",), 1.0))
    x = mesh.centroids()[:, 0]
    s1 = np.ones((mesh.num_cells, 1))
    s2 = np.where(x < 0.4 * L, 20.0, 1.0)[:, None]
    return red.matrix(eng._assemble(s1)), red.matrix(eng._assemble(s2))


def test_refresh_gives_the_galerkin_operators_and_fewer_iterations_than_a_stale_hierarchy():
    A1, A2 = _two_matrices()
    assert A1.shape[0] > 1000                       # several levels
    h = Hierarchy(A1)
    assert h.levels >= 2
    stale_its = _cg_its(A2, h)                      # levels built for A1, fine level A2
    h.refresh(A2)
    for fine, coarse in zip(h.ml.levels[:-1], h.ml.levels[1:]):
        ref = (fine.P.T @ (fine.A @ fine.P)).toarray()
        assert np.allclose(coarse.A.toarray(), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    fresh_its = _cg_its(A2, Hierarchy(A2))
    refreshed_its = _cg_its(A2, h)
    assert refreshed_its < stale_its
    assert refreshed_its <= fresh_its + 2
    h.release()
    assert h.ml.levels[0].A is None
    with pytest.raises(ValueError):
        h.refresh(A2[:-1, :-1])


def _cg_its(A, h):
    """CG iterations to 1e-8 on A with h as preconditioner (stale: fine level swapped only)."""
    eng = EmbeddedEngine.__new__(EmbeddedEngine)
    eng.settings = SolverSettings()
    h.ml.levels[0].A = A
    b = A @ np.linspace(1.0, 2.0, A.shape[0])
    x, its = eng._cg(A, b, h, rtol=1e-8)
    assert np.linalg.norm(A @ x - b) <= 1e-8 * np.linalg.norm(b) * 1.0001
    return its


def test_newton_with_refreshed_coarse_operators_needs_fewer_cg_iterations(monkeypatch):
    """Against the previous policy (the coarse operators of the first setup kept): the same
    answer, fewer CG iterations; and the same bits twice."""
    mesh = box_mesh(n=(14, 10, 10))
    law = _law(mesh.num_cells)
    cfg = PulseConfiguration(("A",), ("B",), 600.0)
    eng = EmbeddedEngine(mesh)
    new = eng.solve_stationary(cfg, law)
    again = EmbeddedEngine(mesh).solve_stationary(cfg, law)
    assert np.array_equal(new.E, again.E) and new.current == again.current
    monkeypatch.setattr(Hierarchy, "refresh", lambda self, A: setattr(self.ml.levels[0], "A", A))
    old = EmbeddedEngine(mesh).solve_stationary(cfg, law)
    assert new.current == pytest.approx(old.current, rel=1e-8)
    assert new.linear_iterations < old.linear_iterations


def test_local_order_renumbers_the_same_mesh_and_makes_cells_compact():
    mesh = box_mesh(n=(12, 12, 12))
    rng = np.random.default_rng(1)
    perm = rng.permutation(mesh.num_points)          # a scrambled numbering, like gmsh's
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    pts = mesh.points[perm]
    tets = inv[mesh.tets].astype(np.int32)
    cells = rng.permutation(mesh.num_cells)
    tets, region = tets[cells], mesh.cell_region[cells]
    spread0 = np.median(tets.max(1) - tets.min(1))
    p2, t2, r2, new = _local_order(pts, tets.copy(), region)
    # the same cells (as coordinate sets), still positively oriented, regions carried along
    key = lambda p, t: np.sort(np.round(p[t].mean(axis=1), 12).view([("", float)] * 3).ravel())
    assert np.array_equal(key(pts, tets), key(p2, t2))
    assert np.all(_signed6(p2, t2) > 0)
    assert np.array_equal(p2[new], pts)
    assert np.array_equal(np.sort(r2), np.sort(region))
    spread = np.median(t2.max(1) - t2.min(1))
    assert spread < 0.1 * spread0 and spread < 0.05 * len(pts)


def test_reduced_unknowns_follow_the_engine_order():
    mesh = box_mesh(n=(8, 6, 6))
    eng = EmbeddedEngine(mesh)
    assert np.array_equal(np.sort(eng._order), np.arange(eng.dofs))
    red = eng._reduce(PulseConfiguration(("A",), ("B",), 1.0))
    free = eng._order[red.rdof[eng._order] >= 0]
    assert np.array_equal(red.rdof[free], np.arange(red.n))
    A = red.matrix(eng._assemble(np.ones((mesh.num_cells, 1))))
    assert isinstance(A, sp.csr_matrix) and abs(A - A.T).max() <= 1e-12 * abs(A).max()


def test_hierarchy_is_pyamgs_default_setup_without_the_strength_copy():
    """The fine level's strength of connection is A itself (memory): the same aggregates,
    prolongators and coarse operators, bit for bit, as pyamg's symmetric strength at theta 0,
    on a matrix with a 20x jump and the Newton term's positive off-diagonals."""
    import pyamg
    from simulator.engines.embedded import amg
    _, A = _two_matrices()
    rng = np.random.default_rng(1)
    noise = sp.triu(A, 1).tocsr()
    noise.data = noise.data * rng.uniform(-0.5, 0.5, noise.nnz)     # some a_ij > 0
    A = (A + noise + noise.T).tocsr()
    A = A + sp.diags(np.asarray(abs(A).sum(axis=1)).ravel())        # still SPD
    A = sp.csr_matrix(A)
    h = Hierarchy(A)
    assert h.levels >= 2
    np.random.seed(amg.AMG_SEED)
    ref = pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=amg.MAX_COARSE,
                                            presmoother=amg.SMOOTHER, postsmoother=amg.SMOOTHER)
    assert len(ref.levels) == h.levels
    for mine, theirs in zip(h.ml.levels, ref.levels):
        for key in ("A", "P"):
            a, b = getattr(mine, key, None), getattr(theirs, key, None)
            assert (a is None) == (b is None)
            if a is not None:
                a, b = sp.csr_matrix(a), sp.csr_matrix(b)
                assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
                assert np.array_equal(a.data, b.data)


def test_late_newton_steps_keep_the_last_refresh(monkeypatch):
    """Once the Newton residual is below RETARGET_BELOW, a Jacobian smooths on the coarse
    levels of the solve's last refresh (Hierarchy.retarget) instead of new Galerkin products:
    the same answer and Newton steps, CG iterations within 10 % of refreshing every step."""
    from simulator.engines.embedded import engine as emb
    mesh = box_mesh(n=(24, 8, 8), region_of=lambda c: c[:, 0] > 0.6 * L)     # two tissues: 5 Newton steps
    law = two_tissue_law(mesh)
    cfg = PulseConfiguration(("A",), ("B",), 500.0)
    calls = []
    refresh, retarget = Hierarchy.refresh, Hierarchy.retarget
    monkeypatch.setattr(Hierarchy, "refresh", lambda self, A: calls.append("refresh") or refresh(self, A))
    monkeypatch.setattr(Hierarchy, "retarget", lambda self, A: calls.append("retarget") or retarget(self, A))
    kept = EmbeddedEngine(mesh).solve_stationary(cfg, law)
    assert "retarget" in calls and calls[0] == "refresh"
    assert calls == sorted(calls)                       # refreshes first, then only retargets
    monkeypatch.setattr(emb, "RETARGET_BELOW", 0.0)     # refresh at every step
    calls.clear()
    every = EmbeddedEngine(mesh).solve_stationary(cfg, law)
    assert "retarget" not in calls
    assert kept.nonlinear_iterations == every.nonlinear_iterations
    assert kept.linear_iterations <= 1.1 * every.linear_iterations
    assert kept.current == pytest.approx(every.current, rel=1e-10)
    assert np.max(np.abs(kept.E - every.E)) <= 1e-9 * np.max(every.E)


def test_blocked_galerkin_product_equals_the_whole_one(monkeypatch):
    """amg.galerkin sums P_b^T (A_b P) over blocks of fine rows (memory): with blocks of 7
    rows (43 blocks, the last one short) on a random SPD system it equals P^T A P to 1e-14
    of its largest entry."""
    import scipy.sparse as sp
    from simulator.engines.embedded import amg
    rng = np.random.default_rng(5)
    n = 300
    R = sp.random(n, n, density=0.02, random_state=rng, format="csr")
    A = (R @ R.T + sp.identity(n) * 5.0).tocsr()
    P = sp.random(n, 40, density=0.05, random_state=rng, format="csr")
    monkeypatch.setattr(amg, "GALERKIN_ROWS", 7)
    C = amg.galerkin(A, P)
    ref = (P.T @ A @ P).toarray()
    assert C.format == "csr" and np.abs(C.toarray() - ref).max() <= 1e-14 * np.abs(ref).max()


def test_compiled_gauss_seidel_equals_pyamgs_and_serves_concurrent_solves(monkeypatch):
    """The GIL-free symmetric sweep gives pyamg's bits; a lone solve uses pyamg's (faster on
    one thread), a solve while another runs the compiled one; a solve's answer is the same
    bits whichever smoothed it."""
    import threading

    import pyamg
    from simulator.engines.embedded import amg, kernels
    A1, _ = _two_matrices()
    A = A1.tocsr()
    rng = np.random.default_rng(3)
    b = rng.random(A.shape[0])
    x1 = rng.random(A.shape[0])
    x2 = x1.copy()
    for _ in range(3):
        pyamg.relaxation.relaxation.gauss_seidel(A, x1, b, iterations=1, sweep="symmetric")
        kernels.gauss_seidel_symmetric(A.indptr, A.indices, A.data, x2, b)
    assert np.array_equal(x1, x2) and not np.array_equal(x1, b)

    calls = []
    real = kernels.gauss_seidel_symmetric
    monkeypatch.setattr(kernels, "gauss_seidel_symmetric", lambda *a: (calls.append(1), real(*a)))
    mesh = box_mesh(n=(14, 10, 10))
    law = _law(mesh.num_cells)
    cfg = PulseConfiguration(("A",), ("B",), 600.0)
    alone = EmbeddedEngine(mesh).solve_stationary(cfg, law)
    assert not calls                                     # one solve: pyamg's sweep
    with amg.solving():                                  # as if another configuration were solving
        together = EmbeddedEngine(mesh).solve_stationary(cfg, law)
    assert calls                                         # the compiled sweep
    assert np.array_equal(alone.E, together.E) and alone.current == together.current
    assert amg._ACTIVE[0] == 0
    # two threads at once: both compiled, the same bits again
    out = []
    threads = [threading.Thread(target=lambda: out.append(EmbeddedEngine(mesh).solve_stationary(cfg, law)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(alone.E, s.E) for s in out) and len(out) == 2


def test_p2_multigrid_starts_with_the_p1_functions_and_solves_the_p2_system():
    """P2's hierarchy: the first prolongator embeds the P1 functions (a linear function's
    vertex values prolong to its values at the free edges' midpoints, and each coarse unknown
    is a vertex's reduced unknown), smoothed aggregation below it; CG with it reaches the
    direct solution of the P2 system to 1e-8, and a refresh with
    a 20x conductivity slab gives the Galerkin operator of the new matrix."""
    import scipy.sparse.linalg as spla
    from simulator.engines.embedded.spaces import p1_embedding
    mesh = box_mesh(n=(10, 8, 8))
    eng = EmbeddedEngine(mesh, SolverSettings(degree=2, linear_rtol=1e-12))
    red = eng._reduce(PulseConfiguration(("A",), ("B",), 1.0))
    P = red.p1_embedding
    assert (P != p1_embedding(eng.space, red.rdof, red.n)).nnz == 0
    N, E = eng.space.num_vertices, eng.space.edges
    vert_r = red.rdof[:N]
    assert P.shape == (red.n, np.unique(vert_r[vert_r >= 0]).size)
    f = mesh.points @ np.array([3.0, -2.0, 5.0]) + 1.0
    coarse = np.zeros(P.shape[1])
    free_v = np.flatnonzero(vert_r >= 0)
    coarse[P[vert_r[free_v]].indices] = f[free_v]              # identity rows: one entry each
    fine = P @ coarse
    er = red.rdof[N:]
    both = (er >= 0) & (vert_r[E[:, 0]] >= 0) & (vert_r[E[:, 1]] >= 0)
    assert np.allclose(fine[er[both]], 0.5 * (f[E[both, 0]] + f[E[both, 1]]), rtol=0, atol=1e-12)
    assert np.allclose(fine[vert_r[free_v]], f[free_v], rtol=0, atol=1e-12)

    x = mesh.centroids()[:, 0]
    sigma = np.where(x < 0.4 * L, 20.0, 1.0)[:, None] * np.ones(eng.space.w.shape)
    A = red.matrix(eng._assemble(np.ones(eng.space.w.shape)))
    A2 = red.matrix(eng._assemble(sigma))
    h = eng._amg(A, red)
    assert h.levels >= 2 and h.ml.levels[0].P.shape == P.shape
    h.refresh(A2)
    assert abs(h.ml.levels[1].A - (P.T @ A2 @ P)).max() <= 1e-12 * abs(A2).max()
    b = np.random.default_rng(1).normal(size=red.n)
    got, its = eng._cg(A2, b, h)
    ref = spla.spsolve(A2.tocsc(), b)
    assert np.linalg.norm(got - ref) <= 1e-8 * np.linalg.norm(ref)
    assert its <= 15          # 11 measured; smoothed aggregation on the P2 matrix itself: 22
