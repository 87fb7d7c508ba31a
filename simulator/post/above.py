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

**P2** (four sample points per cell, the degree-2 rule of ``engines.base``): P2's field is
linear in each cell, so no recovery is needed: each cell keeps its own linear field, the
plane through its four sample values, evaluated at its corners (mean + (E_q - mean) /
(A - B): sample point q lies on the line from the centroid to vertex q, at A - B of the way),
and step 2 clips that. The vertex values are then per cell (discontinuous across faces,
keyed 4 x cell + corner), still continuous in the mesh and the threshold. The patch
recovery of the cell means, used for P2 before, smeared the field over patches of the
coarse cells a P2 mesh has: on the two-wire case (tests/test_above.py) the reversible
volume was +4.8 to +17 % off at contact sizes 0.14-0.4 mm, now -0.06 to +0.85 %. [A] On
curved cells the sample points are placed by their reference coordinates, and the clipping
uses the straight corner tets; |E| is taken as linear within a cell (it is for one
configuration's E only up to the curvature of |.|); a corner value below 0 (steep fields:
the extrapolation factor is 1 / (A - B) = 2.24) is taken as 0.
"""
from __future__ import annotations

import threading
import weakref

import numpy as np

from simulator.engines.base import P2_SAMPLE_A, P2_SAMPLE_B, P2_SAMPLE_BARYCENTRIC
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
    from simulator.post.patch_kernels import fraction_rows
    t = np.ascontiguousarray(np.broadcast_to(np.asarray(t, dtype=float), v.shape[:1]))
    out = np.empty(len(v))
    fraction_rows(np.ascontiguousarray(v, dtype=float), t, out)      # compiled (patch_kernels)
    return out


def cell_linear_corners(E: np.ndarray) -> np.ndarray:
    """(M, 4) values (same unit as ``E``) at the cell's vertices of the linear field through
    its four P2 sample values ``E`` (M, 4) (point q nearest vertex q, ``engines.base``),
    floored at 0: exact for a field linear in the cell."""
    mean = E.mean(axis=1, keepdims=True)
    return np.maximum(mean + (E - mean) / (P2_SAMPLE_A - P2_SAMPLE_B), 0.0)


class _Patches:
    """The mesh-only part of the patch recovery: for each (cell, corner) its vertex-material
    key and its weight in that vertex's value, so that the unclipped vertex values are
    the sums of weights * e_cell per key (linear in the cell values, see
    :meth:`RecoveredField._patch_fit`). The per-pair loops are compiled
    (:mod:`simulator.post.patch_kernels`)."""

    def __init__(self, mesh: Mesh, nm: int, mat: np.ndarray, volume: np.ndarray):
        from simulator.post import patch_kernels as pk
        size = mesh.num_points * nm
        points, tets = np.ascontiguousarray(mesh.points), np.ascontiguousarray(mesh.tets)
        mat, volume = np.ascontiguousarray(mat, dtype=np.int64), np.ascontiguousarray(volume, dtype=float)
        acc = pk.patch_moments(points, tets, mat, nm, volume, size)   # W, W dx (3), W dx dx^T (6)
        W = acc[0]
        self.used = W > 0
        Wu = W[self.used]
        xbar = np.zeros((size, 3))
        xbar[self.used] = (acc[1:4, self.used] / Wu).T          # patch centroid - vertex
        C = np.empty((Wu.size, 3, 3))
        for (i, j), row in zip(_PAIRS, acc[4:10, self.used]):
            C[:, i, j] = C[:, j, i] = row / Wu - xbar[self.used, i] * xbar[self.used, j]
        del acc
        lam = np.linalg.eigvalsh(C)
        ok = lam[:, 0] > FLAT * lam[:, 2]
        # y = C^-1 xbar where the patch spans 3-D, else 0 (the plain average)
        y = np.zeros((size, 3))
        yu = np.zeros((Wu.size, 3))
        yu[ok] = np.linalg.solve(C[ok], xbar[self.used][ok][..., None])[..., 0]
        y[self.used] = yu
        del C, yu
        winv = np.zeros(size)
        winv[self.used] = 1.0 / Wu
        self.keys = np.empty((mesh.num_cells, 4), dtype=np.int64)
        self.weights = np.empty((mesh.num_cells, 4))
        pk.patch_weights(points, tets, mat, nm, volume, winv, xbar, y, self.keys, self.weights)
        self.size = size

    def nodal(self, cell: np.ndarray) -> np.ndarray:
        """(size,) vertex values of the per-cell field ``cell`` (M,), limited to each patch's
        range of cell values."""
        from simulator.post.patch_kernels import patch_nodal
        return patch_nodal(self.keys, self.weights, np.ascontiguousarray(cell, dtype=float), self.used)


_PAIRS = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))
CACHED_CELLS = 1 << 20      # [memory] patch weights kept per mesh (64 bytes per cell) up to this size
_CACHE: "weakref.WeakKeyDictionary[Mesh, _Patches]" = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def _tets(mesh: Mesh) -> np.ndarray:
    """The mesh's cells (M, 4) as a C-contiguous array (the compiled loops' layout)."""
    return np.ascontiguousarray(mesh.tets)


def _patches(mesh: Mesh, nm: int, mat: np.ndarray, volume: np.ndarray) -> _Patches:
    """The mesh's :class:`_Patches`, kept (weakly, per mesh) for meshes of up to
    ``CACHED_CELLS`` cells: every field on a mesh (each point of a sweep, each level's
    figures) reuses them. Larger meshes build them per field (memory)."""
    if mesh.num_cells > CACHED_CELLS:
        return _Patches(mesh, nm, mat, volume)
    with _CACHE_LOCK:
        got = _CACHE.get(mesh)
    if got is None:
        got = _Patches(mesh, nm, mat, volume)
        with _CACHE_LOCK:
            got = _CACHE.setdefault(mesh, got)
    return got


class RecoveredField:
    """The per-material vertex average of a per-cell field, and the volumes above thresholds.

    ``E_max``, ``weights``: (M, Q) field (V/m) and volume (m^3) of each sample point."""

    def __init__(self, mesh: Mesh, E_max: np.ndarray, weights: np.ndarray):
        self.mesh = mesh
        w = np.asarray(weights, dtype=float)
        self.volume = w.sum(axis=1)                                     # (M,) m^3
        if E_max.shape[1] == len(P2_SAMPLE_BARYCENTRIC):                # P2: each cell's own linear field
            M = mesh.num_cells
            self.key_cells = np.arange(4 * M, dtype=np.int64).reshape(M, 4)   # key 4 x cell + corner
            self._nm, self._mat = 1, np.zeros(M, dtype=np.int64)
            self.nodal = np.ascontiguousarray(cell_linear_corners(np.asarray(E_max, dtype=float))).ravel()
            return
        if E_max.shape[1] != 1:
            raise ValueError(f"E_max has {E_max.shape[1]} sample points per cell; 1 (P1) or 4 (P2) expected")
        self.key_cells = _tets(mesh)                                    # key vertex x materials + material
        names = sorted({r.material for r in mesh.regions})
        self._nm = len(names)
        self._mat = np.array([names.index(r.material) for r in mesh.regions], dtype=np.int64)[mesh.cell_region]
        self.nodal = self._patch_fit(E_max[:, 0])

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
        partly below it.

        The value is linear in the cell values: with dx_c = centroid_c - x_v, W = sum vol_c,
        xbar = sum vol_c dx_c / W, C the patch's covariance of dx and g = C^-1 s,
        s = sum vol_c e_c (dx_c - xbar) / W, it is ebar - g . xbar
        = sum_c e_c vol_c (1 - (dx_c - xbar) . C^-1 xbar) / W: the weights depend on the mesh
        only (:class:`_Patches`, kept per mesh)."""
        return _patches(self.mesh, self._nm, self._mat, self.volume).nodal(cell)

    def _keys(self, cells) -> np.ndarray:
        return self.key_cells[cells].astype(np.int64) * self._nm + self._mat[cells, None]

    def corners(self, cells) -> np.ndarray:
        """(B, 4) recovered field (V/m) at the vertices of ``cells`` (a slice or index array)."""
        return self.nodal[self._keys(cells)]

    def volume_above(self, threshold, cells: np.ndarray | None = None) -> np.ndarray:
        """Volume (m^3) of each cell (all, or the index/bool array ``cells``) where the
        recovered field is >= ``threshold`` (V/m: a scalar, or per cell of the same cells)."""
        from simulator.post.patch_kernels import volumes_above
        idx = np.arange(self.mesh.num_cells) if cells is None else (
            np.flatnonzero(cells) if np.asarray(cells).dtype == bool else np.asarray(cells))
        th = np.ascontiguousarray(np.broadcast_to(np.asarray(threshold, dtype=float), idx.shape))
        out = np.empty(idx.size)
        # compiled: corners gathered, sorted and clipped per cell (fraction_above's operations)
        volumes_above(self.key_cells, self._mat, self._nm, self.nodal, self.volume,
                      np.ascontiguousarray(idx, dtype=np.int64), th, out)
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
