"""An accuracy target: solve on meshes of decreasing size until the error estimate of every
headline figure meets ``[mesh] accuracy`` (wraps the single-mesh :func:`pipeline.run`).

Level 0 meshes with the scenario's sizes. By default (``INDICATOR``) level k >= 1 meshes
from the error-equidistributing size map of level k-1's solution
(:mod:`simulator.post.error_indicator`), which replaces the scenario's size field: f_k^-3
times the cells of level k-1 (f_1 = 0.7, then a factor chosen from the estimates and their
orders, 0.5-0.8), placed where the indicator of the figures' errors is large and taken
away where it is small; Richardson's h is then that of the DOFs, h_0 (N_0 / N_k)^(1/3), over
the map's levels once there are two (:func:`richardson_levels`). Without it (the fallback)
level k meshes with every element size (fine zone, contacts, far field) times f_k.
After each level from the second on, Richardson extrapolation over
the levels (:mod:`simulator.post.richardson`) estimates the error of the finest value of:
the current of each pulse group and the reversible, irreversible and healthy-irreversible
volumes (relative target ``accuracy``), the reversible fraction of each tumour and of
tumour + margin (absolute target ``accuracy / 4``: 0.005 at the default 0.02). The loop
stops when all meet their target, or before a level that would exceed ``[mesh] max_dofs``
or the memory guard (then the targets missed are listed as warnings).
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from simulator.errors import ResourceError
from simulator.post.richardson import Estimate, richardson_error
from simulator.scenario import Scenario
from simulator.solve.result import Result

FIRST_FACTOR = 0.7          # [A] size ratio level 0 -> 1 (issue 11)
FACTOR_RANGE = (0.5, 0.8)   # [A] later ratios: fast enough, still a usable Richardson step
SAFETY = 0.85               # [A] aim below the target when choosing the next size
MAX_LEVELS = 6
CAP_FILL = 0.9              # [A] a level the DOF cap would refuse is planned at this x the cap instead ...
CAP_GAIN = 2.0              # ... when that is at least this x the DOFs of the last level (else the loop stops)
COVERAGE_PER_ACCURACY = 0.25    # coverage fractions to an absolute accuracy / 4 (0.005 at 0.02)
VOLUME_FLOOR = 0.01         # [A] a volume below 1 % of the reversible volume is held to an
#                             absolute error of accuracy x that 1 % (a relative error of a
#                             near-zero volume says nothing)
LOCAL = False               # refine near contacts, threshold iso-surfaces and tumour boundaries
INDICATOR = True            # levels >= 1 mesh with the error-equidistributing size map
#                             (post.error_indicator) instead of the scenario's sizes x f
GOALS = True                # ... of the figures' errors over their tolerances (post.error_indicator
#                             .goal_indicator), else of the energy (current) error alone
BULK_EXPONENT = 0.5         # [A] elsewhere the sizes shrink by step ** this (0.84 for 0.7)
CURRENT_ORDERS = (1.0, 2.0)     # P1: current ~ energy, O(h^2) smooth; >= 1 with singular corners
VOLUME_ORDERS = (1.0, 2.0)      # threshold iso-surface position ~ field error
WARM_START = True           # each level's Newton solves start from the previous level's fields
#                             (embedded engine; only the start changes, not the converged answer)


@dataclass
class Level:
    """Headline figures of one mesh level (SI: A, m^3, fractions)."""

    refinement: float
    size: float                     # m, element size in the fine zone
    dofs: int
    cells: int
    time: float                     # s
    currents: list[float]
    volumes: dict[str, float]
    tumours: dict[str, tuple[float, float]]     # name -> (tumour, margin) reversible fractions
    newton_iterations: int = 0      # over the level's distinct configurations
    cg_iterations: int = 0
    mapped: bool = False            # meshed from the error-equidistributing size map (INDICATOR)


@dataclass
class Figure:
    """One headline figure with its error estimate at the finest level."""

    name: str                       # "current[0]", "volumes.reversible", "coverage.T1.margin"
    value: float
    error: float | None             # absolute, the figure's unit; None with one level
    order: float | None
    observed: bool
    tolerance: float                # absolute error allowed by the target

    @property
    def met(self) -> bool:
        return self.error is not None and self.error <= self.tolerance


@dataclass
class Accuracy:
    """What the loop did and how sure the finest figures are."""

    target: float                   # relative (currents, volumes)
    coverage_target: float          # absolute (fractions)
    levels: list[Level]
    figures: dict[str, Figure]
    stopped_by: str | None = None   # None: target met; "max_dofs" | "memory" | "levels"
    warnings: list[str] = field(default_factory=list)
    mode: str = "uniform"           # how levels >= 1 were sized: "uniform" | "local" | "indicator"
    next_dofs: int | None = None    # predicted DOFs of the level the cap or memory guard refused
    max_dofs: int | None = None     # the DOF cap (mesh.max_dofs)

    @property
    def met(self) -> bool:
        return all(f.met for f in self.figures.values())


def level_of(result: Result, refinement: float, seconds: float) -> Level:
    return Level(refinement, refinement * result.scenario.mesh.size, result.dofs, result.mesh.num_cells, seconds,
                 [abs(g.current) for g in result.train.groups],
                 {k: result.volumes[k] for k in ("reversible", "irreversible", "healthy_irreversible")},
                 {t.name: (t.reversible_fraction, t.margin_reversible_fraction) for t in result.tumours},
                 result.train.nonlinear_iterations, result.train.linear_iterations)


def richardson_levels(levels: list[Level]) -> list[Level]:
    """The levels Richardson compares: all, or, once two levels come from the size map, those
    only. Level 0 (the scenario's graded sizes) and the map's levels are meshes of different
    families: the map's first level gains more than its DOFs say (two-wire case: current
    error 4.5 -> 1.9 % for 2.3x the DOFs), and an estimate across the two overstates the error
    (effectivity 2.6 for the current, 3.4 for the reversible volume, against 2.0 and 2.2 over
    the map's levels alone)."""
    mapped = [lv for lv in levels if lv.mapped]
    return mapped if len(mapped) >= 2 else levels


def estimate(levels: list[Level], target: float) -> dict[str, Figure]:
    """Every headline figure of the finest level with its Richardson error estimate
    (over :func:`richardson_levels`)."""
    levels = richardson_levels(levels)
    h = [lv.size for lv in levels]
    last = levels[-1]
    cov_tol = COVERAGE_PER_ACCURACY * target
    out: dict[str, Figure] = {}

    def add(name: str, values: list[float], tol: float, orders: tuple[float, float]) -> None:
        e: Estimate | None = richardson_error(h, values, orders)
        out[name] = Figure(name, values[-1], None if e is None else e.error, None if e is None else e.order,
                           bool(e and e.observed), tol)

    for i, current in enumerate(last.currents):
        add(f"current[{i}]", [lv.currents[i] for lv in levels], target * current, CURRENT_ORDERS)
    floor = VOLUME_FLOOR * last.volumes["reversible"]
    for k, v in last.volumes.items():
        add(f"volumes.{k}", [lv.volumes[k] for lv in levels], target * max(v, floor), VOLUME_ORDERS)
    for name in last.tumours:
        for j, part in enumerate(("tumour", "margin")):
            add(f"coverage.{name}.{part}", [lv.tumours[name][j] for lv in levels], cov_tol, VOLUME_ORDERS)
    return out


def next_factor(figures: dict[str, Figure]) -> float:
    """Size ratio of the next level: enough to bring the worst figure under its target at
    its order (err ~ h^p), within FACTOR_RANGE."""
    need = 1.0
    for f in figures.values():
        if f.error is not None and f.error > f.tolerance:
            need = min(need, SAFETY * (f.tolerance / f.error) ** (1.0 / f.order))
    # rounded to 0.01: estimates that differ in their last digits (a warm or cold Newton
    # start, another thread count) choose the same next mesh
    return round(min(max(need, FACTOR_RANGE[0]), FACTOR_RANGE[1]), 2)


def _growth(levels: list[Level]) -> float:
    """Observed exponent of cells ~ refinement^-g (3 in bulk, ~2 where surfaces set the size)."""
    if len(levels) < 2:
        return 3.0
    a, b = levels[-2], levels[-1]
    return min(max(math.log(b.cells / a.cells) / math.log(a.refinement / b.refinement), 1.0), 3.5)


def local_sizes(res: Result, step: float):
    """The size map of the next level from this level's result (:mod:`simulator.post.size_target`):
    x ``step`` around the contacts, the E_rev / E_irr iso-surfaces and tumour boundaries."""
    from simulator.post.size_target import size_map
    sc = res.scenario
    thresholds = [res.E_rev, res.E_irr] + sorted({sc.materials[t.material].E_rev for t in sc.tumours})
    return size_map(res.mesh, res.recovered_field(), thresholds, step)


def indicator_sizes(res: Result, cells_wanted: float, target: float):
    """The size map of the next level from this level's result (:mod:`simulator.post.error_indicator`):
    ``cells_wanted`` cells spread to equidistribute each cell's share of the figures' errors
    over their tolerances (``goal_indicator``; with GOALS off the ZZ energy indicator alone),
    replacing the scenario's size field; capped at the far size, and in the tumours at their level-0 size (gmsh needs
    TUMOUR_ELEMENTS_ACROSS elements across a tumour). Returns (SizeMap, predicted cells)."""
    from simulator.meshing.size_field import sizes
    from simulator.post.error_indicator import goal_indicator, indicator_of, indicator_size_map
    sc = res.scenario
    base = sizes(replace(sc, mesh=replace(sc.mesh, refinement=1.0, size_map=None)))
    share = goal_indicator(res, target, COVERAGE_PER_ACCURACY * target, VOLUME_FLOOR) \
        if GOALS else indicator_of(res)
    sm, count = indicator_size_map(res.mesh, share, cells_wanted, sc.solver.degree, h_max=base.far)
    tumour_regions = {k: r.index for k, r in enumerate(res.mesh.regions) if r.kind == "tumour"}
    if tumour_regions and base.tumour:
        cap = np.full(res.mesh.num_points, np.inf)
        for k, i in tumour_regions.items():
            np.minimum.at(cap, res.mesh.tets[res.mesh.cell_region == k].ravel(), base.tumour[i])
        size = np.minimum(sm.size, cap)
        if not np.array_equal(size, sm.size):
            sm = replace(sm, size=size, sha256=hashlib.sha256(sm.sha256.encode() + size.tobytes()).hexdigest())
    return sm, count


def missed_warnings(acc: Accuracy) -> list[str]:
    """One line per figure that misses its target (empty when met)."""
    nxt = f": the next level would have ~{acc.next_dofs:,} DOFs" if acc.next_dofs else ""
    why = {"max_dofs": f"the DOF cap mesh.max_dofs = {acc.max_dofs or 0:,}{nxt}", "memory": f"the memory guard{nxt}",
           "levels": f"the limit of {MAX_LEVELS} levels"}.get(acc.stopped_by or "", "")
    out = []
    for f in acc.figures.values():
        if f.met:
            continue
        if f.error is None:
            out.append(f"accuracy target not checked: {why} allowed a single mesh level")
            break
        if f.name.startswith("coverage."):
            got, want = f"{f.error:.3g} absolute", f"{f.tolerance:.3g}"
        else:
            got, want = f"{100 * f.error / max(abs(f.value), 1e-300):.2g} %", f"{100 * acc.target:g} %"
        out.append(f"accuracy target missed: {f.name} error estimated {got} > {want} (refinement stopped by {why})")
    return out


def _warm_engines(previous: dict, locator, record: dict):
    """``make_engine`` for one level: the engine wrapped so that each configuration's Newton
    solve starts from the previous level's converged potential (:mod:`simulator.solve.transfer`)."""
    from simulator.engines import create_engine
    from simulator.solve.transfer import MeshToMeshStarts

    def make(name, mesh, settings):
        return MeshToMeshStarts(create_engine(name, mesh, settings), mesh, previous, locator, record)
    return make


def run_to_accuracy(scenario: Scenario, run: Callable[..., Result], *, engine: str | None = None,
                    progress: Callable[[str], None] | None = None,
                    memory_check: Callable | None = None, comm=None, max_memory_gb: float | None = None) -> Result:
    """Refine until every headline figure meets ``scenario.mesh.accuracy``; the finest
    level's Result with ``result.accuracy`` (an :class:`Accuracy`) and the original scenario.

    ``run`` is the single-mesh :func:`simulator.solve.pipeline.run` (passed in: no import
    cycle); ``comm`` the MPI communicator under mpirun (rank 0 decides on memory);
    ``max_memory_gb`` bounds every level's estimated mesh before it is meshed."""
    from simulator.engines.resources import estimate_bytes, memory_limit

    say = progress or (lambda _m: None)
    opts = scenario.mesh
    t_start = time.perf_counter()
    levels: list[Level] = []
    figures: dict[str, Figure] = {}
    stopped = None
    f = 1.0             # size factor where the error sits (the Richardson h / h_0)
    f_bulk = 1.0        # size factor of the scenario's size fields elsewhere
    local = None        # SizeMap of the flagged zones (post.size_target), from the previous level
    result = None
    warm = WARM_START and (engine or scenario.solver.engine) == "embedded"
    previous: dict = {}     # configuration -> converged potential of the previous level
    locator = None          # ... located on the previous level's mesh
    calibration = 1.0       # cells gmsh made / cells the last size map predicted (indicator mode)
    predicted = None
    next_dofs = None        # DOFs of the next level when a limit refuses it
    while True:
        k = len(levels)
        level_sc = replace(scenario, mesh=replace(opts, accuracy=0.0, refinement=f_bulk, size_map=local))
        if local is not None and local.replace:
            say(f"accuracy level {k}: the error-equidistributing size map, ~{predicted * calibration:.0f} cells")
        else:
            say(f"accuracy level {k}: element sizes x {f:.3g}" + (f" near contacts, thresholds and tumour "
                                                                   f"boundaries, x {f_bulk:.3g} elsewhere" if local else ""))
        t0 = time.perf_counter()
        record: dict = {}
        starts = _warm_engines(previous, locator, record) if warm else None
        try:
            res = run(level_sc, engine=engine, progress=say, memory_check=memory_check, max_memory_gb=max_memory_gb,
                      make_engine=starts)
        except ResourceError:
            if result is None:
                raise
            stopped = "memory"
            break
        result = res
        levels.append(level_of(res, f, time.perf_counter() - t0))
        if predicted is not None:
            say(f"accuracy level {k}: {res.mesh.num_cells} cells, predicted ~{predicted * calibration:.0f}")
            calibration = res.mesh.num_cells / predicted
        if local is not None:       # locally refined: the size in Richardson is that of the DOFs
            levels[-1].size = levels[0].size * (levels[0].dofs / res.dofs) ** (1.0 / 3.0)
            if local.replace:       # no size factor: the DOF-equivalent one
                levels[-1].refinement = levels[-1].size / levels[0].size
                levels[-1].mapped = True
        if len(levels) >= 2:
            figures = estimate(levels, opts.accuracy)
            if all(fig.met for fig in figures.values()):
                break
        if len(levels) >= MAX_LEVELS:
            stopped = "levels"
            break
        step = FIRST_FACTOR if len(levels) < 2 else next_factor(figures)
        exponent = 3.0 if INDICATOR else _growth(levels)
        growth = step ** -exponent
        if res.dofs * growth > opts.max_dofs and CAP_FILL * opts.max_dofs >= CAP_GAIN * res.dofs:
            # the room under the cap, when it is worth a level: the finest level the cap allows
            # (a target that a level just over the cap would meet is often met just under it;
            # without this a prediction a few % over the cap ended the loop a level early)
            growth = CAP_FILL * opts.max_dofs / res.dofs
            step = growth ** (-1.0 / exponent)
        next_dofs = int(round(res.dofs * growth, -3))
        if res.dofs * growth > opts.max_dofs:
            stopped = "max_dofs"
            break
        # the same limit as the meshing guard's (--max-memory or what is available), before
        # the next level is planned
        too_big = estimate_bytes(int(res.mesh.num_cells * growth), scenario.solver.degree) > \
            memory_limit(max_memory_gb)[0]
        if comm is not None:            # under mpirun every rank must take the same decision
            too_big = comm.bcast(too_big, root=0)
        if too_big:
            stopped = "memory"
            break
        if INDICATOR:     # the Richardson h ~ N^(-1/3) shrinks by step: step^-3 x the cells
            local, predicted = indicator_sizes(res, res.mesh.num_cells * growth / calibration, opts.accuracy)
            f_bulk = 1.0
        elif LOCAL:
            local = local_sizes(res, step)
            f_bulk *= step ** BULK_EXPONENT
        else:
            f_bulk *= step
        f *= step
        if warm:
            from simulator.solve.transfer import PointLocator
            previous, locator = record, PointLocator(res.mesh)
        del res
    if not figures:
        figures = estimate(levels, opts.accuracy)
    acc = Accuracy(opts.accuracy, COVERAGE_PER_ACCURACY * opts.accuracy, levels, figures, stopped,
                   mode="indicator" if INDICATOR else "local" if LOCAL else "uniform",
                   next_dofs=next_dofs if stopped in ("max_dofs", "memory") else None, max_dofs=opts.max_dofs)
    acc.warnings = missed_warnings(acc)
    result.scenario = scenario
    result.accuracy = acc
    result.timings["accuracy_levels"] = sum(lv.time for lv in levels)
    result.timings["total"] = time.perf_counter() - t_start
    return result
