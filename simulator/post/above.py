"""The volume above a field threshold, as a smooth function of the mesh (issue 11).

The field per cell is piecewise constant (P1) or sampled at quadrature points (P2): a volume
counted as the sum of whole cells whose field exceeds the threshold jumps by a cell as the
mesh moves, and Richardson extrapolation on such a sum is unreliable. Here instead:

1. **Recovery**: each cell's field (the volume-weighted mean of its sample points) is
   averaged to the vertices, volume-weighted, over the cells *of the same material* around
   each vertex: the field is discontinuous across a conductivity jump, so a vertex on a
   tissue interface carries one value per material (Zienkiewicz-Zhu style averaging,
   Zienkiewicz & Zhu 1987, Int. J. Numer. Meth. Eng. 24:337).
2. **Clipping**: within each tet the linear interpolant of its four vertex values is
   compared with the threshold exactly: the fraction of the tet where it is >= the
   threshold is a closed form of the sorted vertex values (cases 0-4 vertices above; the
   two-above case is the prism between the iso-plane and the edge joining the two vertices
   above, split into three tets).

The result moves continuously with the vertices and the threshold: it is the one definition
of every reported threshold volume and coverage fraction (:mod:`simulator.post.coverage`,
:mod:`simulator.post.zones`, :mod:`simulator.post.assumptions`).
[A] For P2 the recovered field is that of the cell means (a linear recovery, not P2's own
quadratic one).
"""
from __future__ import annotations

import numpy as np

from simulator.meshing.mesh import Mesh

_BLOCK = 1 << 17        # cells per block (bounds the (B, 4) temporaries)
FLAT = 1e-3             # [A] patch centroids this close to a plane (eigenvalue ratio): no gradient fit


def fraction_above(v: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """(B,) volume fraction of each tet where the linear interpolant of its vertex values
    ``v`` (B, 4), **sorted ascending per row**, is > ``t`` (scalar or (B,), same unit).

    With k the number of vertices above t: k = 1 is the corner tet at v4, k = 3 the
    complement of the corner tet at v1, k = 2 the prism (P3, X13, X23)-(P4, X14, X24) with
    X_ij the crossing on edge ij at s_ij = (t - v_i) / (v_j - v_i), as three tets of
    barycentric volumes (1-s13)(1-s23), s13 (1-s23)(1-s14) and s23 (1-s14)(1-s24).
    Every ratio has a denominator at least its numerator (no cancellation)."""
    t = np.broadcast_to(np.asarray(t, dtype=float), v.shape[:1])
    v1, v2, v3, v4 = v[:, 0], v[:, 1], v[:, 2], v[:, 3]
    k = (v > t[:, None]).sum(axis=1)
    out = (k == 4).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = k == 1
        if m.any():
            d = v4[m] - t[m]
            out[m] = d / (v4[m] - v1[m]) * d / (v4[m] - v2[m]) * d / (v4[m] - v3[m])
        m = k == 3
        if m.any():
            a = t[m] - v1[m]
            out[m] = 1.0 - a / (v2[m] - v1[m]) * a / (v3[m] - v1[m]) * a / (v4[m] - v1[m])
        m = k == 2
        if m.any():
            tm, a1, a2, b3, b4 = t[m], v1[m], v2[m], v3[m], v4[m]
            s13, s14 = (tm - a1) / (b3 - a1), (tm - a1) / (b4 - a1)
            s23, s24 = (tm - a2) / (b3 - a2), (tm - a2) / (b4 - a2)
            out[m] = (1 - s13) * (1 - s23) + s13 * (1 - s23) * (1 - s14) + s23 * (1 - s14) * (1 - s24)
    return np.clip(out, 0.0, 1.0)


class RecoveredField:
    """The per-material vertex average of a per-cell field, and the volumes above thresholds.

    ``E_max``, ``weights``: (M, Q) field (V/m) and volume (m^3) of each sample point."""

    def __init__(self, mesh: Mesh, E_max: np.ndarray, weights: np.ndarray):
        self.mesh = mesh
        w = np.asarray(weights, dtype=float)
        self.volume = w.sum(axis=1)                                     # (M,) m^3
        cell = E_max[:, 0] if E_max.shape[1] == 1 else (w * E_max).sum(axis=1) / np.where(
            self.volume > 0, self.volume, 1.0)
        names = sorted({r.material for r in mesh.regions})
        self._nm = len(names)
        self._mat = np.array([names.index(r.material) for r in mesh.regions], dtype=np.int64)[mesh.cell_region]
        self.nodal = self._patch_fit(cell)

    def _patch_fit(self, cell: np.ndarray) -> np.ndarray:
        """(N * materials,) vertex values: E(x_v) of the volume-weighted least-squares plane
        E ~ Ebar + g . (x - xbar) through the centroid values of the patch (the cells of
        one material around the vertex), i.e. the patch average plus a gradient correction
        (superconvergent patch recovery, Zienkiewicz & Zhu 1992, Int. J. Numer. Meth. Eng.
        33:1331). A patch whose centroids do not span 3-D (eigenvalue ratio below FLAT)
        keeps the plain average. The value is limited to the range of the patch's cell
        values: on a material's boundary the patch lies on one side of the vertex and the
        plane's extrapolation can overshoot (seen: -170 V/cm at a tumour-surface vertex whose
        cells held 930-1170 V/cm), which would count cells above a threshold everywhere as
        partly below it."""
        mesh = self.mesh
        size = mesh.num_points * self._nm
        acc = np.zeros((14, size))      # W, W dx (3), W E, W dx E (3), W dx dx^T (6)
        lo, hi = np.full(size, np.inf), np.full(size, -np.inf)     # range of the patch's values
        pairs = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))
        for a in range(0, mesh.num_cells, _BLOCK):
            cells = slice(a, a + _BLOCK)
            tets = mesh.tets[cells]
            cen = mesh.points[tets].mean(axis=1)
            dx = (cen[:, None, :] - mesh.points[tets]).reshape(-1, 3)    # centroid - vertex, per corner
            vol = np.repeat(self.volume[cells], 4)
            e = np.repeat(cell[cells], 4)
            keys = self._keys(cells).ravel()
            cols = [vol, *(vol * dx[:, i] for i in range(3)), vol * e, *(vol * e * dx[:, i] for i in range(3)),
                    *(vol * dx[:, i] * dx[:, j] for i, j in pairs)]
            for r, c in enumerate(cols):
                acc[r] += np.bincount(keys, weights=c, minlength=size)
            np.minimum.at(lo, keys, e)
            np.maximum.at(hi, keys, e)
        W = acc[0]
        used = W > 0
        Wu = W[used]
        xbar = acc[1:4, used] / Wu                           # patch centroid - vertex
        ebar = acc[4, used] / Wu
        s = acc[5:8, used] / Wu - xbar * ebar               # covariance of dx and E
        C = np.empty((Wu.size, 3, 3))
        for (i, j), row in zip(pairs, acc[8:14, used]):
            C[:, i, j] = C[:, j, i] = row / Wu - xbar[i] * xbar[j]
        lam = np.linalg.eigvalsh(C)
        ok = lam[:, 0] > FLAT * lam[:, 2]
        g = np.zeros((Wu.size, 3))
        g[ok] = np.linalg.solve(C[ok], s[:, ok].T[..., None])[..., 0]
        out = np.zeros(size)
        out[used] = np.clip(ebar - np.einsum("ij,ji->i", g, xbar), lo[used], hi[used])   # E at dx = 0
        return out

    def _keys(self, cells) -> np.ndarray:
        return self.mesh.tets[cells].astype(np.int64) * self._nm + self._mat[cells, None]

    def corners(self, cells) -> np.ndarray:
        """(B, 4) recovered field (V/m) at the vertices of ``cells`` (a slice or index array)."""
        return self.nodal[self._keys(cells)]

    def volume_above(self, threshold, cells: np.ndarray | None = None) -> np.ndarray:
        """Volume (m^3) of each cell (all, or the index/bool array ``cells``) where the
        recovered field is >= ``threshold`` (V/m: a scalar, or per cell of the same cells)."""
        idx = np.arange(self.mesh.num_cells) if cells is None else (
            np.flatnonzero(cells) if np.asarray(cells).dtype == bool else np.asarray(cells))
        th = np.broadcast_to(np.asarray(threshold, dtype=float), idx.shape)
        out = np.empty(idx.size)
        for a in range(0, idx.size, _BLOCK):
            c = idx[a:a + _BLOCK]
            out[a:a + _BLOCK] = self.volume[c] * fraction_above(np.sort(self.corners(c), axis=1), th[a:a + _BLOCK])
        return out

    def fractions_above(self, thresholds: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """(T,) volume fraction of ``cells`` above each of ``thresholds`` (V/m, scalars)."""
        idx = np.flatnonzero(cells) if np.asarray(cells).dtype == bool else np.asarray(cells)
        total = self.volume[idx].sum()
        if total <= 0:
            return np.full(len(thresholds), np.nan)
        v = np.sort(self.corners(idx), axis=1)
        vol = self.volume[idx]
        ts = np.asarray(thresholds, dtype=float)
        order = np.argsort(ts, kind="stable")
        tsorted = ts[order]
        # whole cells above t: vmin > t (sorted vmin, volumes summed from the top)
        by_min = np.argsort(v[:, 0], kind="stable")
        above_min = np.concatenate([np.cumsum(vol[by_min][::-1])[::-1], [0.0]])
        whole = above_min[np.searchsorted(v[by_min, 0], tsorted, side="right")]
        # cut cells: vmin <= t < vmax, i.e. the thresholds of index [lo, hi) for each cell
        part = np.zeros(len(ts))
        for a in range(0, len(v), _BLOCK // 8):             # bounded (cell, threshold) pairs
            vb, wb = v[a:a + _BLOCK // 8], vol[a:a + _BLOCK // 8]
            lo = np.searchsorted(tsorted, vb[:, 0], side="left")
            n = np.searchsorted(tsorted, vb[:, 3], side="left") - lo
            cell = np.repeat(np.arange(len(vb)), n)
            k = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum())   # lo[c], lo[c] + 1, ... per cell
            part += np.bincount(k, weights=wb[cell] * fraction_above(vb[cell], tsorted[k]), minlength=len(ts))
        out = np.empty(len(ts))
        out[order] = (whole + part) / total
        return out
