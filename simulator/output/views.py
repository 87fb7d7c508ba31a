"""Which slices a run's figures show and what each window spans (m).

One vertical (x-z) and one horizontal (x-y) slice through every tumour's centre (slices
that coincide are drawn once), and through the centroid of the largest cold region of the
tumours and their margins (post.diagnosis, the report's ``diagnosis.cold_regions[0]``)
when there is one; without tumours, through the
electrode's centre at mid-depth. Every window holds all tumours and electrodes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulator.output.outlines import literal
from simulator.units import MM

if TYPE_CHECKING:                                   # pragma: no cover
    from simulator.solve.result import Result

ASPECT = 1.4                        # width / height the slice windows are widened towards
SKY = 0.06                          # strip above the skin in vertical slices (fraction of depth)


@dataclass(frozen=True)
class SliceView:
    """A plane ``axis`` = ``value`` (m; axis 1 = vertical x-z, 2 = horizontal x-y), the file
    stem it is written to, what it passes through (words) and the tumour it focuses on."""

    axis: int
    value: float
    stem: str
    through: str
    tumour: str | None = None


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "t"


def electrode_centre(result: "Result") -> np.ndarray:
    """The electrode's centre on the skin at its mid-depth (m)."""
    sc = result.scenario
    e = sc.electrode
    xy = [n.position for n in e.needles] + [p.centre for p in e.plates]
    depth = [n.insertion_depth * 0.5 for n in e.needles] + [p.depth * 0.5 for p in e.plates]
    x, y = np.mean(xy, axis=0) if xy else (0.0, 0.0)
    z = -min(float(np.mean(depth)) if depth else sc.tissue.size[2] / 2, sc.tissue.size[2] / 2)
    return np.array([x, y, z])


def slice_views(result: "Result", cold=None) -> list[SliceView]:
    """The slices to draw: the first pair is ``field_xz`` / ``field_xy``; ``cold``: the
    largest cold region (:class:`simulator.post.diagnosis.ColdRegion`) or None."""
    sc = result.scenario
    views: list[SliceView] = []

    def add(axis: int, value: float, stem: str, through: str, tumour: str | None) -> None:
        if not any(v.axis == axis and abs(v.value - value) < 1e-7 for v in views):
            views.append(SliceView(axis, float(value), stem, through, tumour))

    if not sc.tumours:
        c = electrode_centre(result)
        add(1, c[1], "xz", "the electrode's centre", None)
        add(2, c[2], "xy", "the electrode's mid-depth", None)
    for i, t in enumerate(sc.tumours):
        tag = "" if i == 0 else f"_{slug(t.name)}"
        add(1, t.centre[1], f"xz{tag}", f"{literal(t.name)}'s centre", t.name)
        add(2, t.centre[2], f"xy{tag}", f"{literal(t.name)}'s centre", t.name)
    if cold is not None:
        from simulator.post.diagnosis import CAUSE_TEXT
        words = f"the largest cold region ({literal(cold.tumour)}: {CAUSE_TEXT[cold.cause]})"
        add(1, cold.centroid[1], "xz_cold", words, cold.tumour)
        add(2, cold.centroid[2], "xy_cold", words, cold.tumour)
    return views


# ----------------------------------------------------------------------------- windows
def window(result: "Result") -> tuple[tuple[float, float], tuple[float, float], tuple[float, float],
                                      tuple[float, float]]:
    """Plot ranges (m): x, y and z (bottom .. a little above the skin) around the tumours and
    electrodes, clipped to the block, and the x limits the view may widen to."""
    sc = result.scenario
    X, Y, Z = sc.tissue.size
    pts = []
    for t in sc.tumours:
        a = np.asarray(t.semi_axes) + t.margin
        pts += [np.asarray(t.centre) - a, np.asarray(t.centre) + a]
    for n in sc.electrode.needles:
        for q in (n.entry, n.tip):
            pts += [q - n.radius, q + n.radius]
    for p in sc.electrode.plates:
        for cx, cy in p.corners():
            pts += [np.array([cx, cy, -p.depth]), np.array([cx, cy, 0.0])]
    if not pts:
        pts = [np.array([-X / 2, -Y / 2, -Z]), np.array([X / 2, Y / 2, 0.0])]
    pts = np.array(pts)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = max(2 * MM, 0.25 * float((hi - lo)[:2].max()))
    lo, hi = lo - pad, hi + pad
    x_lim = (-X / 2, X / 2)
    if sc.electrode.clamped:                            # show the plates outside the block
        t = max(p.thickness for p in sc.electrode.plates)
        x_lim = (-X / 2 - 1.5 * t, X / 2 + 1.5 * t)
        lo[0], hi[0] = x_lim
    xr = (max(lo[0], x_lim[0]), min(hi[0], x_lim[1]))
    yr = (max(lo[1], -Y / 2), min(hi[1], Y / 2))
    bottom = max(lo[2], -Z)
    return xr, yr, (bottom, 0.0), x_lim


def _fit(r: tuple[float, float], length: float, lim: tuple[float, float]) -> tuple[float, float]:
    """Grow the range r about its centre to ``length`` (shifting to stay within lim)."""
    if length <= r[1] - r[0]:
        return r
    length = min(length, lim[1] - lim[0])
    c = 0.5 * (r[0] + r[1])
    lo = min(max(c - length / 2, lim[0]), lim[1] - length)
    return (lo, lo + length)


def slice_ranges(result: "Result", axis: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """In-plane (u, v) ranges (m) of a slice, widened towards the aspect ratio of the axes."""
    X, Y, Z = result.scenario.tissue.size
    xr, yr, zr, x_lim = window(result)
    if axis == 1:                                       # x-z: widen x, or deepen z
        xr = _fit(xr, ASPECT * (zr[1] - zr[0]), x_lim)
        top = result.scenario.tissue_top                # > 0 over a protruding nodule
        zr = _fit((zr[0], top), (xr[1] - xr[0]) / ASPECT, (-Z, top))
        zr = (zr[0], top + SKY * (top - zr[0]))         # a strip above the skin
        return xr, zr
    xr = _fit(xr, ASPECT * (yr[1] - yr[0]), x_lim)
    yr = _fit(yr, (xr[1] - xr[0]) / ASPECT, (-Y / 2, Y / 2))
    return xr, yr
