"""No-go regions: how much field reaches tissue that must be spared (e.g. the heart side of
the ribs). A cell belongs to a region when its centroid lies inside it; the volumes above a
threshold are those of the recovered field clipped per tet (:mod:`simulator.post.above`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.meshing.mesh import Mesh
from simulator.post.above import RecoveredField


@dataclass(frozen=True)
class NoGoExposure:
    """Field in one no-go region (SI): meshed volume (m^3), max field (V/m), volumes (m^3)
    above each cell's own tissue E_rev and E_irr."""

    name: str
    volume: float
    max_field: float
    volume_above_rev: float
    volume_above_irr: float


def no_go_exposure(mesh: Mesh, regions, E_max: np.ndarray, weights: np.ndarray, E_rev: np.ndarray,
                   E_irr: np.ndarray, field: RecoveredField | None = None) -> list[NoGoExposure]:
    """E_max, weights (M, Q); E_rev, E_irr (M,) V/m; ``field``: the recovered field of E_max
    (built here when not given). Regions with no cell get volume 0 and a max field of nan."""
    if not regions:
        return []
    centroids = mesh.centroids()
    field = field or RecoveredField(mesh, E_max, weights)
    out = []
    for r in regions:
        cells = np.flatnonzero(r.contains(centroids))
        E = E_max[cells]
        out.append(NoGoExposure(
            r.name, float(field.volume[cells].sum()), float(E.max()) if E.size else float("nan"),
            float(field.volume_above(E_rev[cells], cells).sum()), float(field.volume_above(E_irr[cells], cells).sum())))
    return out
