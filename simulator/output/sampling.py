"""Exact sampling of the cell field on a plane: which tetrahedron lies under each pixel.

Every pixel takes the value of the tetrahedron that contains it; pixels in no cell (inside
needles, outside the block, above the skin) are blank. No smoothing, so what a figure shows
is what coverage counts. Lengths in m.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:                                   # pragma: no cover
    from simulator.meshing.mesh import Mesh

SLICE_PIXELS = 480                  # samples along the longer side of a slice
# ----------------------------------------------------------------------------- sampling
_EDGES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
PAIRS_PER_BATCH = 1 << 21           # (cell, pixel) candidate pairs per batch (bounds memory)


@dataclass(frozen=True)
class PlaneSample:
    """Cells under a regular grid of pixel centres on the plane ``axis`` = ``value``.

    u, v: pixel-centre coordinates (m) along the in-plane axes ``axes`` (the other two, in
    increasing order); cell: (nv, nu) index of the containing tetrahedron per pixel, -1
    where there is none; bary: (nv, nu, 4) barycentric coordinates of the pixel centre in
    that cell (zeros where there is none).
    """

    axis: int
    value: float
    axes: tuple[int, int]
    u: np.ndarray
    v: np.ndarray
    cell: np.ndarray
    bary: np.ndarray

    def values(self, per_cell: np.ndarray) -> np.ma.MaskedArray:
        """(nv, nu) masked array of a per-cell quantity (masked where no cell)."""
        out = np.asarray(per_cell)[np.maximum(self.cell, 0)]
        return np.ma.masked_array(out, mask=self.cell < 0)

    def interpolate(self, mesh: "Mesh", nodal: np.ndarray) -> np.ma.MaskedArray:
        """(nv, nu) masked P1 interpolation of nodal values: (N,), or (N, R) one set per region
        (each pixel uses its cell's region, so fields jumping at interfaces stay sharp)."""
        ok = self.cell >= 0
        c = self.cell[ok]
        tets = mesh.tets[c]
        vals = nodal[tets] if nodal.ndim == 1 else nodal[tets, mesh.cell_region[c][:, None]]
        out = np.zeros(self.cell.shape)
        out[ok] = (self.bary[ok] * vals).sum(axis=1)
        return np.ma.masked_array(out, mask=~ok)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """Pixel-edge extent (m), as ``imshow`` wants it."""
        hu = (self.u[1] - self.u[0]) / 2 if len(self.u) > 1 else 0.0
        hv = (self.v[1] - self.v[0]) / 2 if len(self.v) > 1 else 0.0
        return (self.u[0] - hu, self.u[-1] + hu, self.v[0] - hv, self.v[-1] + hv)


def sample_plane(mesh: "Mesh", axis: int, value: float, u_range: tuple[float, float],
                 v_range: tuple[float, float], pixels: int = SLICE_PIXELS, tol: float = 1e-9) -> PlaneSample:
    """Locate the tetrahedron under each pixel centre of a slice (exact, vectorised).

    axis: normal of the plane (0, 1, 2); u/v: the other two axes; square-ish pixels,
    ``pixels`` along the longer side. Only the cells crossing the plane can hold a pixel:
    each is cut by the plane, the pixels inside the bounding box of its cross-section are
    its candidates, and a barycentric test (tolerance ``tol``) keeps those it contains. A
    pixel on a face shared by several cells takes the lowest cell index (deterministic);
    pixels in no cell (holes of needles, outside the block) get -1.
    """
    axes = tuple(a for a in range(3) if a != axis)
    (u0, u1), (v0, v1) = u_range, v_range
    h = max(u1 - u0, v1 - v0) / pixels
    nu, nv = max(1, round((u1 - u0) / h)), max(1, round((v1 - v0) / h))
    du, dv = (u1 - u0) / nu, (v1 - v0) / nv
    u = u0 + (np.arange(nu) + 0.5) * du
    v = v0 + (np.arange(nv) + 0.5) * dv
    out = np.full(nu * nv, -1, dtype=np.int64)
    bary = np.zeros((nu * nv, 4))
    s_all = mesh.points[:, axis][mesh.tets] - value                  # (M, 4) signed offsets
    scale = float(np.ptp(mesh.points, axis=0).max()) or 1.0
    eps = 1e-9 * scale
    crossing = np.flatnonzero((s_all.min(axis=1) <= eps) & (s_all.max(axis=1) >= -eps))
    if crossing.size == 0:
        return PlaneSample(axis, float(value), axes, u, v, out.reshape(nv, nu), bary.reshape(nv, nu, 4))
    P = mesh.points[mesh.tets[crossing]]                             # (C, 4, 3)
    s = s_all[crossing]
    uv = P[:, :, list(axes)]                                         # (C, 4, 2)
    lo = np.full((len(P), 2), np.inf)
    hi = np.full((len(P), 2), -np.inf)
    for i, j in _EDGES:                                              # cross-section bounding box
        si, sj = s[:, i], s[:, j]
        cut = si * sj <= 0
        den = si - sj
        t = np.divide(si, den, out=np.zeros_like(si), where=den != 0)
        q = uv[:, i] + t[:, None] * (uv[:, j] - uv[:, i])
        lo = np.where(cut[:, None], np.minimum(lo, q), lo)
        hi = np.where(cut[:, None], np.maximum(hi, q), hi)
    # pixel index ranges (centres u0 + (i + 1/2) du inside [lo, hi])
    slack = 1e-6
    iu0 = np.clip(np.ceil((lo[:, 0] - u0) / du - 0.5 - slack), 0, nu).astype(np.int64)
    iu1 = np.clip(np.floor((hi[:, 0] - u0) / du - 0.5 + slack), -1, nu - 1).astype(np.int64)
    iv0 = np.clip(np.ceil((lo[:, 1] - v0) / dv - 0.5 - slack), 0, nv).astype(np.int64)
    iv1 = np.clip(np.floor((hi[:, 1] - v0) / dv - 0.5 + slack), -1, nv - 1).astype(np.int64)
    wu, wv = np.maximum(iu1 - iu0 + 1, 0), np.maximum(iv1 - iv0 + 1, 0)
    count = wu * wv
    keep = np.flatnonzero(count)
    if keep.size == 0:
        return PlaneSample(axis, float(value), axes, u, v, out.reshape(nv, nu), bary.reshape(nv, nu, 4))
    # affine maps [x, 1] -> (lambda_1, lambda_2, lambda_3) of the cells that have candidates
    Pk = P[keep]
    T = np.transpose(Pk[:, 1:] - Pk[:, :1], (0, 2, 1))
    Tinv = np.linalg.inv(T)
    A = np.concatenate([Tinv, -np.einsum("cij,cj->ci", Tinv, Pk[:, 0])[:, :, None]], axis=2)
    cnt, wu, iu0, iv0 = count[keep], wu[keep], iu0[keep], iv0[keep]
    ends = np.cumsum(cnt)
    start = 0
    while start < len(keep):                                         # batches of whole cells
        stop = max(start + 1, int(np.searchsorted(ends, (ends[start - 1] if start else 0) + PAIRS_PER_BATCH)))
        c = np.arange(start, stop)
        n_c = cnt[c]
        rep = np.repeat(c, n_c)
        off = np.arange(int(n_c.sum())) - np.repeat(np.cumsum(n_c) - n_c, n_c)
        iu = iu0[rep] + off % wu[rep]
        iv = iv0[rep] + off // wu[rep]
        x = np.empty((len(rep), 4))
        x[:, axis], x[:, axes[0]], x[:, axes[1]], x[:, 3] = value, u[iu], v[iv], 1.0
        lam = np.einsum("pij,pj->pi", A[rep], x)
        inside = (lam >= -tol).all(axis=1) & (lam.sum(axis=1) <= 1.0 + tol)
        pix = (iv * nu + iu)[inside]
        cells = crossing[keep[rep[inside]]]
        first_pix, first = np.unique(pix, return_index=True)        # lowest cell index per pixel
        free = out[first_pix] < 0
        out[first_pix[free]] = cells[first][free]
        lam_in = lam[inside][first][free]
        bary[first_pix[free]] = np.column_stack([1.0 - lam_in.sum(axis=1), lam_in])
        start = stop
    return PlaneSample(axis, float(value), axes, u, v, out.reshape(nv, nu), bary.reshape(nv, nu, 4))


def recover_nodal(mesh: "Mesh", per_cell: np.ndarray) -> np.ndarray:
    """(N, R) volume-weighted nodal averages of a per-cell quantity, one set per region
    (NaN where a node touches no cell of that region): the smooth field contours are drawn on."""
    R = len(mesh.regions)
    p = mesh.points[mesh.tets]
    vol = np.abs(np.einsum("ij,ij->i", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), p[:, 3] - p[:, 0])) / 6
    idx = (mesh.tets.astype(np.int64) * R + mesh.cell_region[:, None]).ravel()
    n = mesh.num_points * R
    num = np.bincount(idx, weights=np.repeat(vol * per_cell, 4), minlength=n)
    den = np.bincount(idx, weights=np.repeat(vol, 4), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (num / den).reshape(mesh.num_points, R)

