"""Layers of a segmented label image as smooth interface surfaces (height fields).

The labels that reach the image's faces (skin / fat / muscle running through the block) are
layers when they are height fields: one order of the labels from the skin down such that every
column (i, j) crosses each of them once, in that order (voxels of enclosed regions, meshed as
their own solids, are ignored). Then interface j (below the j-th layer) has, per column, the
depth ``h_z x (voxels of the first j layers in the column)``: the label fraction of the column,
sub-voxel where the interface is sloped or curved once averaged over neighbouring columns.
Columns where an enclosed region hides the interface take the nearest column's depth. The
depth field is blurred by ``smooth_voxels`` (Gaussian, per axis in voxels) and fitted by
least squares with a bicubic tensor-product B-spline (scipy's LSQBivariateSpline, Dierckx)
with knots every ``KNOT_VOXELS`` voxels; the spline's knots and coefficients are the
OpenCASCADE B-spline surface (:mod:`simulator.meshing.geometry`) that splits the block,
so the layers are conformal volumes. A label image that is not a height field returns the
reason instead (the caller falls back to the cell-wise labels). Lengths m.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KNOT_VOXELS = 4            # interior knot spacing of the interface spline, voxels
MAX_KNOTS = 30             # interior knots per axis at most (each adds a row of OCC control points)
PAD_VOXELS = 3             # the spline extends this many voxels beyond the block (the split surface overhangs it)
MIN_GAP_VOXELS = 0.25      # fitted interfaces must stay this far apart (and from the top and bottom)


@dataclass(frozen=True, eq=False)
class LayerInterfaces:
    """Height-field layers: ``labels`` from the skin down; interface j (below ``labels[j]``)
    is the bicubic B-spline z = -depth(x, y) with full knot vectors ``tx``, ``ty`` (m, spanning
    the block plus an overhang) and coefficients ``coeffs[j]`` (shape (len(tx) - 4, len(ty) - 4),
    depth in m, > 0 down)."""

    labels: tuple[int, ...]
    tx: np.ndarray
    ty: np.ndarray
    coeffs: np.ndarray

    def depth(self, j: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Depth (m) of interface j on the grid x (nx,) by y (ny,) -> (nx, ny)."""
        from scipy.interpolate import bisplev
        return np.atleast_2d(bisplev(np.asarray(x, float), np.asarray(y, float),
                                     (self.tx, self.ty, self.coeffs[j].ravel(), 3, 3)))

    def greville(self) -> tuple[np.ndarray, np.ndarray]:
        """The x and y of the control points (Greville abscissae: with them x(u) = u exactly)."""
        return tuple((t[1:-3] + t[2:-2] + t[3:-1]) / 3.0 for t in (self.tx, self.ty))


def height_field_layers(labels: np.ndarray, hidden: np.ndarray, voxel, smooth_voxels: float = 1.0
                        ) -> LayerInterfaces | str:
    """The layer interfaces of ``labels`` (nx, ny, nz; k = 0 at the skin) ignoring the voxels
    where ``hidden`` is set, or a one-phrase reason why the labels are not height-field layers.
    ``voxel`` (vx, vy, vz) in m; voxel (i, j, k) has centre (-X/2 + (i + 1/2) vx, ...)."""
    from scipy import ndimage
    from scipy.interpolate import LSQBivariateSpline
    nx, ny, nz = labels.shape
    known = ~hidden
    present = [int(v) for v in np.unique(labels[known])]
    if len(present) < 2:
        return "one label"
    kk = np.broadcast_to(np.arange(nz), labels.shape)
    mean_k = {lab: float(kk[known & (labels == lab)].mean()) for lab in present}
    order = sorted(present, key=lambda lab: mean_k[lab])
    rank_of = np.full(int(labels.max()) - int(labels.min()) + 1, -1)
    rank_of[np.array(order) - int(labels.min())] = np.arange(len(order))
    rank = np.where(known, rank_of[labels - int(labels.min())], -1)
    # every column: known ranks non-decreasing with depth
    r = np.where(known, rank, -1)
    run_max = np.maximum.accumulate(r, axis=2)
    if np.any(known & (rank < run_max)):
        i, j, _ = np.argwhere(known & (rank < run_max))[0]
        return f"column ({i}, {j}) crosses the labels out of order"
    full = known.all(axis=2)
    for q, lab in enumerate(order):
        n_in = ((rank == q) & known).sum(axis=2)
        if np.any(full & (n_in == 0)):
            i, j = np.argwhere(full & (n_in == 0))[0]
            return f"label {lab} is missing from column ({i}, {j})"
    h = np.abs(np.asarray(voxel, dtype=float))
    X, Y = nx * h[0], ny * h[1]
    p = PAD_VOXELS
    xp = (np.arange(-p, nx + p) + 0.5) * h[0] - X / 2
    yp = (np.arange(-p, ny + p) + 0.5) * h[1] - Y / 2

    def knots(c: np.ndarray, n: int) -> np.ndarray:
        m = int(np.clip(round(n / KNOT_VOXELS), 1, MAX_KNOTS + 1))
        return np.linspace(c[0], c[-1], m + 1)[1:-1]
    txi, tyi = knots(xp, nx), knots(yp, ny)
    coeffs, tx, ty = [], None, None
    for q in range(len(order) - 1):
        # first voxel below the interface (rank > q); determined where the voxel above it is known
        below = known & (rank > q)
        first = np.where(below.any(axis=2), np.argmax(below, axis=2), nz)
        above_known = np.take_along_axis(known, np.clip(first - 1, 0, nz - 1)[..., None], axis=2)[..., 0]
        ok = (first < nz) & (first > 0) & above_known
        if not ok.any():
            return f"no column shows the interface below label {order[q]}"
        d = first * h[2]
        if not ok.all():                                  # hidden by an enclosed region: nearest column
            _, near = ndimage.distance_transform_edt(~ok, return_indices=True)
            d = d[near[0], near[1]]
        d = np.pad(d.astype(float), p, mode="edge")
        if smooth_voxels > 0:
            d = ndimage.gaussian_filter(d, smooth_voxels, mode="nearest")
        XX, YY = np.meshgrid(xp, yp, indexing="ij")
        s = LSQBivariateSpline(XX.ravel(), YY.ravel(), d.ravel(), txi, tyi, kx=3, ky=3,
                               bbox=[xp[0], xp[-1], yp[0], yp[-1]])
        tx, ty = s.get_knots()
        coeffs.append(s.get_coeffs().reshape(len(tx) - 4, len(ty) - 4))
    out = LayerInterfaces(tuple(order), tx, ty, np.array(coeffs))
    # the fitted interfaces stay apart and inside the block (a fine check on the voxel grid)
    xs, ys = np.linspace(-X / 2, X / 2, 2 * nx + 1), np.linspace(-Y / 2, Y / 2, 2 * ny + 1)
    prev = np.zeros((len(xs), len(ys)))
    gap = MIN_GAP_VOXELS * h[2]
    for q in range(len(order) - 1):
        dq = out.depth(q, xs, ys)
        if np.any(dq - prev < gap):
            return f"the smoothed interface below label {order[q]} comes within {gap / 1e-3:.3g} mm of the one above"
        prev = dq
    if np.any(nz * h[2] - prev < gap):
        return f"the smoothed interface below label {order[-2]} reaches the bottom"
    return out
