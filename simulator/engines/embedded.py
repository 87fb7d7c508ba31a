"""The embedded engine: numpy/scipy assembly and pyamg-preconditioned CG (pip-only).

Speed design (design.md section 4): the element geometry (basis gradients B, weights w)
is computed once per mesh; the global sparsity pattern and the scatter map from element
entries to CSR positions are computed once, so each (re)assembly with a new sigma is a
dense einsum plus one ``np.bincount``. Dirichlet and floating contacts are handled by a
*reduced* system per pulse configuration: DOFs on an active contact are eliminated, the
DOFs of a floating contact are merged into one unknown (zero net current follows from the
variational form). The AMG hierarchy is reused across Newton iterations while CG stays fast.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pyamg
import scipy.sparse as sp
from scipy.sparse.linalg import cg

from ..conductivity import CellConductivity
from ..errors import ConvergenceError
from ..mesh import Mesh
from .base import FieldSolution, PulseConfiguration, SolverSettings
from .spaces import Space, build_space

log = logging.getLogger(__name__)

E_FLOOR = 1e-12   # V/m: below this the direction of grad phi is undefined; sigma'(E)/E -> 0 there


@dataclass
class _Reduced:
    """The reduced system of one pulse configuration."""

    rdof: np.ndarray            # (ndofs,) full DOF -> reduced index, -1 on Dirichlet DOFs
    fixed: np.ndarray           # (ndofs,) bool: Dirichlet DOF
    values: np.ndarray          # (ndofs,) Dirichlet values (V), 0 elsewhere
    n: int                      # reduced size
    indptr: np.ndarray
    indices: np.ndarray
    keep: np.ndarray            # positions of the full CSR entries that survive
    target: np.ndarray          # their position in the reduced CSR data
    anode_dofs: np.ndarray
    floating: dict[str, int]    # floating contact -> reduced index

    def matrix(self, full_data: np.ndarray) -> sp.csr_matrix:
        data = np.bincount(self.target, weights=full_data[self.keep], minlength=len(self.indices))
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))

    def restrict(self, v: np.ndarray) -> np.ndarray:
        """Sum a full-space vector into the reduced space (P^T v)."""
        free = ~self.fixed
        return np.bincount(self.rdof[free], weights=v[free], minlength=self.n)

    def prolong(self, x: np.ndarray) -> np.ndarray:
        """Full-space vector from reduced values (P x), zero on Dirichlet DOFs."""
        out = np.zeros(len(self.rdof))
        free = ~self.fixed
        out[free] = x[self.rdof[free]]
        return out


class EmbeddedEngine:
    """P1/P2 FE engine on one mesh. See module docstring."""

    name = "embedded"

    def __init__(self, mesh: Mesh, settings: SolverSettings | None = None):
        t0 = time.perf_counter()
        self.mesh = mesh
        self.settings = settings or SolverSettings()
        self.space: Space = build_space(mesh, self.settings.degree)
        self.dofs = self.space.num_dofs
        self._build_pattern()
        self._reduced: dict[PulseConfiguration, _Reduced] = {}
        self.timings = {"assemble_setup": time.perf_counter() - t0}

    # ------------------------------------------------------------------ assembly
    def _build_pattern(self) -> None:
        """Global CSR pattern of the stiffness matrix and the element -> CSR scatter map."""
        dofs = self.space.cell_dofs
        nb = dofs.shape[1]
        n = self.space.num_dofs
        rows = np.repeat(dofs, nb, axis=1).ravel()
        cols = np.tile(dofs, (1, nb)).ravel()
        keys = rows * n + cols
        uniq, inv = np.unique(keys, return_inverse=True)
        self._scatter = inv.astype(np.int32 if len(uniq) < 2**31 else np.int64)
        self._indices = (uniq % n).astype(np.int32)
        self._rows = (uniq // n).astype(np.int64)
        counts = np.bincount(self._rows, minlength=n)
        self._indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def _gradient(self, u: np.ndarray) -> np.ndarray:
        """grad u at the quadrature points, (M, Q, 3)."""
        return np.einsum("mqin,mn->mqi", self.space.B, u[self.space.cell_dofs], optimize=True)

    def _residual(self, sigma: np.ndarray, g: np.ndarray) -> np.ndarray:
        """F_i = int sigma grad u . grad v_i over the whole space (A at Dirichlet DOFs)."""
        local = np.einsum("mq,mqi,mqin->mn", self.space.w * sigma, g, self.space.B, optimize=True)
        return np.bincount(self.space.cell_dofs.ravel(), weights=local.ravel(), minlength=self.dofs)

    def _stiffness_data(self, sigma: np.ndarray, g: np.ndarray | None = None,
                        dsigma_over_E: np.ndarray | None = None) -> np.ndarray:
        """CSR data of int (sigma I + sigma'/E g g^T) grad du . grad v (the Newton Jacobian)."""
        B, w = self.space.B, self.space.w
        local = np.einsum("mq,mqin,mqik->mnk", w * sigma, B, B, optimize=True)
        if g is not None and dsigma_over_E is not None and np.any(dsigma_over_E):
            Bg = np.einsum("mqin,mqi->mqn", B, g, optimize=True)
            local += np.einsum("mq,mqn,mqk->mnk", w * dsigma_over_E, Bg, Bg, optimize=True)
        return np.bincount(self._scatter, weights=local.ravel(), minlength=len(self._indices))

    # ------------------------------------------------------------------ configurations
    def _reduce(self, config: PulseConfiguration) -> _Reduced:
        if config in self._reduced:
            return self._reduced[config]
        n = self.dofs
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
        # free DOFs numbered in order; each floating contact becomes one extra unknown
        free = np.flatnonzero(~fixed)
        rdof = np.full(n, -1, dtype=np.int64)
        rdof[free] = np.arange(len(free))
        floating: dict[str, int] = {}
        merged = np.zeros(n, dtype=bool)
        for name in config.floating:
            fd = self.space.facet_dofs(self.mesh.contact_facets[name])
            fd = fd[~fixed[fd] & ~merged[fd]]
            if fd.size == 0:
                continue
            merged[fd] = True
            floating[name] = -2 - len(floating)     # -1 marks Dirichlet DOFs
            rdof[fd] = floating[name]           # placeholder, renumbered below
        # renumber: unmerged free DOFs keep order, merged contacts appended at the end
        plain = ~fixed & ~merged
        rdof[plain] = np.arange(plain.sum())
        base = int(plain.sum())
        for k, name in enumerate(floating):
            rdof[rdof == floating[name]] = base + k
            floating[name] = base + k
        nr = base + len(floating)
        # reduced pattern from the full pattern's entries
        r = rdof[self._rows]
        c = rdof[self._indices]
        keep = np.flatnonzero((r >= 0) & (c >= 0))
        keys = r[keep] * nr + c[keep]
        uniq, target = np.unique(keys, return_inverse=True)
        counts = np.bincount(uniq // nr, minlength=nr)
        red = _Reduced(rdof, fixed, values, nr, np.concatenate([[0], np.cumsum(counts)]),
                       (uniq % nr).astype(np.int32), keep, target, anode_dofs, floating)
        self._reduced[config] = red
        return red

    # ------------------------------------------------------------------ linear algebra
    def _amg(self, A: sp.csr_matrix):
        return pyamg.smoothed_aggregation_solver(A, symmetry="hermitian", max_coarse=500, coarse_solver="splu")

    def _cg(self, A, b, ml, x0=None, rtol=None) -> tuple[np.ndarray, int]:
        its = [0]

        def count(_):
            its[0] += 1

        rtol = self.settings.linear_rtol if rtol is None else rtol
        x, info = cg(A, b, x0=x0, rtol=rtol, atol=0.0, maxiter=self.settings.linear_max_iterations,
                     M=ml.aspreconditioner(cycle="V"), callback=count)
        if info != 0 or not np.all(np.isfinite(x)):
            res = np.linalg.norm(b - A @ x) / max(np.linalg.norm(b), 1e-300)
            raise ConvergenceError("linear solve (CG + AMG)", its[0], float(res))
        return x, its[0]

    # ------------------------------------------------------------------ public API
    def solve_linear(self, config: PulseConfiguration, sigma: np.ndarray,
                     _red: _Reduced | None = None) -> FieldSolution:
        """Solve div(sigma grad phi) = 0 with sigma (S/m) given per cell/quadrature point."""
        t0 = time.perf_counter()
        red = _red or self._reduce(config)
        sigma = np.broadcast_to(np.asarray(sigma, dtype=float).reshape(self.mesh.num_cells, -1),
                                self.space.w.shape)
        A = red.matrix(self._stiffness_data(sigma))
        t1 = time.perf_counter()
        # rhs: -P^T K u_D, computed as the residual of the Dirichlet lift
        b = -red.restrict(self._residual(sigma, self._gradient(red.values)))
        ml = self._amg(A)
        t2 = time.perf_counter()
        x, its = self._cg(A, b, ml)
        t3 = time.perf_counter()
        u = red.values + red.prolong(x)
        g = self._gradient(u)
        F = self._residual(sigma, g)
        sol = self._solution(red, u, g, np.array(sigma), F, 0, its, 0.0, True)
        sol.timings = {"assemble": t1 - t0, "preconditioner": t2 - t1, "linear_solve": t3 - t2}
        return sol

    def solve_stationary(self, config: PulseConfiguration, law: CellConductivity,
                         sigma_floor: np.ndarray | None = None,
                         initial: FieldSolution | None = None) -> FieldSolution:
        """Newton on the convex energy W(phi) = int Psi(|grad phi|), Psi'(E) = sigma(E) E.

        sigma = max(law.sigma(E), sigma_floor). The Jacobian sigma I + sigma'(E)/E g g^T is
        SPD; an exact line search on d(a) = F(phi + a delta).delta (increasing in a by
        convexity) makes every step decrease W. Stops when |F_free| <= rtol |F_Dirichlet|.
        """
        st = self.settings
        tim = {"assemble": 0.0, "preconditioner": 0.0, "linear_solve": 0.0, "line_search": 0.0}
        red = self._reduce(config)
        Q = self.space.w.shape[1]

        def laws(E):
            s = law.sigma(E) if Q == 1 else law.sigma(E)
            ds = law.dsigma(E)
            if Q == 1:
                s, ds = s.reshape(-1, 1), ds.reshape(-1, 1)
            if sigma_floor is not None:
                floor = np.broadcast_to(sigma_floor.reshape(len(s), -1), s.shape)
                ds = np.where(s >= floor, ds, 0.0)
                s = np.maximum(s, floor)
            return s, ds

        def cell_E(g):
            return np.sqrt((g * g).sum(axis=2))

        def field_of(E):
            return E[:, 0] if Q == 1 else E

        # start: linear solution with sigma at E = 0 (or a given initial field)
        u = None
        if initial is not None and initial.potential_full is not None and initial.dofs == self.dofs:
            # project onto the configuration's affine space: merged DOFs take their mean
            x = red.restrict(initial.potential_full) / red.restrict(np.ones(self.dofs))
            u = red.values + red.prolong(x)
        lin_its = 0
        if u is None:
            s0, _ = laws(np.zeros(self.space.w.shape) if Q > 1 else np.zeros(self.mesh.num_cells))
            lin = self.solve_linear(config, s0, red)
            u = lin.potential_full
            lin_its += lin.linear_iterations
            for k in tim:
                tim[k] += lin.timings.get(k, 0.0)
        ml = None
        ml_its = None
        it = 0
        res = np.inf
        while True:
            g = self._gradient(u)
            E = cell_E(g)
            s, ds = laws(field_of(E))
            F = self._residual(s, g)
            Fr = red.restrict(F)
            scale = np.linalg.norm(F[red.fixed])
            res = np.linalg.norm(Fr) / max(scale, 1e-300)
            if not np.isfinite(res):
                raise ConvergenceError("nonlinear solve (Newton)", it, float("nan"), "NaN in the residual")
            if res <= st.rtol:
                break
            if it >= st.max_iterations:
                raise ConvergenceError("nonlinear solve (Newton)", it, float(res))
            it += 1
            ta = time.perf_counter()
            dsE = np.where(E > E_FLOOR, ds / np.maximum(E, E_FLOOR), 0.0)
            J = red.matrix(self._stiffness_data(s, g, dsE))
            tb = time.perf_counter()
            if ml is None:
                ml = self._amg(J)
            tc = time.perf_counter()
            # inexact Newton: solve to a tolerance tied to the nonlinear residual
            lrtol = max(st.linear_rtol, min(1e-3, 0.1 * res))
            dx, its = self._cg(J, -Fr, ml, rtol=lrtol)
            if ml_its is None:
                ml_its = its
            elif its > 3 * ml_its + 10:     # sigma moved far from the hierarchy: rebuild
                ml, ml_its = None, None
            lin_its += its
            td = time.perf_counter()
            delta = red.prolong(dx)
            alpha = self._line_search(s, g, delta, laws, cell_E, field_of)
            u = u + alpha * delta
            te = time.perf_counter()
            tim["assemble"] += tb - ta
            tim["preconditioner"] += tc - tb
            tim["linear_solve"] += td - tc
            tim["line_search"] += te - td
        sol = self._solution(red, u, g, s, F, it, lin_its, float(res), True)
        sol.timings = tim
        return sol

    def _line_search(self, s, g, delta, laws, cell_E, field_of) -> float:
        """Step length: alpha = 1 if d(1) <= 0, else the root of d(a) in (0, 1) (Illinois)."""
        gd = self._gradient(delta)
        w = self.space.w

        def d(a):
            ga = g + a * gd
            sa, _ = laws(field_of(cell_E(ga)))
            return float(np.sum(w * sa * np.einsum("mqi,mqi->mq", ga, gd)))

        d0 = float(np.sum(w * s * np.einsum("mqi,mqi->mq", g, gd)))
        d1 = d(1.0)
        if d1 <= 0 or d0 >= 0:
            return 1.0
        a, b, fa, fb, side = 0.0, 1.0, d0, d1, 0
        for _ in range(12):
            c = (a * fb - b * fa) / (fb - fa)
            fc = d(c)
            if abs(fc) <= 1e-3 * abs(d0):
                return c
            if fc > 0:
                b, fb = c, fc
                if side == -1:
                    fa *= 0.5
                side = -1
            else:
                a, fa = c, fc
                if side == 1:
                    fb *= 0.5
                side = 1
        return c

    def _solution(self, red: _Reduced, u, g, sigma, F, its, lin_its, res, converged) -> FieldSolution:
        E = np.sqrt((g * g).sum(axis=2))
        if not (np.all(np.isfinite(E)) and np.all(np.isfinite(u))):
            raise ConvergenceError("field solve", its, float("nan"), "NaN or Inf in the field")
        current = float(F[red.anode_dofs].sum())
        floating = {name: float(u[np.flatnonzero(red.rdof == k)[0]]) for name, k in red.floating.items()}
        return FieldSolution(E=E, sigma=np.asarray(sigma).reshape(E.shape).copy(), weights=self.space.w,
                             current=current, potential=u[: self.space.num_vertices].copy(),
                             nonlinear_iterations=its, linear_iterations=lin_its, residual=res,
                             converged=converged, floating_potentials=floating, dofs=self.dofs,
                             potential_full=u)
