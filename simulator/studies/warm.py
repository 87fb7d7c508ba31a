"""Newton starts for the runs of a plan: continuation in the voltage on one mesh, and fields
moved from a single application's mesh to a session's.

A plan solves the same placement at several voltages (the minimum-voltage bisection) and a
tiling solves, on the session's mesh, each application's configurations that the single
application already solved on its own mesh, only moved. :class:`WarmStarts` wraps one
engine (one mesh) for every run on that mesh (``run(..., make_engine=...)``):

* continuation: each configuration's Newton solve starts from the last voltages solved of
  the same configuration (its potentials scaled by V2/V1, or extrapolated linearly from two:
  :func:`simulator.studies.scaling.extrapolated`, as sweeps do);
* a seed: a configuration never solved on this mesh asks ``seed(config)`` for a start (the
  plan's: the single application's converged potential at the nearest voltage, scaled to
  this voltage and interpolated in the frame moved with the application,
  :func:`simulator.solve.transfer.transferred`).

Warm starts converge to ``WARM_RTOL`` times the scenario's tolerance (scaling.py), so the
answer does not depend on the start beyond ~1e-11 relative; only the Newton iterations do.
The order of solves is fixed by the plan, so the same input gives the same output.
"""
from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable

import numpy as np

from simulator.engines.base import EngineWrapper, FieldSolution, PulseConfiguration
from simulator.studies.scaling import WARM_RTOL, extrapolated, scaled


def _chain(config: PulseConfiguration) -> PulseConfiguration:
    return replace(config, voltage=1.0)


class WarmStarts(EngineWrapper):
    """An engine wrapper that starts each Newton solve from what is known (module docstring).

    ``seed(config) -> FieldSolution | None``: a start for a configuration not yet solved on
    this mesh. Counts: ``cold`` (no start), ``continued`` (from this mesh's past voltages),
    ``seeded`` (from ``seed``); ``newton`` Newton iterations in all."""

    def __init__(self, engine, seed: Callable[[PulseConfiguration], FieldSolution | None] | None = None):
        super().__init__(engine)
        self.seed = seed
        self._past: dict[PulseConfiguration, list[tuple[float, FieldSolution]]] = {}
        self._lock = threading.Lock()
        self.cold = self.continued = self.seeded = self.newton = 0

    @property
    def solves(self) -> int:
        return self.cold + self.continued + self.seeded

    def solve_stationary(self, config: PulseConfiguration, law, sigma_floor=None, initial=None, *,
                         rtol: float | None = None) -> FieldSolution:
        if sigma_floor is not None or initial is not None:
            return self._engine.solve_stationary(config, law, sigma_floor, initial, rtol=rtol)
        chain = _chain(config)
        with self._lock:
            past = list(self._past.get(chain, ()))
        start, kind = extrapolated(past, config.voltage), "continued"
        if start is None and self.seed is not None:
            start, kind = self.seed(config), "seeded"
        if start is None:
            sol, kind = self._engine.solve_stationary(config, law, rtol=rtol), "cold"
        else:
            tol = (self._engine.settings.rtol if rtol is None else rtol) * WARM_RTOL
            sol = self._engine.solve_stationary(config, law, initial=start, rtol=tol)
        with self._lock:
            if sol.converged:
                kept = [(v, s) for v, s in past if v != config.voltage]
                self._past[chain] = (kept + [(config.voltage, sol.potentials_only())])[-2:]
            setattr(self, kind, getattr(self, kind) + 1)
            self.newton += sol.nonlinear_iterations
        return sol

    def solution_near(self, config: PulseConfiguration) -> FieldSolution | None:
        """This mesh's converged potential of ``config``'s chain at the voltage nearest
        ``config.voltage``, scaled to it (None when that configuration was never solved)."""
        with self._lock:
            past = list(self._past.get(_chain(config), ()))
        if not past:
            return None
        v, sol = min(past, key=lambda p: (abs(p[0] - config.voltage), -p[0]))
        return scaled(sol, config.voltage / v) if v else None


def unprefixed(config: PulseConfiguration, prefix: str) -> PulseConfiguration | None:
    """An application's configuration in its own electrode's contact names (``a<k>.`` of
    scenario/applications.py removed); None when a contact is not the application's."""
    def strip(names):
        out = tuple(n[len(prefix):] for n in names if n.startswith(prefix))
        return out if len(out) == len(names) else None
    parts = [strip(config.anode), strip(config.cathode), strip(config.floating)]
    if any(p is None for p in parts):
        return None
    return replace(config, anode=parts[0], cathode=parts[1], floating=parts[2])


def moved_seed(source: WarmStarts, source_mesh, target_mesh, dofs: int,
               offsets: dict[str, np.ndarray]) -> Callable[[PulseConfiguration], FieldSolution | None]:
    """``seed`` for a session mesh from a single application's :class:`WarmStarts`: for the
    application of contact prefix p moved by ``offsets[p]`` (m, (3,)) from the single
    application, the single's potential of the same configuration (nearest voltage, scaled),
    sampled at x - offset (the field moves with the needles, where it is steepest)."""
    from simulator.solve.transfer import PointLocator, transferred
    located: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # prefix -> the target's vertices located
    state: dict[str, PointLocator] = {}
    lock = threading.Lock()

    def locate(prefix: str, offset: np.ndarray) -> tuple[PointLocator, tuple[np.ndarray, np.ndarray]]:
        """The source mesh's locator and the target's vertices located at x - offset, once per
        application (its configurations share the offset)."""
        with lock:
            if "loc" not in state:
                state["loc"] = PointLocator(source_mesh)
            if prefix not in located:
                located[prefix] = state["loc"].weights(target_mesh.points - offset)
            return state["loc"], located[prefix]

    def seed(config: PulseConfiguration) -> FieldSolution | None:
        for prefix, offset in offsets.items():
            base = unprefixed(config, prefix)
            if base is None:
                continue
            sol = source.solution_near(base)
            if sol is None or dofs != target_mesh.num_points:
                return None
            locator, weights = locate(prefix, offset)
            return transferred(sol, locator, target_mesh, dofs, weights=weights)
        return None
    return seed


class WarmEngine:
    """``make_engine`` for :func:`simulator.solve.pipeline.run` (every run on one mesh): the
    first call creates the engine and wraps it in :class:`WarmStarts`; later calls on the
    same mesh get the same wrapper (one engine setup, and each voltage continues the last)."""

    def __init__(self, seed_for: Callable[[object, int], Callable | None] | None = None):
        self.seed_for = seed_for          # (mesh, dofs) -> the engine's seed, or None
        self.engine: WarmStarts | None = None
        self.mesh = None

    def __call__(self, name: str, mesh, settings) -> WarmStarts:
        if self.engine is None or mesh is not self.mesh:
            from simulator.engines import create_engine
            eng = create_engine(name, mesh, settings)
            seed = self.seed_for(mesh, eng.dofs) if self.seed_for is not None else None
            self.engine, self.mesh = WarmStarts(eng, seed), mesh
        return self.engine

    def run(self, scenario, mesh):
        """``run(scenario, mesh=mesh)`` on this engine (the ``run_fn`` of minimum_voltage)."""
        from simulator.solve.pipeline import run
        return run(scenario, mesh=mesh, make_engine=self)
