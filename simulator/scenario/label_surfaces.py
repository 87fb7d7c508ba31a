"""Closed surfaces from a segmented label image: every label region that the other labels
enclose (it touches no face of the image, e.g. a nodule or a bone inside muscle) becomes a
smoothed, closed, triangulated surface, meshed conformally like a surface tumour; labels that
reach the image's faces (layers running through the block) stay applied cell by cell.

Per enclosed connected region: holes filled (nested labels: the outer surface holds the
inner one, which wins where they nest), a Gaussian blur of ``smooth_voxels`` voxels
(removes the voxel staircase), marching cubes at level 1/2 (Lewiner et al. 2003, via
scikit-image), coarsened by its step size to at most ``max_triangles``, then offset along
its vertex normals until it encloses the region's voxel volume (the blur and the chords
shrink it; the voxel count is the segmentation's own statement of the volume). Lengths m.
"""
from __future__ import annotations

import numpy as np

from simulator.scenario.closed_surface import ClosedSurface, closed_surface

MAX_REGIONS = 20
VOLUME_RTOL = 1e-3           # the surface encloses the voxel volume to this
MAX_TRIANGLES = 1200         # per region: each triangle is an OpenCASCADE face (the boolean cost grows with them)


def enclosed_regions(labels: np.ndarray, materials: dict[int, str]) -> list[tuple[int, np.ndarray]]:
    """(label, filled mask) of every connected region touching no face of the image, the
    largest first (outer before inner where they nest)."""
    from scipy import ndimage
    out = []
    for lab in sorted(materials):
        comps, n = ndimage.label(labels == lab)
        if n == 0:
            continue
        faces = np.unique(np.concatenate([np.unique(comps[s]) for s in (
            np.s_[0], np.s_[-1], np.s_[:, 0], np.s_[:, -1], np.s_[:, :, 0], np.s_[:, :, -1])]))
        for k in sorted(set(range(1, n + 1)) - set(faces.tolist())):
            out.append((lab, ndimage.binary_fill_holes(comps == k)))
    out.sort(key=lambda t: -int(t[1].sum()))
    return out


def region_surface(mask: np.ndarray, voxel, origin, smooth_voxels: float = 1.0,
                   max_triangles: int = MAX_TRIANGLES) -> ClosedSurface:
    """The smoothed marching-cubes surface of a boolean region (m). ``origin`` is the
    position of voxel (0, 0, 0)'s centre with axis signs ``voxel`` (negative for z)."""
    from scipy import ndimage
    from skimage.measure import marching_cubes
    idx = np.argwhere(mask)
    pad = int(np.ceil(3 * smooth_voxels)) + 2
    lo = idx.min(axis=0) - pad
    sub = np.zeros(tuple(idx.max(axis=0) + pad + 1 - lo), dtype=float)
    i = idx - lo
    sub[i[:, 0], i[:, 1], i[:, 2]] = 1.0
    f = ndimage.gaussian_filter(sub, smooth_voxels) if smooth_voxels > 0 else sub
    step = 1
    while True:
        V, T, _, _ = marching_cubes(f, 0.5, step_size=step, allow_degenerate=False)
        if len(T) <= max_triangles or step >= 8:
            break
        step += 1
    h = np.abs(np.asarray(voxel, dtype=float))
    P = (V + lo) * np.asarray(voxel, dtype=float) + np.asarray(origin, dtype=float)
    if np.prod(np.sign(voxel)) < 0:                    # a mirrored axis (z down) flips the orientation
        T = T[:, ::-1]
    s = closed_surface(P, T)
    target = float(mask.sum() * np.prod(h))
    for _ in range(3):                                 # offset to the voxel volume (dV/dd = area)
        tri = s.vertices[s.triangles]
        fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        area = 0.5 * float(np.linalg.norm(fn, axis=1).sum())
        if abs(s.volume - target) <= VOLUME_RTOL * target / 4:
            break
        vn = np.zeros_like(s.vertices)
        for k in range(3):
            np.add.at(vn, s.triangles[:, k], fn)
        vn /= np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-300)
        s = closed_surface(s.vertices + (target - s.volume) / area * vn, s.triangles)
    return s
