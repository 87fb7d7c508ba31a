"""The embedded engine: numpy/scipy assembly and pyamg-preconditioned CG (pip-only).

Speed design (design.md section 4, measured in benchmarks/, see benchmarks/CHANGES.md):

* The element geometry (weights w, basis gradients) is computed once per mesh. P1 keeps no
  gradients: its per-cell loops (gradient of a potential, residual, Jacobian, line-search
  trials) are compiled (``kernels.py``, numba) and rebuild each cell's basis gradients from
  its points in registers (no temporaries; 36-43 ns per cell and pass at every mesh size).
  P2 loops run in blocks of cells (bounded temporaries; memory, issue 5).
* P1: the stiffness matrix and the Newton Jacobian have zero row sums (the hat functions
  sum to one), so they are fixed by one value per mesh *edge*: each (re)assembly is six
  products per cell and one ``np.bincount`` onto the edges; the diagonal is minus the row
  sum. No (M, 16) element matrices, no (M, 16) scatter map.
* P2: a global CSR pattern and the scatter map from element entries to CSR positions are
  built once (by a C-level sort, not ``np.unique`` over M*100 keys).
* Dirichlet and floating contacts are handled by a *reduced* system per pulse configuration:
  DOFs on an active contact are eliminated, the DOFs of a floating contact are merged into
  one unknown (zero net current follows from the variational form). Its CSR structure is
  built once per configuration (a few kept in an LRU cache).
* Linear algebra: pyamg smoothed aggregation as a W-cycle preconditioner (called directly,
  without pyamg's per-call residual norms) inside a plain CG whose inner products do not go
  through a multithreaded BLAS (threaded level-1 BLAS only slows a loaded 2-core machine).
  One hierarchy per Newton solve (the linear start's); each Jacobian gets its Galerkin
  coarse operators on the kept prolongators (amg.py: the iterations of a fresh setup).
* The heavy kernels release the GIL (the compiled loops, numpy ufuncs/einsum, scipy sparse
  products), so independent pulse configurations may be solved from several threads
  (``parallel_safe``; simulator/train.py does this for the stationary model).
"""
from __future__ import annotations

import copy
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import replace

import numpy as np
import pyamg
import scipy.sparse as sp
from scipy.sparse.csgraph import reverse_cuthill_mckee

from simulator.physics.conductivity import CellConductivity
from simulator.errors import ConvergenceError
from simulator.meshing.mesh import Mesh
from simulator.memory import release_freed_memory
from simulator.engines.line_search import exact_line_search
from simulator.engines.base import FieldSolution, PulseConfiguration, SolverSettings
from simulator.engines.embedded import kernels, p2_kernels
from simulator.engines.embedded.amg import Hierarchy, solving
from simulator.engines.embedded.blas import single_threaded_blas
from simulator.engines.embedded.reduced import (Reduced, ReducedEdges, ReducedScatter, csr_structure, itype,
                                                unique_pairs)
from simulator.engines.embedded.spaces import Space, build_space, p1_embedding

log = logging.getLogger(__name__)

E_FLOOR = 1e-12   # V/m: below this the direction of grad phi is undefined; sigma'(E)/E -> 0 there
REDUCED_CACHE = 3  # reduced structures (per pulse configuration) kept, least recently used dropped
REDUCED_CACHE_DOFS = 1_000_000  # ... or as many as fit this many DOFs in all (a study's 12
                                # configurations on a small mesh: not rebuilt at every point)
REUSE_WARM_HIERARCHY = True  # a warm start reuses its start's AMG aggregates (Galerkin refreshed)
RETARGET_BELOW = 1e-2   # Newton residual below which a Jacobian keeps the coarse levels of this
                        # solve's last refresh (a warm start: from its second step on)
INITIAL_RTOL = 1e-6  # CG tolerance of the linear start of Newton (Newton corrects the rest)
P1_EDGES = np.array([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]])


def newton_linear_rtol(res: float, rtol: float, floor: float) -> float:
    """CG tolerance of a Newton step at relative residual ``res`` (inexact Newton): 0.1 res
    (the step's own quadratic error is ~res^2), at most 1e-3, but no tighter than the step
    needs to end 100x below the solve's ``rtol`` (the new residual is at most about
    tolerance x res + C res^2): a last step from 4e-8 towards 1e-10 solves to 2.5e-5, not
    4e-9 (hexagonal sweep, warm starts: CG iterations of that step 13 -> ~6)."""
    return max(floor, min(1e-3, max(0.1 * res, 0.01 * rtol / res)))


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product without BLAS (a threaded ddot spins on a loaded 2-core machine)."""
    return float(np.einsum("i,i->", a, b))


class EmbeddedEngine:
    """P1/P2 FE engine on one mesh. See module docstring."""

    name = "embedded"
    parallel_safe = True        # solve_* may run concurrently from several threads
    keeps_warm_state = True     # solve_stationary(..., keep_state=True) sets FieldSolution.warm_state

    def __init__(self, mesh: Mesh, settings: SolverSettings | None = None):
        t0 = time.perf_counter()
        self.mesh = mesh
        self.settings = settings or SolverSettings()
        self.space: Space = build_space(mesh, self.settings.degree)
        self.dofs = self.space.num_dofs
        self._p1 = self.space.degree == 1
        if self._p1:
            self._build_edges()
            self._points = np.ascontiguousarray(mesh.points, dtype=float)
            self._cells = np.ascontiguousarray(self.space.cell_dofs)
            self._cell_edges = self._cell_edge.reshape(-1, 6)
            self._volumes = kernels.as_rows(self.space.w)
        else:
            self._build_pattern()
        self._order = self._locality_order()
        self._reduced: OrderedDict[PulseConfiguration, Reduced] = OrderedDict()
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        release_freed_memory()          # the setup's temporaries (~1/2 of the engine's RSS at 6e5 cells)
        self.timings = {"assemble_setup": time.perf_counter() - t0}

    def cancel(self, stop: bool = True) -> None:
        """Make solves running in other threads stop at their next Newton iteration
        (``stop=False`` re-arms the engine)."""
        if stop:
            self._cancel.set()
        else:
            self._cancel.clear()

    # ------------------------------------------------------------------ assembly
    def _build_edges(self) -> None:
        """P1: mesh edges and the cell -> edge map."""
        tets = self.space.cell_dofs
        M, N = tets.shape[0], self.dofs
        it = itype(max(N, 6 * M) + 1)
        a = tets[:, P1_EDGES[:, 0]].astype(it)
        b = tets[:, P1_EDGES[:, 1]].astype(it)
        lo = np.minimum(a, b).ravel()
        np.maximum(a, b, out=a)
        del b
        self._edge_lo, self._edge_hi, self._cell_edge = unique_pairs(lo, a.ravel(), N)
        del a, lo

    def _build_pattern(self) -> None:
        """General (P2): global CSR pattern and the element -> CSR scatter map."""
        dofs = self.space.cell_dofs
        nb = dofs.shape[1]
        n = self.space.num_dofs
        it = itype(max(n, dofs.size * nb) + 1)
        rows = np.repeat(dofs.astype(it), nb, axis=1).ravel()
        cols = np.tile(dofs.astype(it), (1, nb)).ravel()
        self._rows, self._indices, self._scatter = unique_pairs(rows, cols, n)
        del rows, cols
        counts = np.bincount(self._rows, minlength=n)
        self._indptr = np.concatenate([[0], np.cumsum(counts)]).astype(it)

    def _locality_order(self) -> np.ndarray:
        """The DOFs in reverse Cuthill-McKee order of the matrix graph (scipy.sparse.csgraph).

        The reduced systems number their unknowns in this order, so that matrix rows touch
        nearby vector entries. gmsh's node order is far from local (needle pair at 1e6 DOFs:
        median |i - j| over the matrix entries 65,714, after RCM 3,402): a matrix-vector
        product 0.056 -> 0.018 s, AMG setup and CG ~2x faster there (benchmarks/CHANGES.md).
        """
        n = self.dofs
        if self._p1:
            lo, hi = self._edge_lo, self._edge_hi
            indptr, indices, _ = csr_structure(np.concatenate([lo, hi]), np.concatenate([hi, lo]), n)
        else:
            indptr, indices = self._indptr, self._indices
        graph = sp.csr_matrix((np.ones(len(indices), dtype=np.int8), indices, indptr), shape=(n, n))
        order = reverse_cuthill_mckee(graph, symmetric_mode=True)
        return order.astype(itype(n + 1), copy=False)

    def _gradient(self, u: np.ndarray) -> np.ndarray:
        """grad u at the quadrature points, (M, Q, 3), V/m for u in V."""
        if self._p1:
            out = np.empty((len(self._cells), 3))
            kernels.p1_gradient(self._points, self._cells, np.ascontiguousarray(u, dtype=float), out)
            return out.reshape(-1, 1, 3)
        out = np.empty(self.space.w.shape + (3,))
        p2_kernels.p2_gradient(self.space.B, self.space.cell_dofs, np.ascontiguousarray(u, dtype=float), out)
        return out

    def _residual(self, sigma: np.ndarray, g: np.ndarray) -> np.ndarray:
        """F_i = int sigma grad u . grad v_i over the whole space (A at Dirichlet DOFs)."""
        if not self._p1:
            F = np.zeros(self.dofs)
            p2_kernels.p2_residual(self.space.B, self.space.w,
                                   np.ascontiguousarray(np.broadcast_to(sigma, self.space.w.shape), dtype=float),
                                   np.ascontiguousarray(g, dtype=float), self.space.cell_dofs, F)
            return F
        return self._p1_pass(sigma, g, residual=True)[0]

    def _assemble(self, sigma: np.ndarray, g: np.ndarray | None = None,
                  dsigma_over_E: np.ndarray | None = None) -> np.ndarray:
        """Values of int (sigma I + sigma'/E g g^T) grad du . grad v (the Newton Jacobian).

        P1: one value per mesh edge (its off-diagonal entry); P2: the full CSR data.
        """
        if not self._p1:
            newton = g is not None and dsigma_over_E is not None and np.any(dsigma_over_E)
            return self._stiffness_data(sigma, g if newton else None, dsigma_over_E)
        return self._p1_pass(sigma, g, dsigma_over_E, jacobian=True)[1]

    def _residual_and_jacobian(self, sigma: np.ndarray, g: np.ndarray,
                               dsigma_over_E: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``_residual`` and ``_assemble`` of the same state in one pass over the cells (P1
        meshes that rebuild their gradients: one rebuild instead of two; the same bits)."""
        return self._p1_pass(sigma, g, dsigma_over_E, residual=True, jacobian=True)

    def _p1_pass(self, sigma, g, dsigma_over_E=None, residual=False, jacobian=False):
        """P1: the residual F (per DOF) and/or the Jacobian's edge values (per mesh edge) in
        one compiled loop over the cells (:func:`kernels.p1_pass`: basis gradients rebuilt
        from the points per cell, contributions added in cell order)."""
        newton = jacobian and g is not None and dsigma_over_E is not None and bool(np.any(dsigma_over_E))
        M = len(self._cells)
        F = np.zeros(self.dofs) if residual else np.empty(0)
        K = np.zeros(len(self._edge_lo)) if jacobian else np.empty(0)
        gr = kernels.as_rows(g) if (residual or newton) else np.empty((0, 3))
        dsE = kernels.as_rows(dsigma_over_E) if newton else np.empty(0)
        kernels.p1_pass(self._points, self._cells, self._volumes, kernels.as_rows(sigma).reshape(M), gr, dsE,
                        self._cell_edges, F, K, residual, jacobian, newton)
        return (F if residual else None), (K if jacobian else None)

    def _stiffness_data(self, sigma: np.ndarray, g: np.ndarray | None = None,
                        dsigma_over_E: np.ndarray | None = None) -> np.ndarray:
        """P2: CSR data of the Jacobian, each cell's element matrix added in a compiled loop
        (:mod:`p2_kernels`)."""
        return p2_kernels.jacobian_data(self.space.B, self.space.w, sigma, self._scatter, len(self._indices),
                                        g, dsigma_over_E)

    # ------------------------------------------------------------------ configurations
    def _reduce(self, config: PulseConfiguration) -> Reduced:
        """The configuration's reduced system; the structure is kept per contact roles (at
        1 V) and shared by every voltage (only the Dirichlet values scale)."""
        unit = replace(config, voltage=1.0)
        with self._lock:
            red = self._reduced.get(unit)
            if red is not None:
                self._reduced.move_to_end(unit)
        if red is None:
            red = self._build_reduced(unit)
            release_freed_memory()      # its (E,)-sized temporaries sit below glibc's mmap threshold
            with self._lock:
                self._reduced[unit] = red
                while len(self._reduced) > max(REDUCED_CACHE, REDUCED_CACHE_DOFS // max(self.dofs, 1)):
                    self._reduced.popitem(last=False)
        if config.voltage == 1.0:
            return red
        red = copy.copy(red)            # shares the structure arrays
        red.values = red.values * config.voltage        # 0 or 1 times V: the same bits as V
        return red

    def _build_reduced(self, config: PulseConfiguration) -> Reduced:
        n = self.dofs
        it = itype(n + 1)
        fixed = np.zeros(n, dtype=bool)
        values = np.zeros(n)
        anode_dofs = np.unique(np.concatenate(
            [self.space.facet_dofs(self.mesh.contact_facets[c]) for c in config.anode]))
        cathode_dofs = np.unique(np.concatenate(
            [self.space.facet_dofs(self.mesh.contact_facets[c]) for c in config.cathode]))
        if np.intersect1d(anode_dofs, cathode_dofs).size:
            raise ValueError("anode and cathode contacts touch each other")
        fixed[anode_dofs] = fixed[cathode_dofs] = True
        values[anode_dofs] = config.voltage
        rdof = np.full(n, -1, dtype=it)
        floating: dict[str, int] = {}
        merged = np.zeros(n, dtype=bool)
        groups = []
        for name in config.floating:
            fd = self.space.facet_dofs(self.mesh.contact_facets[name])
            fd = fd[~fixed[fd] & ~merged[fd]]
            if fd.size == 0:
                continue
            merged[fd] = True
            groups.append((name, fd))
        # unmerged free DOFs in the engine's locality order, each floating contact one unknown at the end
        plain = ~fixed & ~merged
        base = int(plain.sum())
        rdof[self._order[plain[self._order]]] = np.arange(base, dtype=it)   # in locality order
        for k, (name, fd) in enumerate(groups):
            rdof[fd] = base + k
            floating[name] = base + k
        info = dict(rdof=rdof, fixed=fixed, values=values, n=base + len(groups), anode_dofs=anode_dofs,
                    floating=floating, merged=merged)
        if self._p1:
            red = ReducedEdges(info, self._edge_lo, self._edge_hi)
        else:
            red = ReducedScatter(info, self._rows, self._indices)
            red.p1_embedding = p1_embedding(self.space, red.rdof, red.n)    # the first coarse level (_amg)
        del red.merged
        return red

    # ------------------------------------------------------------------ linear algebra
    def _amg(self, A: sp.csr_matrix, red: Reduced) -> Hierarchy:
        """P1: smoothed aggregation on A. P2: a P2 -> P1 level first (p-multigrid), then
        smoothed aggregation on the P1 operator: on the hexagonal example's curved P2 mesh
        (162,683 unknowns, one linear solve) setup 1.61 -> 0.35 s, CG 25 iterations in
        2.67 s -> 29 in 1.40 s, against smoothed aggregation on the P2 matrix itself."""
        return Hierarchy(A) if self._p1 else Hierarchy(A, red.p1_embedding)

    def _cg(self, A, b, precond, x0=None, rtol=None) -> tuple[np.ndarray, int]:
        """Preconditioned CG; stops at |r| <= rtol |b| (like scipy's cg with atol = 0)."""
        rtol = self.settings.linear_rtol if rtol is None else rtol
        maxiter = self.settings.linear_max_iterations
        bnorm = np.sqrt(_dot(b, b))
        if bnorm == 0.0:
            return np.zeros_like(b), 0
        if x0 is None:
            x = np.zeros_like(b)
            r = b.copy()
        else:
            x = np.array(x0, dtype=float)
            r = b - A @ x
        tol = rtol * bnorm
        rnorm = np.sqrt(_dot(r, r))
        it = 0
        if rnorm > tol:
            z = precond(r)
            p = z.copy()
            rz = _dot(r, z)
            while True:
                it += 1
                q = A @ p
                pq = _dot(p, q)
                if not (pq > 0.0 and np.isfinite(pq)):
                    break
                alpha = rz / pq
                x += alpha * p
                r -= alpha * q
                rnorm = np.sqrt(_dot(r, r))
                if rnorm <= tol or it >= maxiter:
                    break
                z = precond(r)
                rz_new = _dot(r, z)
                p *= rz_new / rz
                p += z
                rz = rz_new
        if not (rnorm <= tol) or not np.all(np.isfinite(x)):
            res = np.sqrt(_dot(b - A @ x, b - A @ x)) / bnorm
            raise ConvergenceError("linear solve (CG + AMG)", it, float(res))
        return x, it

    # ------------------------------------------------------------------ public API
    def heat_operator(self, conductivity: np.ndarray, rho_c: np.ndarray, perfusion: np.ndarray,
                      skin: np.ndarray, skin_h: float):
        """The P1 Pennes operator on this mesh (see :meth:`Engine.heat_operator`)."""
        from simulator.engines.embedded.heat import assemble_heat
        return assemble_heat(self.mesh, conductivity, rho_c, perfusion, skin, skin_h)

    def solve_linear(self, config: PulseConfiguration, sigma: np.ndarray,
                     _red: Reduced | None = None) -> FieldSolution:
        """Solve div(sigma grad phi) = 0 with sigma (S/m) given per cell/quadrature point."""
        with single_threaded_blas(), solving():
            return self._solve_linear(config, sigma, _red)[0]

    def _solve_linear(self, config, sigma, red=None, rtol=None, potential_only=False):
        """div(sigma grad u) = 0 with the configuration's contacts: (solution, hierarchy, CG
        iterations); ``potential_only`` (Newton's start): the full-space potential instead of a
        solution, and ``sigma`` (when the caller passes its only reference) is dropped before
        the AMG setup, the solve's memory peak (8 B/cell)."""
        t0 = time.perf_counter()
        red = red or self._reduce(config)
        sigma = np.broadcast_to(np.asarray(sigma, dtype=float).reshape(self.mesh.num_cells, -1),
                                self.space.w.shape)
        A = red.matrix(self._assemble(sigma))
        t1 = time.perf_counter()
        # rhs: -P^T K u_D, computed as the residual of the Dirichlet lift
        b = -red.restrict(self._residual(sigma, self._gradient(red.values)))
        if potential_only:
            del sigma
        ml = self._amg(A, red)
        t2 = time.perf_counter()
        x, its = self._cg(A, b, ml, rtol=rtol)
        t3 = time.perf_counter()
        u = red.values + red.prolong(x)
        timings = {"assemble": t1 - t0, "preconditioner": t2 - t1, "linear_solve": t3 - t2}
        if potential_only:
            return u, ml, its, timings
        g = self._gradient(u)
        F = self._residual(sigma, g)
        sol = self._solution(red, u, g, np.array(sigma), F, 0, its, 0.0, True)
        sol.timings = timings
        return sol, ml, its

    def solve_stationary(self, config: PulseConfiguration, law: CellConductivity,
                         sigma_floor: np.ndarray | None = None,
                         initial: FieldSolution | None = None, *, rtol: float | None = None,
                         keep_state: bool = False, start_sweeps: int = 0) -> FieldSolution:
        """Newton on the convex energy W(phi) = int Psi(|grad phi|), Psi'(E) = sigma(E) E.

        sigma = max(law.sigma(E), sigma_floor). The Jacobian sigma I + sigma'(E)/E g g^T is
        SPD; an exact line search on d(a) = F(phi + a delta).delta (increasing in a by
        convexity) makes every step decrease W. Stops when |F_free| <= rtol |F_Dirichlet|
        (``rtol``: the settings' unless given).

        ``initial``: start from its potential instead of the linear solve at sigma(E = 0);
        when it carries a ``warm_state`` (its solve ran with ``keep_state=True``, same contact
        roles), the first Jacobian's preconditioner is that solve's AMG hierarchy refreshed
        for the new Jacobian (``Hierarchy.refresh``) instead of a new setup. (The hierarchy kept
        as it was, not refreshed, needed 2-3x the CG iterations of a new one.)
        ``keep_state``: set ``warm_state`` on the solution (the last hierarchy used).
        ``start_sweeps`` > 0 (with ``initial``): the first Newton step solves J du = -F by that
        many symmetric Gauss-Seidel sweeps instead of AMG-CG, for a start interpolated from
        another mesh (solve.transfer), whose error is mostly mesh-scale noise (residual as
        large as the linear start's) that the sweeps remove; measured on the hexagonal example
        moved 1 mm, 2 sweeps: 4 further Newton iterations instead of 5-6, ~25 % less time.
        """
        with single_threaded_blas(), solving():
            return self._newton(config, law, sigma_floor, initial, self.settings.rtol if rtol is None else rtol,
                                keep_state, start_sweeps if initial is not None else 0)

    def _newton(self, config, law, sigma_floor, initial, rtol, keep_state=False, sweeps=0) -> FieldSolution:
        st = self.settings
        tim = {"assemble": 0.0, "preconditioner": 0.0, "linear_solve": 0.0, "line_search": 0.0}
        red = self._reduce(config)
        Q = self.space.w.shape[1]

        def laws(E, derivative=True):
            Ef = E[:, 0] if Q == 1 else E
            s = law.sigma(Ef).reshape(E.shape)
            ds = law.dsigma(Ef).reshape(E.shape) if derivative else None
            if sigma_floor is not None:
                floor = np.broadcast_to(sigma_floor.reshape(len(s), -1), s.shape)
                if derivative:
                    ds = np.where(s >= floor, ds, 0.0)
                np.maximum(s, floor, out=s)         # in place (memory: no second (M, Q) array)
            return s, ds

        def derivative(E):
            """sigma'(E) alone (as laws(E)[1]; without a floor sigma itself is not needed)"""
            if sigma_floor is not None:
                return laws(E)[1]
            return law.dsigma(E[:, 0] if Q == 1 else E).reshape(E.shape)

        def over_E(E, ds):
            """sigma'(E) / E per cell, 0 where E is below E_FLOOR (the Newton term's factor)"""
            return np.where(E > E_FLOOR, ds / np.maximum(E, E_FLOOR), 0.0)

        def cell_E(g):
            return np.sqrt(np.einsum("mqi,mqi->mq", g, g))

        # start: linear solution with sigma at E = 0 (or a given initial field)
        u = None
        if initial is not None and initial.potential_full is not None and initial.dofs == self.dofs:
            # project onto the configuration's affine space: merged DOFs take their mean
            x = red.restrict(initial.potential_full) / red.restrict(np.ones(self.dofs))
            u = red.values + red.prolong(x)
        lin_its = 0
        ml = None
        if u is None:
            u, ml, lin_its, lin_tim = self._solve_linear(
                config, laws(np.zeros(self.space.w.shape), derivative=False)[0], red,
                rtol=max(st.linear_rtol, INITIAL_RTOL), potential_only=True)
            ml.release()                # keeps its prolongators for the Jacobians, not sigma0's matrix
            for k in tim:
                tim[k] += lin_tim.get(k, 0.0)
        # the linear start's aggregates and prolongators serve every Jacobian (sigma(E) is far
        # from sigma0, so its coarse operators are recomputed: Hierarchy.refresh); a full setup
        # when there was no linear start, or when CG slowed down (iterations per decade above
        # 2x + 2 those of the first Jacobian)
        ml_rate = None
        # a warm start of a sweep: the previous voltage's hierarchy, its coarse operators
        # refreshed for this Jacobian (Hierarchy.refresh) instead of a new setup
        state = getattr(initial, "warm_state", None) if REUSE_WARM_HIERARCHY else None
        warm = state is not None and state[0] == red.n and ml is None
        if warm:
            ml, ml_rate = state[1].copy(), state[2]
        it = 0
        res = np.inf
        fitted = False          # the coarse levels were made for a Jacobian of this solve
        g = self._gradient(u)
        E = cell_E(g)
        s, ds = laws(E)
        # P1 computes the residual and the Jacobian in one pass over the cells (one rebuild of
        # the basis gradients instead of two) unless this step is expected to converge (the
        # last residual squared below rtol: Newton's quadratic rate), where the Jacobian
        # would be wasted
        fuse = self._p1
        res_prev = np.inf
        while True:
            values = None
            if fuse and res_prev * res_prev > rtol:
                dsE = over_E(E, ds)
                del E, ds
                t_fused = time.perf_counter()
                F, values = self._residual_and_jacobian(s, g, dsE)
                tim["assemble"] += time.perf_counter() - t_fused      # with the residual's share
                del dsE
            else:
                F = self._residual(s, g)
            Fr = red.restrict(F)
            Fd = F[red.fixed]
            scale = np.sqrt(_dot(Fd, Fd))
            res = np.sqrt(_dot(Fr, Fr)) / max(scale, 1e-300)
            if not np.isfinite(res):
                raise ConvergenceError("nonlinear solve (Newton)", it, float("nan"), "NaN in the residual")
            log.debug("Newton %d: residual %.3e (rtol %.1e)", it, res, rtol)
            if res <= rtol:
                break
            if it >= st.max_iterations:
                raise ConvergenceError("nonlinear solve (Newton)", it, float(res))
            if self._cancel.is_set():
                raise ConvergenceError("nonlinear solve (Newton)", it, float(res), "cancelled")
            it += 1
            res_prev = res
            ta = time.perf_counter()
            if values is None:
                dsE = over_E(E, ds)
                del E, ds                       # recomputed by the line search (memory)
                values = self._assemble(s, g, dsE)
                del dsE
            J = red.matrix(values)
            del values, s       # sigma at u: the line search's slope at 0 is F . delta (memory: 8 B/cell)
            tb = time.perf_counter()
            if sweeps:                                      # a start from another mesh: see above
                dx = np.zeros_like(Fr)
                pyamg.relaxation.relaxation.gauss_seidel(J, dx, -Fr, iterations=sweeps, sweep="symmetric")
                del J
                sweeps = 0
                tc = time.perf_counter()
            else:
                if ml is None:
                    ml = self._amg(J, red)
                    fitted = True
                elif fitted and (warm or res < RETARGET_BELOW):
                    ml.retarget(J)      # coarse levels of an earlier Jacobian of this solve (below)
                else:
                    ml.refresh(J)
                    fitted = True
                tc = time.perf_counter()
                lrtol = newton_linear_rtol(res, rtol, st.linear_rtol)
                dx, its = self._cg(J, -Fr, ml, rtol=lrtol)
                ml.release()
                del J
                rate = its / max(-np.log10(lrtol), 1.0)        # iterations per decade
                if ml_rate is None:
                    ml_rate = rate
                elif rate > 2.0 * ml_rate + 2.0:                # P no longer fits the Jacobians
                    ml = None
                lin_its += its
            td = time.perf_counter()
            d0 = _dot(Fr, dx)                   # F(u) . delta: delta is 0 on the contacts
            delta = red.prolong(dx)
            del dx
            alpha, g, E, s = self._line_search(d0, g, delta, laws)
            u += alpha * delta
            ds = derivative(E)
            te = time.perf_counter()
            tim["assemble"] += tb - ta
            tim["preconditioner"] += tc - tb
            tim["linear_solve"] += td - tc
            tim["line_search"] += te - td
        sol = self._solution(red, u, g, s, F, it, lin_its, float(res), True)
        sol.timings = tim
        if keep_state and ml is not None:
            sol.warm_state = (red.n, ml.copy(), ml_rate)
        return sol

    def _line_search(self, d0, g, delta, laws):
        """Step length by :func:`~simulator.engines.line_search.exact_line_search`.

        ``d0``: the slope at a = 0, F(u) . delta (the residual along the step; as the trials'
        sum over cells at a = 0, without sigma at u, which is dropped before the linear solve).

        Returns alpha and the gradient (``g`` updated in place to g + alpha grad delta), field
        and conductivity at u + alpha delta (the gradient is linear in u, so nothing is
        recomputed for the next Newton iteration). A trial is one compiled pass over the cells
        (P1) or sample points (P2) (kernels.trial: the trial field and the slope factor
        (g + a gd) . gd, no trial gradient array); it keeps its field E and sigma.
        """
        shape = self.space.w.shape
        w = self._volumes if self._p1 else self.space.w.reshape(-1)
        rows = w.shape[0]                   # cells (P1) or sample points (P2)
        gd = self._gradient(delta).reshape(rows, 3)
        g2 = g.reshape(rows, 3)
        last = {}

        def d(a):
            last.clear()                    # drop the previous trial's arrays first (memory)
            Ea, pa = np.empty(rows), np.empty(rows)
            kernels.trial(g2, gd, a, Ea, pa)
            Ea = Ea.reshape(shape)
            sa, _ = laws(Ea, derivative=False)
            last.update(a=a, E=Ea, s=sa)
            return float(kernels.weighted_sum(w, sa.reshape(rows), pa))

        alpha, _ = exact_line_search(d, d0)
        if last.get("a") != alpha:
            d(alpha)
        kernels.step(g2, gd, alpha)         # g += alpha gd: the trial's operations (same bits)
        return alpha, g2.reshape(g.shape), last["E"], last["s"]

    def _solution(self, red: Reduced, u, g, sigma, F, its, lin_its, res, converged) -> FieldSolution:
        E = np.sqrt(np.einsum("mqi,mqi->mq", g, g))
        if not (np.all(np.isfinite(E)) and np.all(np.isfinite(u))):
            raise ConvergenceError("field solve", its, float("nan"), "NaN or Inf in the field")
        current = float(F[red.anode_dofs].sum())
        floating = {name: float(u[np.flatnonzero(red.rdof == k)[0]]) for name, k in red.floating.items()}
        return FieldSolution(E=E, sigma=np.asarray(sigma).reshape(E.shape).copy(), weights=self.space.w,
                             current=current, potential=u[: self.space.num_vertices].copy(),
                             nonlinear_iterations=its, linear_iterations=lin_its, residual=res,
                             converged=converged, floating_potentials=floating, dofs=self.dofs,
                             potential_full=u)
