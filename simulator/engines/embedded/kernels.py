"""Compiled per-cell loops of the P1 engine (numba).

The P1 Newton solve makes ~20 passes over the cells (gradients of the potential and of each
Newton step, residual, Jacobian, line-search trials). In numpy each pass is a chain of
vectorised operations on blocks of cells, each reading and writing (K, 3, 4) temporaries;
above a few 1e5 cells those live in main memory, so a pass costs ~2.5x per cell what it costs
on a small mesh. Here each pass is one loop that rebuilds a cell's basis gradients from its
four points in registers and adds its contributions in place: measured on the needle pair
(residual and Jacobian together; benchmarks/CHANGES.md, "compiled cell loops") 0.21 -> 0.024 s
at 6.4e5 cells and 2.1 -> 0.27 s at 6.3e6 cells (36-43 ns per cell at every size), against
numpy's vectorised blocks; the library is the bottleneck here, so the loops are our own.

Every loop is serial (contributions are added in cell order: the same bits on every run
and thread count) and releases the GIL (``nogil``), so that the configurations of one run
solve concurrently in the engine's threads. ``cache=True``: compiled once per machine
(~1 s per loop), then loaded from numba's cache.

Basis gradients: for a cell with points x0..x3 and edge vectors a = x1 - x0, b = x2 - x0,
c = x3 - x0, the gradients of the barycentrics 1..3 are the rows of J^-1 (J = [a; b; c]):
(b x c, c x a, a x b) / det J, and node 0's is minus their sum (as ``spaces._p1_block``).
"""
from __future__ import annotations

import time

import numpy as np
from numba import njit

# local node pairs of the six edges, in the order of engine.P1_EDGES / the cell -> edge map
_EDGE_I = (0, 0, 0, 1, 1, 2)
_EDGE_J = (1, 2, 3, 2, 3, 3)


@njit(cache=True, nogil=True, inline="always")
def _basis(points, i0, i1, i2, i3, G):
    """Basis gradients of one cell into G (3, 4), 1/m."""
    x0 = points[i0, 0]
    y0 = points[i0, 1]
    z0 = points[i0, 2]
    ax = points[i1, 0] - x0
    ay = points[i1, 1] - y0
    az = points[i1, 2] - z0
    bx = points[i2, 0] - x0
    by = points[i2, 1] - y0
    bz = points[i2, 2] - z0
    cx = points[i3, 0] - x0
    cy = points[i3, 1] - y0
    cz = points[i3, 2] - z0
    p0 = by * cz - bz * cy
    p1 = bz * cx - bx * cz
    p2 = bx * cy - by * cx
    inv = 1.0 / (ax * p0 + ay * p1 + az * p2)
    G[0, 1] = p0 * inv
    G[1, 1] = p1 * inv
    G[2, 1] = p2 * inv
    G[0, 2] = (cy * az - cz * ay) * inv
    G[1, 2] = (cz * ax - cx * az) * inv
    G[2, 2] = (cx * ay - cy * ax) * inv
    G[0, 3] = (ay * bz - az * by) * inv
    G[1, 3] = (az * bx - ax * bz) * inv
    G[2, 3] = (ax * by - ay * bx) * inv
    for i in range(3):
        G[i, 0] = -(G[i, 1] + G[i, 2] + G[i, 3])


@njit(cache=True, nogil=True)
def p1_gradient(points, cells, u, out):
    """grad u per cell into ``out`` (M, 3), V/m, from the nodal values ``u`` (N,)."""
    G = np.empty((3, 4))
    for m in range(cells.shape[0]):
        i0, i1, i2, i3 = cells[m, 0], cells[m, 1], cells[m, 2], cells[m, 3]
        _basis(points, i0, i1, i2, i3, G)
        u0, u1, u2, u3 = u[i0], u[i1], u[i2], u[i3]
        for i in range(3):
            out[m, i] = G[i, 0] * u0 + G[i, 1] * u1 + G[i, 2] * u2 + G[i, 3] * u3
    return out


@njit(cache=True, nogil=True)
def p1_pass(points, cells, w, sigma, g, dsE, cell_edge, F, K, residual, jacobian, newton):
    """One pass over the cells, adding into ``F`` (N,) and/or ``K`` (edges,) in place.

    residual: F_n += w sigma g . grad phi_n (A; the residual of the current field g (M, 3));
    jacobian: K_e += w (sigma grad phi_i . grad phi_j
                        + [newton] sigma'(E)/E (grad phi_i . g)(grad phi_j . g))
    for each cell edge e = (i, j) (S/m * m = S: the off-diagonal entries of the Jacobian).
    ``w`` (M,) cell volumes m^3, ``sigma`` and ``dsE`` (M,) S/m and S/m / (V/m)^2.
    """
    G = np.empty((3, 4))
    bg = np.empty(4)
    for m in range(cells.shape[0]):
        i0, i1, i2, i3 = cells[m, 0], cells[m, 1], cells[m, 2], cells[m, 3]
        _basis(points, i0, i1, i2, i3, G)
        ws = w[m] * sigma[m]
        if residual or newton:
            gx, gy, gz = g[m, 0], g[m, 1], g[m, 2]
            for n in range(4):
                bg[n] = gx * G[0, n] + gy * G[1, n] + gz * G[2, n]
        if residual:
            F[i0] += ws * bg[0]
            F[i1] += ws * bg[1]
            F[i2] += ws * bg[2]
            F[i3] += ws * bg[3]
        if jacobian:
            wd = w[m] * dsE[m] if newton else 0.0
            for e in range(6):
                i = _EDGE_I[e]
                j = _EDGE_J[e]
                v = ws * (G[0, i] * G[0, j] + G[1, i] * G[1, j] + G[2, i] * G[2, j])
                if wd != 0.0:
                    v += wd * bg[i] * bg[j]
                K[cell_edge[m, e]] += v


@njit(cache=True, nogil=True)
def trial(g, gd, a, E, p):
    """Line-search trial at step ``a``: per cell the field E = |g + a gd| (V/m) into ``E`` and
    (g + a gd) . gd into ``p`` (M,), from the current field ``g`` and the step's ``gd`` (M, 3)."""
    for m in range(g.shape[0]):
        x = g[m, 0] + gd[m, 0] * a
        y = g[m, 1] + gd[m, 1] * a
        z = g[m, 2] + gd[m, 2] * a
        E[m] = np.sqrt(x * x + y * y + z * z)
        p[m] = x * gd[m, 0] + y * gd[m, 1] + z * gd[m, 2]


@njit(cache=True, nogil=True)
def weighted_sum(w, s, p):
    """sum_m w_m s_m p_m (the line search's slope from its per-cell factors)."""
    acc = 0.0
    for m in range(w.shape[0]):
        acc += w[m] * s[m] * p[m]
    return acc


@njit(cache=True, nogil=True)
def step(g, gd, a):
    """g += a gd in place, with the operations of :func:`trial` (the same bits)."""
    for m in range(g.shape[0]):
        g[m, 0] = g[m, 0] + gd[m, 0] * a
        g[m, 1] = g[m, 1] + gd[m, 1] * a
        g[m, 2] = g[m, 2] + gd[m, 2] * a


@njit(cache=True, nogil=True)
def gauss_seidel_symmetric(indptr, indices, data, x, b):
    """One symmetric Gauss-Seidel sweep (forward, then backward) on the CSR system A x = b,
    in place: the arithmetic of pyamg's ``amg_core.gauss_seidel`` row by row (off-diagonal
    sum in the row's entry order, x_i = (b_i - sum) / a_ii, rows with a zero diagonal left),
    so the same bits. Ours because pyamg's holds the GIL: the configurations solved on the
    engine's two threads overlapped little of their smoothing (benchmarks/CHANGES.md)."""
    n = x.shape[0]
    for sweep in range(2):
        for k in range(n):
            i = k if sweep == 0 else n - 1 - k
            rsum = 0.0
            diag = 0.0
            for jj in range(indptr[i], indptr[i + 1]):
                j = indices[jj]
                if i == j:
                    diag = data[jj]
                else:
                    rsum += data[jj] * x[j]
            if diag != 0.0:
                x[i] = (b[i] - rsum) / diag


def as_rows(a: np.ndarray) -> np.ndarray:
    """A C-contiguous 2-D (M, k) view of a per-cell array (M, 1, k) or (M, k) (no copy when it
    already is one), or 1-D for (M, 1) / (M,): the layouts the loops are compiled for."""
    a = np.asarray(a)
    if a.ndim == 3:
        a = a.reshape(a.shape[0], a.shape[2])
    elif a.ndim == 2 and a.shape[1] == 1:
        a = a.reshape(-1)
    return np.ascontiguousarray(a)


def _load() -> float:
    """Load (or, on a new machine, compile) every loop for the index types meshes use, at
    import: the first call of a numba function costs ~0.2 s (its runtime's start-up), paid
    here once per process instead of inside the first solve's timings. Returns seconds."""
    t0 = time.perf_counter()
    points = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    one, g = np.ones(1), np.ones((1, 3))
    for it in (np.int32, np.int64):
        cells, edges = np.arange(4, dtype=it).reshape(1, 4), np.arange(6, dtype=it).reshape(1, 6)
        p1_gradient(points, cells, np.ones(4), np.empty((1, 3)))
        p1_pass(points, cells, one, one, g, one, edges, np.zeros(4), np.zeros(6), True, True, True)
    trial(g, g, 0.5, np.empty(1), np.empty(1))
    weighted_sum(one, one, one)
    step(np.ones((1, 3)), g, 0.5)
    for it in (np.int32, np.int64):
        gauss_seidel_symmetric(np.array([0, 1], dtype=it), np.zeros(1, dtype=it), one, np.zeros(1), one)
    return time.perf_counter() - t0


LOAD_SECONDS = _load()      # reported by benchmarks/runner.py (not part of a solve's timings)
