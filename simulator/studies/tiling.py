"""Several applications whose union covers a lesion no single application covers.

Tiling of the lesion's footprint on the skin (every tumour + margin projected on z = 0):
application centres on a rectangular grid over the footprint's bounding box, spaced by the
electrode's tile size (:func:`electrode_extent`) times ``PITCH_FACTORS`` (tighter grids on
later tries); grid points
whose electrode footprint misses the lesion footprint are dropped. The first grid whose
session (``[[applications]]``, one conformal mesh) covers is then pruned: applications are
removed one at a time, in order, while the rest still covers, so that removing any one
application of the final tiling uncovers part of the lesion. A grid that needs more than
``max_applications`` or whose needles would overlap is skipped.

Speed: each tile is solved once per grid. Pruning needs no solve: on the grid session's
mesh, a subset of its applications gives the cell-wise max of those applications' fields
(the others' needles conduct as tissue: the session's own physics, exact on that mesh;
tests/test_applications.py), so coverage of every subset is judged from the fields kept
in ``train.application_E_max``. The pruned tiling is then run once on its own mesh (what
``planned.toml`` gives); should that mesh judge it not covered, the unpruned grid is kept.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from simulator.errors import GeometryError, ScenarioError
from simulator.units import MM

PITCH_FACTORS = (1.0, 0.9, 0.8, 0.7)  # grid spacing / tile size, tried in order [A]


@dataclass
class Tiling:
    data: dict                 # the session's scenario dict ([[applications]])
    result: object             # its run
    centres_mm: list[list[float]]
    tried: int                 # sessions run (grids and the pruned tiling's own run)


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


def tile(single: dict, max_applications: int, progress: Callable[[str], None] | None = None) -> Tiling | None:
    """The smallest tiling found with ``single``'s electrode (see module docstring), or None."""
    from simulator.scenario import scenario_from_dict
    from simulator.solve.pipeline import run
    say = progress or (lambda _m: None)
    scenario = scenario_from_dict(single)
    extent = electrode_extent(scenario.electrode)
    tried = 0

    def attempt(centres):
        nonlocal tried
        try:
            sc = scenario_from_dict(session_data(single, centres))
        except ScenarioError:                  # needles of two applications overlap, or leave the block
            return None
        if not sc.tumours:
            return None
        tried += 1
        try:
            r = run(sc)
        except GeometryError as exc:           # gmsh could not mesh this arrangement: next grid
            say(f"tiling: {len(centres)} applications could not be meshed ({exc})")
            return None
        say(f"tiling: {len(centres)} applications -> {'covered' if r.covered else 'not covered'}")
        return r

    for factor in PITCH_FACTORS:
        centres = grid(scenario, extent, factor)
        if len(centres) < 2 or len(centres) > max_applications:
            continue
        r = attempt(centres)
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
            r2 = attempt(pruned)
            if r2 is not None and r2.covered:
                centres, r = pruned, r2
        return Tiling(session_data(single, centres), r, [[x / MM, y / MM] for x, y in centres], tried)
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
