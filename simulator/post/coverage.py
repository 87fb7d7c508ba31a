"""Coverage metrics: which volume saw E >= E_rev / E_irr of its own tissue.

"Reversible" means max field >= E_rev of the cell's tissue (it includes the irreversible
volume); "irreversible" means max field >= E_irr (design.md section 5). Fractions are by
volume over sample points (cells for P1, quadrature points for P2). The margin region is
the tumour grown by ``margin`` (exact offset for spheres, semi-axes + margin for
ellipsoids), each cell counted by the fraction of it inside (post.margin). By default (``margin_threshold = "tumour"``) every
margin cell is judged at the tumour's E_rev, whatever tissue it lies in: the margin exists
because tumour cells may be there (a margin cell in fat would otherwise count as covered
at fat's 100 V/cm). ``"tissue"`` judges each margin cell at its own tissue's E_rev.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.meshing.mesh import Mesh
from simulator.post.above import RecoveredField
from simulator.post.margin import MarginRegion, margin_region

CURVE_THRESHOLDS_V_PER_M = np.arange(0.0, 2000.0 + 1e-9, 10.0) * 100.0   # 0..2000 V/cm
MARGIN_THRESHOLDS = ("tumour", "tissue")


@dataclass(frozen=True)
class TumourCoverage:
    name: str
    volume: float                   # m^3 (meshed)
    reversible_fraction: float
    irreversible_fraction: float
    margin_reversible_fraction: float
    margin_volume: float            # m^3, tumour + margin
    min_field: float                # V/m, lowest max-field in the tumour
    covered: bool
    curve: np.ndarray               # fraction of tumour volume with E_max >= each threshold


def _fraction(field: RecoveredField, cells: np.ndarray, threshold) -> float:
    """Volume fraction of ``cells`` (index array) above ``threshold`` (scalar or per cell)."""
    total = field.volume[cells].sum()
    return float(field.volume_above(threshold, cells).sum() / total) if total > 0 else float("nan")


def tumour_coverage(mesh: Mesh, tumours, E_max: np.ndarray, weights: np.ndarray, E_rev: np.ndarray,
                    E_irr: np.ndarray, tolerance: float, margin_threshold: str = "tumour",
                    field: RecoveredField | None = None) -> list[TumourCoverage]:
    """Per-tumour coverage; E_max/weights (M, Q), E_rev/E_irr (M,) in V/m; the margin judged
    at the tumour's E_rev or each cell's own (``margin_threshold``, module docstring).
    ``field``: the recovered field of E_max (built here when not given)."""
    if margin_threshold not in MARGIN_THRESHOLDS:
        raise ValueError(f"margin_threshold must be one of {MARGIN_THRESHOLDS}, got {margin_threshold!r}")
    out = []
    if tumours and field is None:
        field = RecoveredField(mesh, E_max, weights)
    for i, t in enumerate(tumours):
        in_t = tumour_cells(mesh, i)
        cells = np.flatnonzero(in_t)
        region = margin_region(mesh, t, in_t)
        th = E_rev[cells].max() if margin_threshold == "tumour" and cells.size else E_rev[region.cells]
        frac_m = margin_fraction(field, region, th)     # "tumour": one value, the tumour's E_rev
        curve = field.fractions_above(CURVE_THRESHOLDS_V_PER_M, cells)
        out.append(TumourCoverage(
            t.name, float(field.volume[cells].sum()), _fraction(field, cells, E_rev[cells]),
            _fraction(field, cells, E_irr[cells]), frac_m,
            region.volume(field.volume), float(E_max[cells].min()) if cells.size else float("nan"),
            bool(frac_m >= 1.0 - tolerance), curve))
    return out


def tumour_cells(mesh: Mesh, index: int) -> np.ndarray:
    """(M,) bool: the cells of the scenario's tumour number ``index``."""
    rid = [k for k, r in enumerate(mesh.regions) if r.kind == "tumour" and r.index == index]
    return np.isin(mesh.cell_region, rid)


def margin_fraction(field: RecoveredField, region: MarginRegion, threshold) -> float:
    """Fraction of the tumour + margin ``region`` (post.margin: cells with the fraction of
    each inside) where the recovered field is >= ``threshold`` (V/m, scalar or per region
    cell)."""
    total = region.volume(field.volume)
    if total <= 0:
        return float("nan")
    return float((field.volume_above(threshold, region.cells) * region.weight).sum() / total)


def tissue_volumes(mesh: Mesh, E_max: np.ndarray, weights: np.ndarray, E_rev: np.ndarray,
                   E_irr: np.ndarray, field: RecoveredField | None = None) -> dict[str, float]:
    """Volumes (m^3): tumour, reversible, irreversible, healthy irreversible, total (the
    threshold volumes of the recovered field ``field``, built here when not given)."""
    field = field or RecoveredField(mesh, E_max, weights)
    is_tumour = np.array([r.kind == "tumour" for r in mesh.regions])[mesh.cell_region]
    irr = field.volume_above(np.broadcast_to(E_irr, is_tumour.shape))
    return {
        "tumour": float(field.volume[is_tumour].sum()),
        "reversible": float(field.volume_above(np.broadcast_to(E_rev, is_tumour.shape)).sum()),
        "irreversible": float(irr.sum()),
        "healthy_irreversible": float(irr[~is_tumour].sum()),
        "tissue": float(field.volume.sum()),
    }


def cell_state(E_max: np.ndarray, E_rev: np.ndarray, E_irr: np.ndarray) -> np.ndarray:
    """(M,) 0 intact, 1 reversible, 2 irreversible, from the cell's max field over its points."""
    e = E_max.max(axis=1)
    return (e >= E_rev).astype(np.int8) + (e >= E_irr).astype(np.int8)


def far_boundary_reach(mesh: Mesh, size: tuple[float, float, float], E_max: np.ndarray, E_rev: np.ndarray,
                       clamped: bool = False) -> float:
    """Volume fraction of the cells touching the block's far walls that are reversible.

    The far walls (x = +-X/2, y = +-Y/2 and the bottom z = -Z) are artificial insulating
    boundaries: where tissue there is still electroporated, the block is too small for the
    reversible volume to be independent of its size. A block clamped between plates (a skin
    fold) *is* the tissue: its walls are real, and 0 is returned.
    """
    if clamped:
        return 0.0
    X, Y, Z = size
    p = mesh.points
    tol = 1e-9 * max(size)
    on = np.abs(p[:, 2] + Z) < tol
    on |= np.abs(np.abs(p[:, 0]) - X / 2) < tol
    on |= np.abs(np.abs(p[:, 1]) - Y / 2) < tol
    touching = on[mesh.tets].any(axis=1)
    if not touching.any():
        return 0.0
    vol = Mesh(mesh.points, mesh.tets[touching], mesh.cell_region[touching], mesh.regions).volumes()
    rev = E_max[touching].max(axis=1) >= E_rev[touching]
    return float((vol * rev).sum() / vol.sum())
