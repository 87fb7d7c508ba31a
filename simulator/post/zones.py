"""Lesion zones: the tissue above a field threshold, its volume and its extent along the
electrode axes (what in vivo lesion studies report: width x depth x height at a threshold).

A zone's threshold is either one field (V/m) for every cell, or each cell's own tissue
threshold (E_rev or E_irr, the default zones). Its volume and its extent are those of the
recovered field (:mod:`simulator.post.above`: averaged from cells to vertices per material,
linear in each tet) above the threshold, the same measure as ``volumes_mm3.reversible``; the
extent is measured on the iso-surface where the interpolant crosses the threshold along the
edges of each tet: neither jumps by a cell size when the threshold or the mesh moves a little.

Axes [A]: x from the anode to the cathode of the first pulse group (their contact surfaces'
centroids, projected on the skin plane), z along the needles (the block's vertical; tilted
needles are measured vertically too), y = z cross x.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.meshing.mesh import Mesh
from simulator.post.above import RecoveredField

@dataclass(frozen=True)
class Zone:
    """The region above one threshold (SI units)."""

    name: str                       # "reversible", "irreversible" or "E >= 600 V/cm"
    threshold: float | None         # V/m, one value for every cell; None: per tissue
    threshold_by_tissue: dict[str, float]   # material -> V/m (per-tissue zones), else {}
    volume: float                   # m^3
    extent: tuple[float, float, float]       # m, along the electrode axes (x, y, z)


def electrode_axes(mesh: Mesh, anode: tuple[str, ...], cathode: tuple[str, ...]) -> np.ndarray:
    """(3, 3) rows x, y, z: x from anode to cathode (horizontal), z vertical, y = z cross x."""
    def centroid(names):
        """Area-weighted centroid of the contact facets (exact for a triangulated plane or
        polygon; a plain mean of the nodes leans toward where the mesh is finer, which tilted
        the plates' axes by ~0.15 deg and made the extents exceed the 8 x 20 mm block)."""
        tri = mesh.points[np.concatenate([mesh.contact_facets[n] for n in names])]      # (K, 3, 3)
        area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        return (area[:, None] * tri.mean(axis=1)).sum(axis=0) / area.sum()

    z = np.array([0.0, 0.0, 1.0])
    x = centroid(cathode) - centroid(anode)
    x[2] = 0.0
    n = np.linalg.norm(x)
    x = x / n if n > 0 else np.array([1.0, 0.0, 0.0])
    return np.stack([x, np.cross(z, x), z])


def zone_extent(field: RecoveredField, threshold: np.ndarray, axes: np.ndarray) -> tuple[float, float, float]:
    """Extent (m) along ``axes`` of {recovered field >= threshold} (threshold (M,) V/m): the
    range of the vertices above and of the edge crossings (a compiled loop over the cells,
    :func:`simulator.post.patch_kernels.zone_bounds`)."""
    from simulator.post.patch_kernels import zone_bounds
    mesh = field.mesh
    lo, hi = zone_bounds(np.ascontiguousarray(mesh.points), np.ascontiguousarray(mesh.tets), field.key_cells,
                         field._mat, field._nm, field.nodal, np.ascontiguousarray(threshold, dtype=float),
                         np.ascontiguousarray(axes, dtype=float))
    if not np.all(np.isfinite(lo)):
        return (0.0, 0.0, 0.0)
    return tuple(float(v) for v in hi - lo)


def lesion_zones(mesh: Mesh, E_max: np.ndarray, weights: np.ndarray, E_rev: np.ndarray, E_irr: np.ndarray,
                 thresholds: tuple[float, ...], axes: np.ndarray, field: RecoveredField | None = None) -> list[Zone]:
    """Zones for ``thresholds`` (V/m); with none, the per-tissue E_rev and E_irr zones.

    E_max, weights: (M, Q); E_rev, E_irr: (M,) V/m per cell; ``field`` their recovered
    field (built here when not given)."""
    field = field or RecoveredField(mesh, E_max, weights)
    materials = np.array([r.material for r in mesh.regions])[mesh.cell_region]
    shape = (mesh.num_cells,)
    specs: list[tuple[str, np.ndarray, float | None]] = []
    if thresholds:
        specs = [(f"E >= {t / 100:g} V/cm", np.broadcast_to(float(t), shape), float(t)) for t in thresholds]
    else:
        specs = [("reversible", np.asarray(E_rev), None), ("irreversible", np.asarray(E_irr), None)]
    out = []
    for name, th, single in specs:
        by_tissue = {} if single is not None else {
            str(m): float(th[materials == m][0]) for m in sorted(set(materials.tolist()))}
        th = np.broadcast_to(th, shape)
        volume = float(field.volume_above(th).sum())
        out.append(Zone(name, single, by_tissue, volume, zone_extent(field, th, axes)))
    return out
