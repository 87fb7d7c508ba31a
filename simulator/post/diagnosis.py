"""Why a placement fails: the connected cold parts of tumour + margin and a cause for each.

A cell is *cold* when part of it lies below the threshold coverage judges it at
(post.coverage): its tissue's E_rev, or, with ``margin_threshold = "tumour"`` (the default),
the tumour's E_rev in every cell of the tumour + margin region, measured as coverage measures
it (post.above: the recovered field clipped per tet); a region's volume is the cold volume
of its cells, so the cold regions add up to exactly what coverage counts as not covered. The cold cells of one tumour's
tumour + margin region (the same region coverage judges) are split into connected parts;
two cells are connected when they share a vertex (and so also when they share a face).

Each part gets one ``cause``, the first of these rules that holds for its volume-weighted
centroid c (rules are geometric; they name where the part is relative to the electrode):

1. ``below_needle_tips``: the electrode has needles and c lies deeper than the mean depth
   of their tips (plates: deeper than the plates' mean depth) - the needles are too short
   or not inserted far enough;
2. ``outside_electrode``: c lies outside the electrode's footprint on the skin, the convex
   hull of the needle axes (entry and tip points projected on the skin) or of the plate
   faces; a footprint with no area (needles on one line, e.g. a pair) is the segment grown
   by half the electrode distance on each side [A] - the electrode is too small or off-centre;
3. ``low_field_near_surface``: c lies within the top tissue layer, or within
   ``NEAR_SURFACE`` of the skin when there is one layer or the layers are not stacked in
   depth (a skin fold) [A] (field lines leave the skin);
4. ``low_field_between_needles``: c lies inside the footprint of a needle electrode, between
   skin and tips - the voltage is too low for the needle spacing;
5. ``other``: anything else (e.g. a plate electrode's inter-plate region).

Lengths in m, fields in V/m here; the report converts to mm and V/cm.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.meshing.mesh import Mesh
from simulator.post.margin import margin_region

CAUSES = ("below_needle_tips", "outside_electrode", "low_field_between_needles", "low_field_near_surface",
          "other")
NEAR_SURFACE = 1.5e-3       # m, with a single-layer block: the default skin thickness (domain.md) [A]
CAUSE_TEXT = {"below_needle_tips": "below the needle tips", "outside_electrode": "outside the electrode",
              "low_field_between_needles": "low field between the needles",
              "low_field_near_surface": "low field near the skin surface", "other": "low field"}


@dataclass(frozen=True)
class ColdRegion:
    tumour: str
    centroid: tuple[float, float, float]    # m
    volume: float                           # m^3
    min_field: float                        # V/m, lowest max-field in the part
    cause: str
    cells: np.ndarray                       # cell indices (not reported; figures use them)


def cold_volumes(field, E_rev: np.ndarray, cells: np.ndarray | None = None) -> np.ndarray:
    """(M,) volume (m^3) of each cell below its threshold ``E_rev`` (M,) V/m, on the measure
    of post.above (``field``: its RecoveredField); a cell is cold when this is > 0. With
    ``cells`` (indices) only those are measured; the others get 0."""
    idx = np.arange(len(field.volume)) if cells is None else np.asarray(cells)
    cold = np.zeros(len(field.volume))
    cold[idx] = field.volume[idx] - field.volume_above(E_rev[idx], idx)
    return np.where(cold > 1e-9 * field.volume, cold, 0.0)


def connected_parts(mesh: Mesh, cells: np.ndarray) -> list[np.ndarray]:
    """Split ``cells`` (indices) into parts connected through shared vertices; largest first
    by cell count, ties by lowest cell index (deterministic)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    if cells.size == 0:
        return []
    n = cells.size
    inc = sp.csr_matrix((np.ones(4 * n), mesh.tets[cells].ravel(), np.arange(0, 4 * n + 1, 4)),
                        shape=(n, mesh.num_points))
    _, labels = connected_components(inc @ inc.T, directed=False)
    parts = [np.sort(cells[labels == k]) for k in range(labels.max() + 1)]
    return sorted(parts, key=lambda p: (-p.size, p[0]))


def electrode_footprint(electrode) -> np.ndarray:
    """(K, 2) points on the skin (m) whose convex hull is the electrode's footprint."""
    pts = []
    for nd in electrode.needles:
        pts += [nd.entry[:2], nd.tip[:2]]
    for p in electrode.plates:
        c, L, t = np.asarray(p.centre), p.length, p.thickness
        a = np.radians(p.normal_deg)
        nrm, tan = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
        pts += [c + s * t / 2 * nrm + u * L / 2 * tan for s in (-1, 1) for u in (-1, 1)]
    return np.array(pts, dtype=float)


def inside_footprint(points_xy: np.ndarray, footprint: np.ndarray, grow: float) -> np.ndarray:
    """(P,) bool: points (m) inside the convex hull of ``footprint``; a hull with no area (all
    points on a line) is the segment grown by ``grow`` on each side (m)."""
    from scipy.spatial import ConvexHull, QhullError
    pts = np.asarray(points_xy, dtype=float).reshape(-1, 2)
    centred = footprint - footprint.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    if len(s) > 1 and s[1] > 1e-6 * max(s[0], 1e-12):
        try:
            hull = ConvexHull(footprint)
            eq = hull.equations                        # a.x + b.y + c <= 0 inside
            return np.all(pts @ eq[:, :2].T + eq[:, 2] <= 1e-9, axis=1)
        except QhullError:
            pass
    direction = vt[0]
    along = (footprint - footprint.mean(axis=0)) @ direction
    rel = pts - footprint.mean(axis=0)
    u = rel @ direction
    v = rel @ np.array([-direction[1], direction[0]])
    return (u >= along.min() - 1e-12) & (u <= along.max() + 1e-12) & (np.abs(v) <= grow)


def cause_of(centroid: np.ndarray, electrode, tissue) -> str:
    """The first rule of the module docstring that holds for a centroid (m)."""
    needles, plates = electrode.needles, electrode.plates
    if needles:
        if centroid[2] < np.mean([n.tip[2] for n in needles]):
            return "below_needle_tips"
    elif plates and not electrode.clamped:
        if centroid[2] < -np.mean([p.depth for p in plates]):
            return "below_needle_tips"
    if not electrode.clamped:
        fp = electrode_footprint(electrode)
        if len(fp) and not inside_footprint(centroid[:2], fp, electrode.distance / 2)[0]:
            return "outside_electrode"
    depth_layers = getattr(tissue, "layout", "depth") == "depth" and len(tissue.layers) > 1
    top = -tissue.layer_bounds()[0][1] if depth_layers else NEAR_SURFACE   # folds stack layers along x
    if -centroid[2] <= top:
        return "low_field_near_surface"
    if needles:
        return "low_field_between_needles"
    return "other"


def diagnose(mesh: Mesh, tumours, electrode, tissue, E_max: np.ndarray, weights: np.ndarray,
             E_rev: np.ndarray, margin_threshold: str = "tissue", field=None) -> list[ColdRegion]:
    """Cold parts of every tumour's tumour + margin region, largest volume first.

    E_max, weights (M, Q) V/m and m^3; E_rev (M,) V/m; ``margin_threshold`` as in
    post.coverage (see module docstring); ``field``: the RecoveredField of E_max (built here
    when not given)."""
    if not tumours:
        return []
    from simulator.post.above import RecoveredField
    from simulator.post.coverage import tumour_cells
    field = field if field is not None else RecoveredField(mesh, E_max, weights)
    centroids = mesh.centroids()
    out = []
    for i, t in enumerate(tumours):
        own = tumour_cells(mesh, i)
        region = margin_region(mesh, t, own)        # coverage's region: cells with their fraction inside
        if margin_threshold == "tumour" and own.any():        # coverage's rule: the tumour's E_rev
            vol = cold_volumes(field, np.full(len(E_rev), E_rev[own].max()), region.cells)
        else:
            vol = cold_volumes(field, E_rev, region.cells)
        vol[region.cells] *= region.weight
        floor = RESOLUTION * region.volume(field.volume)
        for part in connected_parts(mesh, np.flatnonzero(vol > 0)):
            v = float(vol[part].sum())
            if v < floor:
                continue
            c = (centroids[part] * vol[part, None]).sum(axis=0) / v
            out.append(ColdRegion(t.name, tuple(float(x) for x in c), v, float(E_max[part].min()),
                                  cause_of(c, electrode, tissue), part))
    return sorted(out, key=lambda r: -r.volume)


RESOLUTION = 1e-6           # [A] cold parts below this fraction of their tumour + margin volume
#                             are not regions: slivers where the margin's clipped boundary cells
#                             reach just under E_rev (hexagonal example: 6 parts, 1.3e-5 mm3 of
#                             2,600 mm3, at 384 V/cm against 400), far below the coverage tolerance
MAX_LISTED = 20             # cold regions listed in the report (largest first); the rest are counted


def diagnosis_report(regions: list[ColdRegion]) -> dict:
    """The report's ``diagnosis`` entry: mm, mm^3 and V/cm."""
    listed = regions[:MAX_LISTED]
    return {
        "cold_regions": [{
            "tumour": r.tumour, "centroid_mm": [round(x * 1e3, 3) for x in r.centroid],
            "volume_mm3": float(f"{r.volume * 1e9:.6g}"), "min_field_V_per_cm": float(f"{r.min_field / 100:.6g}"),
            "cause": r.cause} for r in listed],
        "cold_regions_total": len(regions),
        "cold_volume_mm3": float(f"{sum(r.volume for r in regions) * 1e9:.6g}"),
        "rules": "cause = first of: below_needle_tips (centroid deeper than the mean needle-tip depth), "
                 "outside_electrode (centroid outside the electrode footprint on the skin), "
                 "low_field_near_surface (centroid in the top layer), low_field_between_needles (inside "
                 "the footprint of a needle electrode), other",
    }


def diagnosis_line(diagnosis: dict) -> str:
    """One terminal line: what is cold and why."""
    regions = diagnosis["cold_regions"]
    if not regions:
        return "diagnosis: no cold region (all tumour + margin reached E_rev)"
    r = regions[0]
    x, y, z = r["centroid_mm"]
    text = (f"diagnosis: {r['volume_mm3']:.3g} mm3 of {r['tumour']} + margin cold "
            f"{CAUSE_TEXT[r['cause']]} (at x {x:.1f}, y {y:.1f}, z {z:.1f} mm; min {r['min_field_V_per_cm']:.0f} V/cm)")
    rest = diagnosis["cold_regions_total"] - 1
    if rest:
        text += f"; {rest} more region{'s' if rest > 1 else ''}, {diagnosis['cold_volume_mm3']:.3g} mm3 cold in all"
    return text
