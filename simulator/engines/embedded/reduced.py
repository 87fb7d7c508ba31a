"""Reduced linear systems of one pulse configuration, and the sparse-structure helpers.

Each pulse configuration fixes some DOFs (anode and cathode contacts: Dirichlet) and merges
others (each floating contact: one unknown with zero net current). The reduced system maps
full-space vectors to the reduced unknowns (``restrict`` = P^T, ``prolong`` = P) and builds
the reduced CSR matrix straight from assembled values, with a structure computed once per
configuration.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

try:                                    # C-level COO -> CSR and per-row sort (fast grouping)
    from scipy.sparse import _sparsetools as _st
except ImportError:                     # pragma: no cover - fallback below
    _st = None

SCATTER_BLOCK = 1 << 20     # edges per block when the reduced matrix is scattered from edge values


def itype(n: int):
    """The narrowest index dtype (int32 or int64) for indices below ``n``."""
    return np.int32 if n < 2**31 - 2 else np.int64


def _sort_by_row(rows: np.ndarray, cols: np.ndarray, n: int, it) -> tuple | None:
    """(indptr, sorted cols, order) of the pairs (rows[k], cols[k]) by scipy's C COO -> CSR
    conversion (a counting sort by row) and per-row sort; None where that private API is not
    usable (int64 indices, or it changed), so that the caller sorts int64 keys instead."""
    if _st is None or it is not np.int32:
        return None
    k = int(rows.size)
    try:
        indptr, sorted_cols, order = np.empty(n + 1, it), np.empty(k, it), np.empty(k, it)
        _st.coo_tocsr(n, n, k, np.ascontiguousarray(rows, dtype=it), np.ascontiguousarray(cols, dtype=it),
                      np.arange(k, dtype=it), indptr, sorted_cols, order)
        _st.csr_sort_indices(n, indptr, sorted_cols, order)
    except Exception:                   # pragma: no cover - private API changed: sort instead
        return None
    return indptr, sorted_cols, order


def unique_pairs(lo: np.ndarray, hi: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group index pairs (lo[k], hi[k]) with entries in [0, n).

    Returns the distinct pairs sorted by (lo, hi) as two arrays and, for every input pair,
    the index of its distinct pair. Uses scipy's C COO -> CSR conversion (a counting sort by
    lo) and per-row sort: O(K) plus short sorts, instead of an O(K log K) sort of int64 keys.
    """
    k = int(lo.size)
    it = itype(max(n, k) + 1)
    if k == 0:
        return np.zeros(0, it), np.zeros(0, it), np.zeros(0, it)
    rows = None
    Bp, cols, order = _sort_by_row(lo, hi, n, it) or (None, None, None)
    if Bp is None:
        keys = lo.astype(np.int64) * n + hi
        order = np.argsort(keys, kind="stable").astype(it)
        keys = keys[order]
        rows, cols = (keys // n).astype(it), (keys % n).astype(it)
        del keys
    new = np.empty(k, dtype=bool)
    new[0] = True
    np.not_equal(cols[1:], cols[:-1], out=new[1:])
    if rows is None:                    # CSR rows: each non-empty row starts a new pair
        starts = Bp[:-1]
        new[starts[starts < Bp[1:]]] = True
        pos = np.flatnonzero(new)
        urows = (np.searchsorted(Bp, pos, side="right") - 1).astype(it)
        del pos
    else:
        new[1:] |= rows[1:] != rows[:-1]
        urows = rows[new]
        del rows
    ucols = cols[new]
    ids = np.cumsum(new, dtype=it, out=cols)      # cols is not needed any more: reuse it
    del new
    ids -= 1
    inverse = np.empty(k, it)
    inverse[order] = ids
    return urows, ucols, inverse


def csr_structure(rows: np.ndarray, cols: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR (indptr, indices) of distinct entries (rows[k], cols[k]) and perm: data = values[perm]."""
    k = int(rows.size)
    it = itype(max(n, k) + 1)
    done = _sort_by_row(rows, cols, n, it)
    if done is not None:
        return done
    keys = rows.astype(np.int64) * n + cols
    perm = np.argsort(keys, kind="stable").astype(it)
    indices = cols[perm].astype(it)
    counts = np.bincount(rows, minlength=n)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(it)
    return indptr, indices, perm


class Reduced:
    """The reduced system of one pulse configuration: DOF maps and the CSR structure."""

    rdof: np.ndarray            # (ndofs,) full DOF -> reduced index, -1 on Dirichlet DOFs
    fixed: np.ndarray           # (ndofs,) bool: Dirichlet DOF
    values: np.ndarray          # (ndofs,) Dirichlet values (V), 0 elsewhere
    n: int                      # reduced size
    anode_dofs: np.ndarray
    floating: dict[str, int]    # floating contact -> reduced index
    indptr: np.ndarray
    indices: np.ndarray

    def restrict(self, v: np.ndarray) -> np.ndarray:
        """Sum a full-space vector into the reduced space (P^T v)."""
        return np.bincount(self._free_r, weights=v[self._free], minlength=self.n)

    def prolong(self, x: np.ndarray) -> np.ndarray:
        """Full-space vector from reduced values (P x), zero on Dirichlet DOFs."""
        out = np.zeros(len(self.rdof))
        out[self._free] = x[self._free_r]
        return out

    def _maps(self) -> None:
        self._free = np.flatnonzero(~self.fixed).astype(self.rdof.dtype)
        self._free_r = self.rdof[self._free]

    def matrix(self, assembled: np.ndarray) -> sp.csr_matrix:   # pragma: no cover - abstract
        """The reduced matrix from assembled values (edge values for P1, CSR data for P2)."""
        raise TypeError(f"{type(self).__name__} must implement matrix()")


class ReducedEdges(Reduced):
    """P1: the reduced matrix from edge values K_e (off-diagonal entries of the full matrix).

    Reduced off-diagonal (r, s) = sum of K_e over edges joining r and s; reduced diagonal r =
    -sum of K_e over edges leaving r (zero row sums), Dirichlet neighbours included.
    """

    def __init__(self, base: dict, edges_lo: np.ndarray, edges_hi: np.ndarray):
        self.__dict__.update(base)
        self._maps()
        n = self.n
        ra, rb = self.rdof[edges_lo], self.rdof[edges_hi]
        cross = ra != rb
        both = cross & (ra >= 0) & (rb >= 0)
        merged = self.merged
        plain = both & ~merged[edges_lo] & ~merged[edges_hi]
        self.plain = np.flatnonzero(plain).astype(ra.dtype)
        touch = np.flatnonzero(both & ~plain).astype(ra.dtype)
        lo = np.minimum(ra[touch], rb[touch])
        hi = np.maximum(ra[touch], rb[touch])
        tlo, thi, self.touch_inv = unique_pairs(lo, hi, n)
        self.touch = touch
        self.n_touch = len(tlo)
        plo, phi = ra[self.plain], rb[self.plain]
        # diagonal: each crossing edge subtracts K_e from its free endpoints. Computed per
        # assembly from the full-space sums of K_e at every node (restricted), minus twice
        # the edges inside a floating contact (both ends one unknown: no crossing); no
        # (2E,) row/edge index arrays kept (memory: 118 MB at 1e6 DOFs)
        self.edges_lo, self.edges_hi = edges_lo, edges_hi
        self.inner = np.flatnonzero(~cross & (ra >= 0)).astype(ra.dtype)
        self.inner_rows = ra[self.inner]
        del ra, rb, cross, both, plain
        it = self.rdof.dtype
        rows = np.concatenate([plo, tlo, phi, thi, np.arange(n, dtype=it)])
        cols = np.concatenate([phi, thi, plo, tlo, np.arange(n, dtype=it)])
        self.indptr, self.indices, perm = csr_structure(rows, cols, n)
        del rows, cols
        # the inverse permutation: entry k of [off, off, diag] goes to data[pos[k]] (the matrix
        # is scattered piece by piece, without the (nnz,) concatenation: memory)
        self.pos = np.empty_like(perm)
        self.pos[perm] = np.arange(len(perm), dtype=perm.dtype)
        del perm

    def matrix(self, ev: np.ndarray) -> sp.csr_matrix:
        # the diagonal first: np.bincount's int64 copy of the (E,) int32 edge ends (59 MB at
        # 1e6 DOFs) is gone before the (nnz,) data array exists (memory; the same operations)
        N = len(self.rdof)
        node_sum = np.bincount(self.edges_lo, weights=ev, minlength=N)
        node_sum += np.bincount(self.edges_hi, weights=ev, minlength=N)
        diag = self.restrict(node_sum)
        del node_sum
        if len(self.inner):
            diag -= 2.0 * np.bincount(self.inner_rows, weights=ev[self.inner], minlength=self.n)
        np.negative(diag, out=diag)
        # off-diagonal values [ev[plain], sums over the touch groups] scattered to both
        # triangles; the plain edges per block (memory: no (E,) gather of them, 56 MB at 1e6 DOFs)
        kp = len(self.plain)
        k = kp + self.n_touch
        data = np.empty(len(self.pos))
        for c in range(0, kp, SCATTER_BLOCK):
            e = min(c + SCATTER_BLOCK, kp)
            part = ev[self.plain[c:e]]
            data[self.pos[c:e]] = part
            data[self.pos[k + c:k + e]] = part
        if self.n_touch:
            t = np.bincount(self.touch_inv, weights=ev[self.touch], minlength=self.n_touch)
            data[self.pos[kp:k]] = t
            data[self.pos[k + kp:2 * k]] = t
            del t
        data[self.pos[2 * k:]] = diag
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))


class ReducedScatter(Reduced):
    """P2 (general): the reduced matrix from the data of the full CSR matrix."""

    p1_embedding = None     # (n, n1) CSR: the P1 functions in this space (spaces.p1_embedding; set by the engine)

    def __init__(self, base: dict, rows: np.ndarray, cols: np.ndarray):
        self.__dict__.update(base)
        self._maps()
        r, c = self.rdof[rows], self.rdof[cols]
        self.keep = np.flatnonzero((r >= 0) & (c >= 0))
        rr, rc, self.target = unique_pairs(r[self.keep], c[self.keep], self.n)
        self.indptr, self.indices, perm = csr_structure(rr, rc, self.n)
        # distinct pairs come sorted by (row, col): already CSR order
        assert np.array_equal(perm, np.arange(len(perm)))

    def matrix(self, full_data: np.ndarray) -> sp.csr_matrix:
        data = np.bincount(self.target, weights=full_data[self.keep], minlength=len(self.indices))
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))
