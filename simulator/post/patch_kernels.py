"""Compiled loops of the patch recovery (:mod:`simulator.post.above`), numba.

The recovery visits every (cell, corner) pair: the patch moments of each vertex-material key
(volume, first and second moments of centroid - vertex), each pair's weight in its key's
value, and, for every field, the weighted sum and the range (min/max) of the cell values per
key. In numpy these were blocked gathers, ``np.bincount`` per moment and ``np.minimum.at``
(slow: ~1 s per 2.5e7 pairs); at 6.3e6 cells (needle-pair-l) the recovery took 17.9 of
the post-processing's ~20 s (cProfile, benchmarks/CHANGES.md round 7). The loops here do the
same sums in the same (cell, corner) order, serially (the same bits on every run), and
release the GIL.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _centroid(points, tets, c):
    """Centroid (m) of cell c, summed as numpy's mean over the 4 corners."""
    i0, i1, i2, i3 = tets[c, 0], tets[c, 1], tets[c, 2], tets[c, 3]
    x = ((points[i0, 0] + points[i1, 0]) + points[i2, 0]) + points[i3, 0]
    y = ((points[i0, 1] + points[i1, 1]) + points[i2, 1]) + points[i3, 1]
    z = ((points[i0, 2] + points[i1, 2]) + points[i2, 2]) + points[i3, 2]
    return x / 4.0, y / 4.0, z / 4.0


@njit(cache=True, nogil=True, inline="always")
def _corner(points, tets, mat, nm, c, k, cx, cy, cz):
    """Key p * nm + mat of corner k of cell c and centroid - vertex (m) (dx, dy, dz)."""
    p = tets[c, k]
    return p * nm + mat[c], cx - points[p, 0], cy - points[p, 1], cz - points[p, 2]


@njit(cache=True, nogil=True, inline="always")
def _project(x, y, z, axes, a):
    """Coordinate (m) of the point (x, y, z) along ``axes[a]``."""
    return (x * axes[a, 0] + y * axes[a, 1]) + z * axes[a, 2]


@njit(cache=True, nogil=True)
def patch_moments(points, tets, mat, nm, volume, size):
    """(10, size) per key p * nm + mat: W = sum vol, W dx (3), and the second moments
    sum vol dx_i dx_j for (i, j) in (0,0), (1,1), (2,2), (0,1), (0,2), (1,2); dx = centroid -
    vertex (m)."""
    acc = np.zeros((10, size))
    for c in range(tets.shape[0]):
        cx, cy, cz = _centroid(points, tets, c)
        v = volume[c]
        for k in range(4):
            key, dx, dy, dz = _corner(points, tets, mat, nm, c, k, cx, cy, cz)
            acc[0, key] += v
            acc[1, key] += v * dx
            acc[2, key] += v * dy
            acc[3, key] += v * dz
            acc[4, key] += v * dx * dx
            acc[5, key] += v * dy * dy
            acc[6, key] += v * dz * dz
            acc[7, key] += v * dx * dy
            acc[8, key] += v * dx * dz
            acc[9, key] += v * dy * dz
    return acc


@njit(cache=True, nogil=True)
def patch_weights(points, tets, mat, nm, volume, winv, xbar, y, keys, weights):
    """Fill keys (M, 4) and weights (M, 4): vol winv[key] (1 - (dx - xbar[key]) . y[key])."""
    for c in range(tets.shape[0]):
        cx, cy, cz = _centroid(points, tets, c)
        v = volume[c]
        for k in range(4):
            key, dx, dy, dz = _corner(points, tets, mat, nm, c, k, cx, cy, cz)
            d = ((dx - xbar[key, 0]) * y[key, 0] + (dy - xbar[key, 1]) * y[key, 1]) + (dz - xbar[key, 2]) * y[key, 2]
            keys[c, k] = key
            weights[c, k] = v * winv[key] * (1.0 - d)


@njit(cache=True, nogil=True)
def patch_nodal(keys, weights, cell, used):
    """(size,) sum of weights * cell per key, clipped to the range of the key's cell values
    (0 for keys no cell uses)."""
    size = used.shape[0]
    raw = np.zeros(size)
    lo = np.full(size, np.inf)
    hi = np.full(size, -np.inf)
    for c in range(keys.shape[0]):
        e = cell[c]
        for k in range(4):
            key = keys[c, k]
            raw[key] += weights[c, k] * e
            if e < lo[key]:
                lo[key] = e
            if e > hi[key]:
                hi[key] = e
    out = np.zeros(size)
    for i in range(size):
        if used[i]:
            out[i] = min(max(raw[i], lo[i]), hi[i])
    return out


@njit(cache=True, nogil=True)
def zone_bounds(points, tets, key_cells, mat, nm, nodal, threshold, axes):
    """(lo, hi) (3,) each, m: the range along ``axes`` (3, 3) of the points of
    {recovered field >= threshold}: the vertices at or above it (r = value / threshold >= 1)
    and the points where the interpolant crosses it on a tet's edges
    (:func:`simulator.post.zones.zone_extent`). Corner k of cell c has its value at
    ``nodal[key_cells[c, k] * nm + mat[c]]`` (``RecoveredField.key_cells``)."""
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    r = np.empty(4)
    q = np.empty(3)
    for c in range(tets.shape[0]):
        t = threshold[c]
        for k in range(4):
            r[k] = nodal[key_cells[c, k] * nm + mat[c]] / t
        for k in range(4):
            if r[k] >= 1.0:
                p = tets[c, k]
                for a in range(3):
                    v = _project(points[p, 0], points[p, 1], points[p, 2], axes, a)
                    lo[a] = min(lo[a], v)
                    hi[a] = max(hi[a], v)
        for i in range(3):
            for j in range(i + 1, 4):
                ra, rb = r[i], r[j]
                if (ra - 1.0) * (rb - 1.0) < 0:
                    s = (1.0 - ra) / (rb - ra)
                    pa, pb = tets[c, i], tets[c, j]
                    for d in range(3):
                        q[d] = points[pa, d] + s * (points[pb, d] - points[pa, d])
                    for a in range(3):
                        v = _project(q[0], q[1], q[2], axes, a)
                        lo[a] = min(lo[a], v)
                        hi[a] = max(hi[a], v)
    return lo, hi


@njit(cache=True, nogil=True, inline="always")
def _fraction(v1, v2, v3, v4, t):
    """:func:`simulator.post.above.fraction_above` of one tet (its vertex values sorted
    ascending, threshold t), in the same operations (the same bits), clipped to [0, 1]."""
    k = (v1 > t) + (v2 > t) + (v3 > t) + (v4 > t)
    if k == 4:
        return 1.0
    if k == 0:
        return 0.0
    if k == 1:
        d = v4 - t
        out = d / (v4 - v1) * d / (v4 - v2) * d / (v4 - v3)
    elif k == 3:
        a = t - v1
        out = 1.0 - a / (v2 - v1) * a / (v3 - v1) * a / (v4 - v1)
    else:
        s13, s14 = (t - v1) / (v3 - v1), (t - v1) / (v4 - v1)
        s23, s24 = (t - v2) / (v3 - v2), (t - v2) / (v4 - v2)
        out = (1 - s13) * (1 - s23) + s13 * (1 - s23) * (1 - s14) + s23 * (1 - s14) * (1 - s24)
    if out < 0.0:
        return 0.0
    if out > 1.0:
        return 1.0
    return out


@njit(cache=True, nogil=True)
def fraction_rows(v, t, out):
    """out[b] = the fraction of tet b above t[b], from its sorted vertex values v[b] (B, 4)."""
    for b in range(v.shape[0]):
        out[b] = _fraction(v[b, 0], v[b, 1], v[b, 2], v[b, 3], t[b])


@njit(cache=True, nogil=True)
def volumes_above(tets, mat, nm, nodal, volume, cells, t, out):
    """out[i] = volume (m^3) of cell cells[i] where the recovered field (``nodal`` at the keys
    tets[c, k] * nm + material: ``RecoveredField.key_cells`` as ``tets``) is above t[i]: the corners gathered and sorted (a sorting
    network: the values of np.sort) per cell, no (B, 4) temporaries."""
    for i in range(cells.shape[0]):
        c = cells[i]
        m = mat[c]
        a = nodal[tets[c, 0] * nm + m]
        b = nodal[tets[c, 1] * nm + m]
        d = nodal[tets[c, 2] * nm + m]
        e = nodal[tets[c, 3] * nm + m]
        if a > b:
            a, b = b, a
        if d > e:
            d, e = e, d
        if a > d:
            a, d = d, a
        if b > e:
            b, e = e, b
        if b > d:
            b, d = d, b
        out[i] = volume[c] * _fraction(a, b, d, e, t[i])
