"""The embedded engine's AMG preconditioner: a pyamg smoothed-aggregation hierarchy whose
coarse operators can be refreshed for a new fine matrix on the same sparsity pattern.

Newton's Jacobians of one solve share the pattern of the linear start's matrix but not its
values (sigma(E) and the sigma'(E)/E g g^T term move with the electroporated region). A
hierarchy built once and reused as it was went stale: CG iterations per Newton step grew
to 2-3x a fresh hierarchy's (needle pair at 1e6 DOFs: 23, 19, 27, 41 against 9, 8, 11, 17).
:meth:`Hierarchy.refresh` keeps the aggregates and prolongators P of the first setup and
recomputes only the Galerkin coarse operators P^T A P and the coarse LU: the same CG
iterations as a fresh setup at every step (measured on the needle-pair systems at 1e4, 1e5
and 1e6 DOFs), for a third of a setup's cost. benchmarks/CHANGES.md has the numbers.

Smoothers: symmetric Gauss-Seidel (pointwise: pyamg's default block Gauss-Seidel caches the
inverse diagonal of the matrix it was set up with, which a refresh would leave stale; on
1x1 blocks both do the same sweeps). pyamg's sweep holds the GIL, so two configurations
solved on the engine's two threads overlapped little of their smoothing; while more than one
solve runs (:func:`solving`), the levels use our compiled sweep instead
(:func:`~simulator.engines.embedded.kernels.gauss_seidel_symmetric`: pyamg's arithmetic, the
same bits, GIL released; ~1.5x slower than pyamg's on one thread, so a lone solve keeps
pyamg's). Hexagonal example, 12 configurations on 2 threads: one run 4.05 -> 3.40 s, a
10-voltage sweep 22.2 -> 16.1 s (benchmarks/CHANGES.md, round 8). Levels are CSR (pyamg's 1x1-block BSR relaxes ~30 %
slower) and keep only what the cycle needs.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np
import pyamg
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from simulator.engines.embedded import kernels
from simulator.memory import release_freed_memory

AMG_SEED = 20261129
_SEED_LOCK = threading.Lock()
SMOOTHER = ("gauss_seidel", {"sweep": "symmetric"})
MAX_COARSE = 500            # coarsest level: solved directly (dense Cholesky)
# W-cycle: each coarse level is visited twice per visit of its fine level, so a hierarchy of
# 3-4 levels behaves nearly like the two-grid method with an exact coarse solve that the
# 1e4-DOF meshes get (aggregation coarsens ~20x per level, so the extra coarse work is
# ~10 % of a cycle). Needle pair, CG iterations of a solve V -> W: 1e4 DOFs 31 -> 31 (two
# levels), 1e5 49 -> 40, 1e6 63 -> 47; CG time at 1e6 13.0 -> 10.7 s (benchmarks/CHANGES.md).
CYCLE = "W"


class _DenseCoarse:
    """The coarsest level by dense Cholesky (LU if it is not positive definite), factored
    on first use. At <= MAX_COARSE unknowns it beats sparse LU on these operators, which
    aggressive aggregation makes nearly dense (needle pair at 1e4 DOFs: 478 unknowns, 23,166
    entries: 1.2 ms against 9.6 ms for pyamg's "splu"), and each refresh refactors it."""

    DENSE_MAX = 2000            # larger (max_levels reached first): sparse LU

    def __init__(self):
        self._solve = None

    def __call__(self, A, b):
        if self._solve is None:
            if A.shape[0] > self.DENSE_MAX:
                lu = spla.splu(A.tocsc())
                self._solve = lu.solve
            else:
                D = A.toarray()
                try:
                    f = la.cho_factor(D, check_finite=False)
                    self._solve = lambda r: la.cho_solve(f, r, check_finite=False)
                except la.LinAlgError:
                    f = la.lu_factor(D, check_finite=False)
                    self._solve = lambda r: la.lu_solve(f, r, check_finite=False)
        return self._solve(np.ravel(b))


_ACTIVE = [0]            # solves running in this process (:func:`solving`)
_ACTIVE_LOCK = threading.Lock()


@contextmanager
def solving():
    """Count a solve as running for its duration (the smoother's choice, module docstring)."""
    with _ACTIVE_LOCK:
        _ACTIVE[0] += 1
    try:
        yield
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE[0] -= 1


def _symmetric_gauss_seidel(A, x: np.ndarray, b: np.ndarray) -> None:
    """A level's pre- and post-smoother: one symmetric Gauss-Seidel sweep on A x = b in place;
    the compiled one (GIL released) while other solves run, for the CSR float64 vectors the
    cycle passes, else pyamg's (the same bits either way)."""
    if (_ACTIVE[0] > 1 and A.format == "csr" and x.ndim == 1 and b.ndim == 1 and x.dtype == np.float64 and b.dtype == np.float64
            and x.flags.c_contiguous and b.flags.c_contiguous and A.data.dtype == np.float64):
        kernels.gauss_seidel_symmetric(A.indptr, A.indices, A.data, x, b)
    else:
        pyamg.relaxation.relaxation.gauss_seidel(A, x, b, iterations=1, sweep="symmetric")


def _strength(A: sp.csr_matrix) -> list:
    """pyamg's default strength of connection (symmetric, theta = 0), the fine level's given
    as A itself: at theta = 0 the symmetric strength keeps every entry of A (|a_ij|^2 >= 0),
    and what uses it on the fine level (standard aggregation; the Jacobi prolongation
    smoother does not filter) reads only its pattern, so the hierarchy is the same bits.
    Memory: pyamg's copy of A with its |values| scaled by the row maxima (and two more
    temporaries of that size while it is built) is not made (needle pair at 1e6 DOFs:
    ~195 MB held through the fine level's setup, ~490 MB transient; tests/test_amg.py)."""
    return [("predefined", {"C": A}), ("symmetric", {"theta": 0.0})]


GALERKIN_ROWS = 1 << 17     # fine rows per block of the Galerkin product (memory)


def _rows(M: sp.csr_matrix, a: int, b: int) -> sp.csr_matrix:
    """Rows a..b-1 of a CSR matrix as views of its data and indices (no copy of them)."""
    lo, hi = M.indptr[a], M.indptr[b]
    return sp.csr_matrix((M.data[lo:hi], M.indices[lo:hi], M.indptr[a:b + 1] - lo), shape=(b - a, M.shape[1]))


def galerkin(A: sp.csr_matrix, P: sp.csr_matrix) -> sp.csr_matrix:
    """P^T A P, summed over blocks of GALERKIN_ROWS fine rows: sum_b P_b^T (A_b P) with A_b,
    P_b the block's rows. The whole A P (needle pair at 1e6 DOFs: 12.3e6 entries, ~150 MB)
    and a CSR copy of P^T (~55 MB) were the solve's memory peak; per block they are ~1/8 of
    that, and in the locality (RCM) order of the unknowns a block's rows touch few aggregates,
    so the partial sums are small."""
    n = A.shape[0]
    C = None
    for a in range(0, n, GALERKIN_ROWS):
        b = min(n, a + GALERKIN_ROWS)
        APb = _rows(A, a, b) @ P
        part = _rows(P, a, b).T.tocsr() @ APb
        del APb
        C = part if C is None else C + part
    C.sum_duplicates()
    return C


class Hierarchy:
    """Smoothed-aggregation W-cycle (CYCLE) for an SPD CSR matrix; ``h(b)`` applies one cycle
    (x = 0 start), ``h.refresh(A)`` re-targets it to a matrix with the same pattern."""

    def __init__(self, A: sp.csr_matrix, first: sp.csr_matrix | None = None):
        """``first``: a given prolongator of the finest level (P2: the P1 embedding,
        ``spaces.p1_embedding``); smoothed aggregation then starts from P^T A P."""
        first = None if first is None else first.tocsr()
        coarse_A = A if first is None else galerkin(A, first)
        # pyamg draws from numpy's global random state (spectral-radius estimates): seed it
        # for the setup so that the same input gives the same iterations and digits, and
        # restore it after; the lock keeps concurrent configurations from interleaving.
        with _SEED_LOCK:
            state = np.random.get_state()
            np.random.seed(AMG_SEED)
            try:
                ml = pyamg.smoothed_aggregation_solver(coarse_A, symmetry="hermitian", max_coarse=MAX_COARSE,
                                                       strength=_strength(coarse_A),
                                                       presmoother=SMOOTHER, postsmoother=SMOOTHER)
            finally:
                np.random.set_state(state)
        if first is not None:
            top = pyamg.multilevel.MultilevelSolver.Level()
            top.A, top.P = A, first
            top.presmoother = top.postsmoother = _symmetric_gauss_seidel
            ml.levels.insert(0, top)
        for lvl in ml.levels:
            for key in ("A", "P"):
                op = getattr(lvl, key, None)
                if op is not None and sp.issparse(op) and op.format != "csr":
                    setattr(lvl, key, op.tocsr())
            # memory: the cycle needs only A, P, R and the smoothers. Drop the setup's
            # strength matrix, aggregates, tentative prolongator and candidates (level 0's C
            # is as large as A), and apply R as the CSC view P^T (no copy; same sums in the
            # same order as the CSR transpose, so the same bits)
            for key in ("C", "AggOp", "Cnodes", "T", "B", "BH"):
                if key in lvl.__dict__:
                    delattr(lvl, key)
            if getattr(lvl, "P", None) is not None and sp.issparse(lvl.P):
                lvl.R = lvl.P.T
            if hasattr(lvl, "presmoother"):
                lvl.presmoother = lvl.postsmoother = _symmetric_gauss_seidel
        ml.coarse_solver = _DenseCoarse()
        self.ml = ml
        self.shape = A.shape
        # pyamg's cycle called directly: its aspreconditioner() computes two extra fine-level
        # residual norms per application
        self._cycle = getattr(ml, "_MultilevelSolver__solve", None)
        if self._cycle is None:                         # pragma: no cover - pyamg internals changed
            self._cycle = lambda lvl, x, b, cycle: x.__setitem__(slice(None), ml.solve(b, maxiter=1, cycle=cycle))

    @property
    def levels(self) -> int:
        return len(self.ml.levels)

    def __call__(self, b: np.ndarray) -> np.ndarray:
        levels = self.ml.levels
        if len(levels) == 1:                            # a small system: one direct solve
            return self.ml.coarse_solver(levels[0].A, b)
        x = np.zeros_like(b)
        self._cycle(0, x, b, CYCLE)
        return x

    def copy(self) -> "Hierarchy":
        """A hierarchy sharing this one's prolongators and smoothers whose :meth:`refresh`
        leaves this one as it is (the levels are copied, not their matrices)."""
        import copy
        out = copy.copy(self)
        out.ml = copy.copy(self.ml)
        out.ml.levels = [copy.copy(lvl) for lvl in self.ml.levels]
        out.ml.coarse_solver = _DenseCoarse()
        cycle = getattr(out.ml, "_MultilevelSolver__solve", None)     # bound to the copy's levels
        if cycle is not None:
            out._cycle = cycle
        return out

    def release(self) -> None:
        """Drop the fine-level matrix (the caller's Jacobian) until the next :meth:`refresh`
        (memory: the Newton loop assembles the next Jacobian and line-searches without the
        previous one alive, ~125 MB at 1e6 DOFs)."""
        self.ml.levels[0].A = None

    def retarget(self, A: sp.csr_matrix) -> None:
        """Smooth with the new fine matrix ``A`` (same pattern) and keep the coarse operators
        of the last :meth:`refresh` (a cheaper, slightly weaker cycle for a matrix close to
        the last one)."""
        if A.shape != self.shape:
            raise ValueError("retarget: the matrix has another size than the hierarchy's")
        self.ml.levels[0].A = A

    def refresh(self, A: sp.csr_matrix) -> None:
        """Galerkin coarse operators P^T A P of a new fine matrix on the kept prolongators
        (A must have the pattern of the matrix the hierarchy was built for)."""
        levels = self.ml.levels
        if A.shape != self.shape:
            raise ValueError("refresh: the matrix has another size than the hierarchy's")
        levels[0].A = A
        for fine, coarse in zip(levels[:-1], levels[1:]):
            coarse.A = None                         # before the new one is formed (memory)
            coarse.A = galerkin(fine.A, fine.P)
        release_freed_memory()    # the old coarse operators and products (else RSS creeps ~20 MB per refresh at 1e6 DOFs)
        self.ml.coarse_solver = _DenseCoarse()    # refactored on first use
