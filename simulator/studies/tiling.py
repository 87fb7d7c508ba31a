"""Several applications whose union covers a lesion no single application covers.

Tiling of the lesion's footprint on the skin (every tumour + margin projected on z = 0):
application centres on a rectangular grid over the footprint's bounding box, spaced by the
electrode's tile size (:func:`electrode_extent`) times ``PITCH_FACTORS``; grid points whose
electrode footprint misses the lesion footprint are dropped. The grids are tried fewest
applications first (equal counts: wider pitch first), at one voltage for every
application (the plan's: the generator's maximum, where coverage is largest [A]), and the
first whose session (``[[applications]]``, one conformal mesh) covers is the answer: no
grid with fewer applications covered. It is then pruned: applications are removed one at a
time, in order, while the rest still covers, so that removing any one application of the
final tiling uncovers part of the lesion. A grid that needs more than
``max_applications``, fewer than a given lower bound, or whose needles would overlap is
skipped.

Speed: each tile is solved once per grid. Pruning needs no solve: on the grid session's
mesh, a subset of its applications gives the cell-wise max of those applications' fields
(the others' needles conduct as tissue: the session's own physics, exact on that mesh;
tests/test_applications.py), so coverage of every subset is judged from the fields kept
in ``train.application_E_max``. The pruned tiling is then run once on its own mesh (what
``planned.toml`` gives); should that mesh judge it not covered, the unpruned grid is kept.
With the single application's run (``source``), each application's Newton solves start
from the single application's converged potential moved with it onto the session's mesh
(studies.warm); the answer is the session mesh's own converged field.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from simulator.errors import GeometryError, ScenarioError
from simulator.post.coverage import tumour_cells
from simulator.units import MM
from simulator.studies.records import cpu_time, run_record, start_counts

PITCH_FACTORS = (1.0, 0.9, 0.8, 0.7)  # grid spacing / tile size, tried in order [A]


@dataclass
class Tiling:
    data: dict                 # the session's scenario dict ([[applications]])
    result: object             # its run
    centres_mm: list[list[float]]
    tried: int                 # sessions run (grids and the pruned tiling's own run)
    engine: object = None      # studies.warm.WarmEngine of the result's mesh (its minimum voltage continues it)
    sessions: list = field(default_factory=list)    # run_record of every session run


def electrode_extent(electrode) -> tuple[float, float]:
    """(x, y) tile size (m) of an electrode on the skin: its needles' or plates' bounding box
    plus half its electrode distance (so that neighbouring tiles do not put needles on the
    same spot), at least the electrode distance."""
    from simulator.post.diagnosis import electrode_footprint
    pts = electrode_footprint(electrode)
    span = pts.max(axis=0) - pts.min(axis=0) + 0.5 * electrode.distance
    return (max(span[0], electrode.distance), max(span[1], electrode.distance))


def footprint_box(scenario) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) corners (m) of the lesion footprint's bounding box on the skin."""
    lo = np.min([np.asarray(t.centre[:2]) - np.asarray(t.semi_axes[:2]) - t.margin for t in scenario.tumours], axis=0)
    hi = np.max([np.asarray(t.centre[:2]) + np.asarray(t.semi_axes[:2]) + t.margin for t in scenario.tumours], axis=0)
    return lo, hi


def grid(scenario, extent: tuple[float, float], factor: float) -> list[tuple[float, float]]:
    """Grid centres (m) over the footprint box; those whose electrode box misses every
    tumour + margin ellipse on the skin are dropped."""
    lo, hi = footprint_box(scenario)
    out = []
    axes = []
    for d in range(2):
        pitch = extent[d] * factor
        n = max(1, math.ceil((hi[d] - lo[d]) / pitch - 1e-9))
        c = 0.5 * (lo[d] + hi[d])
        axes.append([c + (k - (n - 1) / 2) * pitch for k in range(n)])
    for y in axes[1]:
        for x in axes[0]:
            if any(_box_meets_ellipse((x, y), extent, t) for t in scenario.tumours):
                out.append((x, y))
    return out


def _box_meets_ellipse(c, extent, t) -> bool:
    """Whether the box of ``extent`` around c meets the tumour + margin ellipse on the skin."""
    a, b = t.semi_axes[0] + t.margin, t.semi_axes[1] + t.margin
    px = min(max(t.centre[0], c[0] - extent[0] / 2), c[0] + extent[0] / 2)
    py = min(max(t.centre[1], c[1] - extent[1] / 2), c[1] + extent[1] / 2)
    return ((px - t.centre[0]) / a) ** 2 + ((py - t.centre[1]) / b) ** 2 <= 1.0


def session_data(single: dict, centres: list[tuple[float, float]]) -> dict:
    """A scenario dict with one application of ``single``'s electrode at each centre (m)."""
    out = copy.deepcopy(single)
    electrode = out.pop("electrode")
    out["applications"] = [{**electrode, "centre_mm": [round(x / MM, 4), round(y / MM, 4)]} for x, y in centres]
    return out


def grids(scenario, extent: tuple[float, float], max_applications: int, lower_bound: int = 1
          ) -> list[list[tuple[float, float]]]:
    """The distinct grids of ``PITCH_FACTORS`` with 2 (and ``lower_bound``) to
    ``max_applications`` applications, fewest applications first (the pitch order breaks ties)."""
    out: list[list[tuple[float, float]]] = []
    for factor in PITCH_FACTORS:
        centres = grid(scenario, extent, factor)
        if max(2, lower_bound) <= len(centres) <= max_applications and centres not in out:
            out.append(centres)
    return sorted(out, key=len)            # stable: equal counts keep the pitch order


@dataclass
class SingleSource:
    """A single application's runs to seed the sessions' Newton solves from: its scenario
    (electrode at its own centre), its mesh and the warm-start engine that solved it there."""

    scenario: object
    mesh: object
    engine: object               # studies.warm.WarmStarts


def _offsets(source: SingleSource, session) -> dict[str, np.ndarray] | None:
    """Each application's rigid shift (m) from the single application (its needles' mean
    position on the skin); None unless every application is the single one moved."""
    from simulator.post.diagnosis import electrode_footprint
    base = electrode_footprint(source.scenario.electrode)
    out = {}
    for k, app in enumerate(session.applications):
        pts = electrode_footprint(app.electrode)
        shift = pts.mean(axis=0) - base.mean(axis=0)
        if pts.shape != base.shape or not np.allclose(pts - shift, base, atol=1e-9):
            return None
        out[f"a{k + 1}."] = np.array([shift[0], shift[1], 0.0])
    return out


def tile(single: dict, max_applications: int, progress: Callable[[str], None] | None = None, *,
         lower_bound: int = 1, source: SingleSource | None = None) -> Tiling | None:
    """The smallest tiling found with ``single``'s electrode at ``single``'s voltage (see the
    module docstring), or None. Grids are tried fewest applications first and the first that
    covers is the answer; grids of fewer than ``lower_bound`` applications are not tried.
    ``source``: the single application's run, whose fields moved to each application start
    the session's Newton solves (studies.warm)."""
    from simulator.scenario import scenario_from_dict
    from simulator.solve.pipeline import run
    from simulator.studies.warm import WarmEngine, moved_seed
    say = progress or (lambda _m: None)
    scenario = scenario_from_dict(single)
    extent = electrode_extent(scenario.electrode)
    tried = 0
    sessions: list[dict] = []

    def attempt(centres):
        nonlocal tried
        try:
            sc = scenario_from_dict(session_data(single, centres))
        except ScenarioError:                  # needles of two applications overlap, or leave the block
            return None, None
        if not sc.tumours:
            return None, None
        tried += 1
        offsets = _offsets(source, sc) if source is not None else None

        def seed_for(mesh, dofs):
            return None if offsets is None else moved_seed(source.engine, source.mesh, mesh, dofs, offsets)
        eng = WarmEngine(seed_for)
        w0, c0 = time.perf_counter(), cpu_time()
        try:
            r = run(sc, make_engine=eng)
        except GeometryError as exc:           # gmsh could not mesh this arrangement: next grid
            say(f"tiling: {len(centres)} applications could not be meshed ({exc})")
            return None, None
        sessions.append(run_record(r, "tiling", time.perf_counter() - w0, cpu_time() - c0,
                                   start_counts(eng.engine)))
        say(f"tiling: {len(centres)} applications at {sc.protocol.max_voltage:g} V -> "
            f"{'covered' if r.covered else 'not covered'}")
        return r, eng

    for centres in grids(scenario, extent, max_applications, lower_bound):
        r, eng = attempt(centres)
        if r is None or not r.covered:
            continue
        keep = list(range(len(centres)))
        k = 0
        while k < len(keep) and len(keep) > 1:                 # prune what the others cover anyway
            rest = keep[:k] + keep[k + 1:]
            if subset_covered(r, rest):
                keep = rest
            else:
                k += 1
        if len(keep) < len(centres):
            pruned = [centres[i] for i in keep]
            r2, eng2 = attempt(pruned)
            if r2 is not None and r2.covered:
                centres, r, eng = pruned, r2, eng2
        return Tiling(session_data(single, centres), r, [[x / MM, y / MM] for x, y in centres], tried,
                      eng, sessions)
    return None


def subset_covered(result, keep: list[int]) -> bool:
    """Whether the applications ``keep`` (indices) of a session run cover every tumour +
    margin on that run's mesh: coverage of the cell-wise max of their fields."""
    from simulator.post.coverage import tumour_coverage
    sc, tr = result.scenario, result.train
    E = np.maximum.reduce([tr.application_E_max[k] for k in keep])
    cov = tumour_coverage(result.mesh, sc.tumours, E, tr.weights, result.E_rev, result.E_irr,
                          sc.coverage_tolerance, sc.margin_threshold)
    return all(t.covered for t in cov)


SLABS = 3        # the lesion's depth range is also cut into this many slabs for the count bound
DIRECTIONS = 12  # directions on the skin along which the reach bound is taken (0-165 deg)


def count_lower_bound(result) -> int:
    """A lower bound on how many applications of ``result``'s electrode at its voltage any
    union covering every tumour + margin needs, from that one application's run: the larger
    of :func:`slab_bound` (volume) and :func:`reach_bound` (shape). Both assume that an
    application covers no more where it is moved or turned than where it was run (tissue
    alike across the skin [A])."""
    return max(slab_bound(result), reach_bound(result))


def _lesion(result, i, t):
    """Tumour i's tumour + margin cells (bool) and the threshold each cell is judged at (post.coverage)."""
    sc, mesh = result.scenario, result.mesh
    own = tumour_cells(mesh, i)
    lesion = own | t.contains(mesh.centroids(), grow=t.margin)
    if getattr(sc, "margin_threshold", "tumour") == "tumour" and own.any():
        threshold = np.full(mesh.num_cells, result.E_rev[own].max())
    else:
        threshold = np.asarray(result.E_rev, dtype=float)
    return lesion, threshold


def slab_bound(result) -> int:
    """Volume bound: in a horizontal slab of the lesion's depth range (the whole range, and
    ``SLABS`` parts of it, cells taken by centroid), the union must cover the lesion's volume
    there less what the coverage tolerance leaves uncovered in all, and one application
    covers at most its own volume above the lowest threshold any lesion cell of the slab is
    judged at. The max over tumours and slabs, at least 1."""
    sc, mesh = result.scenario, result.mesh
    field = result.recovered_field()
    cz = mesh.centroids()[:, 2]
    best = 1
    for i, t in enumerate(sc.tumours):
        lesion, threshold = _lesion(result, i, t)
        if not lesion.any():
            continue
        slack = sc.coverage_tolerance * field.volume[lesion].sum()
        lo, hi = cz[lesion].min(), np.nextafter(cz[lesion].max(), np.inf)
        edges = np.linspace(lo, hi, SLABS + 1)
        for a, b in [(lo, hi)] + list(zip(edges[:-1], edges[1:])):
            slab = (cz >= a) & (cz < b)
            need = field.volume[lesion & slab].sum() - slack
            if need <= 0:
                continue
            one = field.volume_above(threshold[lesion & slab].min(), slab).sum()
            if one <= 0:
                return 10 ** 6                      # nothing of the slab is covered at this voltage
            best = max(best, math.ceil(need / one - 1e-9))
    return best


def reach_bound(result) -> int:
    """Shape bound: D is the diameter on the skin of what one application covers in the
    lesion's depth range (the vertices of every cell with a part above the lowest lesion
    threshold; over-estimated, so the bound stays a bound), plus the widest lesion cell
    (cells are placed by centroid, their covered parts lie anywhere in them). Along a
    direction u, pieces of the lesion (every tumour + margin) are cut greedily from one end:
    each the shortest run of cells (by centroid along u) holding more of one tumour + margin
    than its coverage tolerance lets go uncovered, the next starting more than D further
    on. Each piece needs an application that touches it, and none touches two: the number
    of pieces bounds the count. The max over ``DIRECTIONS`` directions, at least 1."""
    from scipy.spatial import ConvexHull, QhullError
    sc, mesh = result.scenario, result.mesh
    field = result.recovered_field()
    centroids = mesh.centroids()
    parts = [_lesion(result, i, t) for i, t in enumerate(sc.tumours)]
    parts = [(lesion, threshold) for lesion, threshold in parts if lesion.any()]
    if not parts:
        return 1
    anywhere = np.logical_or.reduce([lesion for lesion, _ in parts])
    lowest = min(threshold[lesion].min() for lesion, threshold in parts)
    lo, hi = centroids[anywhere, 2].min(), centroids[anywhere, 2].max()
    reached = np.flatnonzero((centroids[:, 2] >= lo) & (centroids[:, 2] <= hi))
    reached = reached[field.volume_above(lowest, reached) > 0]
    if reached.size == 0:
        return 10 ** 6                               # nothing of the lesion's depth is covered
    pts = np.unique(mesh.points[mesh.tets[reached].ravel(), :2], axis=0)
    try:
        pts = pts[ConvexHull(pts).vertices]
    except QhullError:                               # degenerate (collinear) hull: all points
        pass
    D = float(np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2)).max())
    cells = np.flatnonzero(anywhere)
    corners = mesh.points[mesh.tets[cells], :2]
    D += float(np.sqrt(((corners[:, :, None, :] - corners[:, None, :, :]) ** 2).sum(axis=3)).max())
    vol = field.volume[cells]
    member = [lesion[cells] for lesion, _ in parts]
    slack = [sc.coverage_tolerance * field.volume[lesion].sum() for lesion, _ in parts]
    best = 1
    for k in range(DIRECTIONS):
        ang = math.pi * k / DIRECTIONS
        u = centroids[cells, 0] * math.cos(ang) + centroids[cells, 1] * math.sin(ang)
        order = np.argsort(u, kind="stable")
        us = u[order]
        cums = [np.cumsum(np.where(m[order], vol[order], 0.0)) for m in member]
        pieces, start = 0, 0                         # index of the first cell of the next piece
        while start < len(us):
            # the first index past which one tumour + margin holds more than its slack
            end = min(int(np.searchsorted(c, (c[start - 1] if start else 0.0) + sl, side="right"))
                      for c, sl in zip(cums, slack))
            if end >= len(us):
                break
            pieces += 1
            start = int(np.searchsorted(us, us[end] + D, side="right"))
        best = max(best, pieces)
    return best
