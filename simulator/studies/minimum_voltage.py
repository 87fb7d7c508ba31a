"""The lowest voltage at which a placement covers every tumour + margin (bisection on coverage).

Coverage is taken to grow with the voltage [A]: exact for constant sigma (the field scales
with V); with sigma(E) rising with E the field redistributes, but the field a cell sees still
rises with V in every case we ran. The search keeps a bracket lo < V* <= hi (lo not covered,
hi covered) and stops when hi - lo <= ``REL_TOL`` x hi; it returns hi, so the answer covers
and the threshold lies within 1 % below it. Voltages are tried on a 0.1 V grid.

Speed: the mesh is built once and reused for every voltage (``run(..., mesh=...)``). Each run
gives the factor s its field would still need, were it linear in V: the smallest s with
fraction(s E >= E_rev) >= 1 - tolerance over the tumour + margin sample points (s = 1 at the
threshold). The next voltage is the root of log s against log V by a secant through the
last two runs (one run: V s), aimed 0.5 % past the root to close the bracket; it is kept
``SAFE`` of the bracket width from either end, and a plain bisection step follows any step
that did not halve the bracket, so the search ends in O(log) steps even when guesses are poor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from simulator.post.coverage import margin_fraction, tumour_cells
from simulator.post.margin import margin_region

REL_TOL = 0.01          # bracket width / voltage at which the bisection stops
SAFE = 0.1              # a guessed step stays this fraction of the bracket away from its ends
MIN_VOLTAGE = 1.0       # V: below this nothing is searched


@dataclass
class MinimumVoltage:
    """Outcome of the search: ``voltage`` (V, None when nothing up to ``limit`` covers), the
    run at that voltage (or at ``limit`` when none covers), and every voltage tried."""

    voltage: float | None
    result: object
    limit: float
    tried: list[tuple[float, bool]] = field(default_factory=list)
    rel_tol: float = REL_TOL


def linear_scale_to_cover(result) -> float:
    """The factor by which the field of ``result`` would have to grow, were it linear in the
    voltage, for every tumour + margin to be covered (inf when no factor covers), judged on
    the measure coverage uses (post.coverage: the recovered field clipped per tet, the margin
    at the tumour's E_rev or each cell's own): the smallest s with margin fraction of s E
    above E_rev >= 1 - tolerance, found by bisection on log s to 1e-4."""
    sc, mesh = result.scenario, result.mesh
    field = result.recovered_field()
    need = 0.0
    goal = 1.0 - sc.coverage_tolerance - 1e-12
    for i, t in enumerate(sc.tumours):
        own = tumour_cells(mesh, i)
        region = margin_region(mesh, t, own)
        if region.cells.size == 0 or region.volume(field.volume) <= 0:
            continue
        E_rev = result.E_rev[region.cells]
        if getattr(sc, "margin_threshold", "tissue") == "tumour" and own.any():
            E_rev = np.full(E_rev.shape, result.E_rev[own].max())

        def covered(scale: float) -> bool:          # fraction of (scale x field) >= E_rev
            return margin_fraction(field, region, E_rev / scale) >= goal
        lo, hi = 1e-6, 1e6
        if not covered(hi):
            return math.inf
        if covered(lo):
            continue
        while hi / lo > 1.0 + 1e-4:
            mid = math.sqrt(lo * hi)
            lo, hi = (lo, mid) if covered(mid) else (mid, hi)
        need = max(need, hi)
    return need


def minimum_voltage(scenario, *, mesh=None, limit: float | None = None, rel_tol: float = REL_TOL,
                    first=None, run_fn: Callable | None = None,
                    progress: Callable[[str], None] | None = None) -> MinimumVoltage:
    """Search the lowest covering voltage of ``scenario``'s electrode and placement (V).

    Voltages tried after the first are rounded up to 0.1 V. ``limit`` defaults to the
    generator's ``max_voltage``; ``first`` is a run of ``scenario`` at its own voltage on
    ``mesh`` when the caller has one; ``run_fn(scenario, mesh)`` defaults to
    :func:`simulator.solve.pipeline.run`."""
    from simulator.solve.pipeline import build_mesh_for, run
    say = progress or (lambda _m: None)
    if not scenario.tumours:
        raise ValueError("minimum voltage needs a tumour")
    limit = float(limit if limit is not None else scenario.generator.max_voltage)
    if mesh is None:
        mesh, _ = build_mesh_for(scenario)
    solve = run_fn or (lambda sc, m: run(sc, mesh=m))
    tried: list[tuple[float, bool]] = []
    results: dict[float, object] = {}

    def evaluate(v: float):
        if first is not None and not tried and v == first.scenario.protocol.groups[0].voltage:
            r = first
        else:
            r = solve(scenario.with_voltage(v), mesh)
        results[v] = r
        tried.append((v, bool(r.covered)))
        say(f"minimum voltage: {v:.1f} V -> {'covered' if r.covered else 'not covered'}")
        return r

    lo, hi = 0.0, None
    v = min(max(scenario.protocol.groups[0].voltage, MIN_VOLTAGE), limit)
    points: list[tuple[float, float]] = []          # (log V, log of the linear factor still needed)
    width_before = None
    plain_next = False
    while True:
        if tried:
            v = min(math.ceil(v * 10.0 - 1e-9) / 10.0, limit)
            if v in results and hi is not None:           # the 0.1 V grid cannot split the bracket
                return MinimumVoltage(hi, results[hi], limit, tried, rel_tol)
        r = evaluate(v)
        if r.covered:
            hi = v
        else:
            lo = v
        if hi is None and v >= limit:
            return MinimumVoltage(None, r, limit, tried, rel_tol)
        if hi is not None and (hi - lo <= rel_tol * hi or hi <= MIN_VOLTAGE):
            return MinimumVoltage(hi, results[hi], limit, tried, rel_tol)
        need = linear_scale_to_cover(r)
        points.append((math.log(v), math.log(need) if 0 < need < math.inf else math.nan))
        # aim just past the predicted threshold, so that the next point likely closes the bracket
        guess = predicted_threshold(points) * (1 - rel_tol / 2 if r.covered else 1 + rel_tol / 2)
        width = hi - lo if hi is not None else math.inf
        if hi is None:
            v = min(limit, max(guess, v * (1 + 2 * rel_tol))) if math.isfinite(guess) else limit
        elif plain_next or not math.isfinite(guess):
            v = 0.5 * (lo + hi)
        elif lo == 0.0:                                       # no uncovered point yet: aim below
            v = max(min(guess, hi * (1 - rel_tol)), 0.5 * hi)
        else:
            v = float(np.clip(guess, lo + SAFE * width, hi - SAFE * width))
        plain_next = (width_before is not None and width > 0.5 * width_before and not plain_next)
        width_before = width if hi is not None else None


def predicted_threshold(points: list[tuple[float, float]]) -> float:
    """The voltage (V) where the linear factor still needed reaches 1: a secant through the
    last two (log V, log factor) points, or one point's own linear guess V x factor."""
    (x1, y1) = points[-1]
    if not math.isfinite(y1):
        return math.nan
    if len(points) >= 2:
        x0, y0 = points[-2]
        if math.isfinite(y0) and y1 != y0 and (y1 - y0) / (x1 - x0) < 0:
            return math.exp(x1 - y1 * (x1 - x0) / (y1 - y0))
    return math.exp(x1 + y1)
