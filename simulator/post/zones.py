"""Lesion zones: the tissue above a field threshold, its volume and its extent along the
electrode axes (what in vivo lesion studies report: width x depth x height at a threshold).

A zone's threshold is either one field (V/m) for every cell, or each cell's own tissue
threshold (E_rev or E_irr, the default zones). Its volume is the volume of the sample points
with max field >= threshold (the same measure as ``volumes_mm3.reversible``). Its extent is
measured on the iso-surface of the ratio r = E_max / threshold, averaged from cells to
vertices (volume-weighted) and interpolated linearly along the edges of the tets that
cross r = 1: so it does not jump by a cell size when the threshold moves by a little.

Axes [A]: x from the anode to the cathode of the first pulse group (their contact surfaces'
centroids, projected on the skin plane), z along the needles (the block's vertical; tilted
needles are measured vertically too), y = z cross x.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.meshing.mesh import Mesh

_EDGES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


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
        nodes = np.unique(np.concatenate([mesh.contact_nodes(n) for n in names]))
        return mesh.points[nodes].mean(axis=0)

    z = np.array([0.0, 0.0, 1.0])
    x = centroid(cathode) - centroid(anode)
    x[2] = 0.0
    n = np.linalg.norm(x)
    x = x / n if n > 0 else np.array([1.0, 0.0, 0.0])
    return np.stack([x, np.cross(z, x), z])


def nodal_average(mesh: Mesh, per_cell: np.ndarray) -> np.ndarray:
    """(N,) volume-weighted average of a per-cell value over the cells around each vertex."""
    vol = mesh.volumes()
    num = np.zeros(mesh.num_points)
    den = np.zeros(mesh.num_points)
    for k in range(4):
        np.add.at(num, mesh.tets[:, k], vol * per_cell)
        np.add.at(den, mesh.tets[:, k], vol)
    return num / np.where(den > 0, den, 1.0)


def zone_extent(mesh: Mesh, ratio: np.ndarray, axes: np.ndarray) -> tuple[float, float, float]:
    """Extent (m) along ``axes`` of {r >= 1}, r a per-cell ratio field (see module doc)."""
    r = nodal_average(mesh, ratio)
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)

    def take(p: np.ndarray) -> None:
        if len(p):
            c = p @ axes.T
            np.minimum(lo, c.min(axis=0), out=lo)
            np.maximum(hi, c.max(axis=0), out=hi)

    take(mesh.points[r >= 1.0])
    for i, j in _EDGES:
        a, b = mesh.tets[:, i], mesh.tets[:, j]
        ra, rb = r[a], r[b]
        cross = (ra - 1.0) * (rb - 1.0) < 0
        if cross.any():
            a, b, ra, rb = a[cross], b[cross], ra[cross], rb[cross]
            s = ((1.0 - ra) / (rb - ra))[:, None]
            take(mesh.points[a] + s * (mesh.points[b] - mesh.points[a]))
    if not np.all(np.isfinite(lo)):
        return (0.0, 0.0, 0.0)
    return tuple(float(v) for v in hi - lo)


def lesion_zones(mesh: Mesh, E_max: np.ndarray, weights: np.ndarray, E_rev: np.ndarray, E_irr: np.ndarray,
                 thresholds: tuple[float, ...], axes: np.ndarray) -> list[Zone]:
    """Zones for ``thresholds`` (V/m); with none, the per-tissue E_rev and E_irr zones.

    E_max, weights: (M, Q); E_rev, E_irr: (M,) V/m per cell."""
    materials = np.array([r.material for r in mesh.regions])[mesh.cell_region]
    E_cell = E_max.max(axis=1)
    specs: list[tuple[str, np.ndarray, float | None]] = []
    if thresholds:
        specs = [(f"E >= {t / 100:g} V/cm", np.broadcast_to(float(t), E_cell.shape), float(t)) for t in thresholds]
    else:
        specs = [("reversible", np.asarray(E_rev), None), ("irreversible", np.asarray(E_irr), None)]
    out = []
    for name, th, single in specs:
        by_tissue = {} if single is not None else {
            str(m): float(th[materials == m][0]) for m in sorted(set(materials.tolist()))}
        volume = float((weights * (E_max >= th[:, None])).sum())
        out.append(Zone(name, single, by_tissue, volume, zone_extent(mesh, E_cell / th, axes)))
    return out
