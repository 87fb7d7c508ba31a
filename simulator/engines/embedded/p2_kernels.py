"""Compiled per-cell loops of the P2 space (numba): the Newton Jacobian's CSR data.

The P2 Jacobian was three ``np.einsum`` contractions into (M, 10, 10) element matrices and a
``np.bincount`` scatter: 1.67 s per assembly on the hexagonal example's curved P2 mesh
(131,967 cells, 194,279 DOFs), ~100 s of its 12 configurations' ~60 Newton steps, half the
solve's thread time (benchmarks/CHANGES.md, round 10). The loop here computes each cell's
element matrix in registers and adds it into the CSR data in the order of the flattened
(cell, row, column) triples, the order ``np.bincount`` summed them in: serial, the same bits
on every run and thread count, and it releases the GIL. The element matrix's own sums (over
sample points and directions) are in a different order than einsum's, so values differ from
the einsum version by round-off (~1e-16 relative). ``cache=True``: compiled once per
machine.

Arrays: B (M, Q, 3, 10) basis gradients (1/m), w (M, Q) weights (m^3), sigma and dsE
(sigma'(E) / E) (M, Q) in S/m and S/m / (V/m), g (M, Q, 3) the field's gradient (V/m),
scatter (M * 100,) the CSR position of each (cell, row, column).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def p2_jacobian(B, w, sigma, g, dsE, scatter, data, newton):
    """data[scatter[c, n, k]] += int (sigma I + dsE g g^T) grad N_k . grad N_n over cell c
    (``newton`` False: the sigma term alone), added in (c, n, k) order."""
    M, Q = w.shape
    nb = B.shape[3]
    loc = np.empty((nb, nb))
    bg = np.empty(nb)
    for c in range(M):
        loc[:, :] = 0.0
        for q in range(Q):
            ws = w[c, q] * sigma[c, q]
            for n in range(nb):
                b0, b1, b2 = B[c, q, 0, n], B[c, q, 1, n], B[c, q, 2, n]
                for k in range(nb):
                    loc[n, k] += ws * ((b0 * B[c, q, 0, k] + b1 * B[c, q, 1, k]) + b2 * B[c, q, 2, k])
            if newton:
                wd = w[c, q] * dsE[c, q]
                for n in range(nb):
                    bg[n] = (B[c, q, 0, n] * g[c, q, 0] + B[c, q, 1, n] * g[c, q, 1]) + B[c, q, 2, n] * g[c, q, 2]
                for n in range(nb):
                    for k in range(nb):
                        loc[n, k] += wd * bg[n] * bg[k]
        base = c * nb * nb
        for n in range(nb):
            for k in range(nb):
                data[scatter[base + n * nb + k]] += loc[n, k]


def jacobian_data(B: np.ndarray, w: np.ndarray, sigma: np.ndarray, scatter: np.ndarray, nnz: int,
                  g: np.ndarray | None = None, dsigma_over_E: np.ndarray | None = None) -> np.ndarray:
    """(nnz,) CSR data of the P2 Jacobian (S m: sigma x m^3 / m^2); without ``g`` and
    ``dsigma_over_E`` the stiffness of ``sigma`` alone."""
    newton = g is not None and dsigma_over_E is not None
    data = np.zeros(nnz)
    if not newton:                      # not read by the loop
        g, dsigma_over_E = np.zeros((1, 1, 3)), np.zeros((1, 1))
    p2_jacobian(B, w, np.ascontiguousarray(np.broadcast_to(sigma, w.shape), dtype=float),
                np.ascontiguousarray(g, dtype=float), np.ascontiguousarray(dsigma_over_E, dtype=float),
                scatter, data, newton)
    return data


@njit(cache=True, nogil=True)
def p2_gradient(B, cell_dofs, u, out):
    """out[c, q] = sum_n u[cell_dofs[c, n]] grad N_n(x_cq): grad u at the sample points (V/m
    for u in V), the sum over n in basis order."""
    M, Q = B.shape[0], B.shape[1]
    nb = B.shape[3]
    for c in range(M):
        for q in range(Q):
            x = 0.0
            y = 0.0
            z = 0.0
            for n in range(nb):
                un = u[cell_dofs[c, n]]
                x += B[c, q, 0, n] * un
                y += B[c, q, 1, n] * un
                z += B[c, q, 2, n] * un
            out[c, q, 0] = x
            out[c, q, 1] = y
            out[c, q, 2] = z


@njit(cache=True, nogil=True)
def p2_residual(B, w, sigma, g, cell_dofs, F):
    """F[cell_dofs[c, n]] += sum_q w sigma g . grad N_n over cell c, added in (c, n) order (the
    order np.bincount summed the (M, 10) local vectors in)."""
    M, Q = w.shape
    nb = B.shape[3]
    for c in range(M):
        for n in range(nb):
            acc = 0.0
            for q in range(Q):
                acc += w[c, q] * sigma[c, q] * ((g[c, q, 0] * B[c, q, 0, n] + g[c, q, 1] * B[c, q, 1, n])
                                                + g[c, q, 2] * B[c, q, 2, n])
            F[cell_dofs[c, n]] += acc
