"""Field solutions shared by the runs of a study, and exact voltage scaling of linear problems.

A configuration's field depends only on the mesh, the materials, the solver options and the
configuration itself (contacts and voltage): not on pulse counts, durations or repetition
rates. Runs of a study that need the same field solve it once (:class:`SharedSolutions`).

When every tissue has a constant conductivity, no temperature coefficient and the model is
stationary, the problem div(sigma grad phi) = 0 with phi = V on the anode is linear in V:
potential, field, current and floating potentials at voltage V are those at V_ref times
V / V_ref, with sigma unchanged (design.md section 4: "a voltage sweep needs one solve").
Heating, energy and coverage then follow from the scaled field through the ordinary
pulse-train code.

A nonlinear law has no such shortcut, but the runs of a voltage sweep on one mesh are a
continuation in V: each configuration's Newton solve starts from the previous voltages'
potentials (scaled by V2/V1 from one, extrapolated linearly in V from two), and, with the
embedded engine, from the last voltage's AMG hierarchy refreshed for its first Jacobian
(``warm_state``; half the cost of a new setup, the same CG iterations). These starts
converge to ``WARM_RTOL`` times the scenario's tolerance, so that the answer does not depend
on where Newton started beyond ~1e-11 relative (a cold solve stops at the scenario's rtol,
usually well below it: Newton converges quadratically). Measured on the hexagonal example
(benchmarks/sweep_speed.py --check): 3-4 Newton iterations per warm start against 5 and an
initial linear solve cold; max |E| per cell within 8.6e-12 and currents within 3.0e-12 of
single runs, rows (report digits) equal. Measured and not kept (benchmarks/CHANGES.md):
quadratic, exact-tangent and Hermite predictors (first residual 0.13 -> 0.06 at best, still
3 Newton iterations: the voltage step is wider than the law's curvature), and the scenario's
own rtol for warm solves (3.11 instead of 3.22 iterations; max |E| off single runs by
1.4e-10, and by 8.4e-9 with the quadratic start: a solve that stops just below rtol is off
by about rtol).
"""
from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import replace


from simulator.engines.base import EngineWrapper, FieldSolution, PulseConfiguration
from simulator.solve.train import configuration_of

WARM_RTOL = 1e-2     # a warm-started Newton solve stops at this times the scenario's rtol
WARM_STATE_DOFS = 4_000_000   # engine states (AMG hierarchies) kept for warm starts: one per chain
                              # while DOFs x chains stay below this (~60 bytes per DOF each, measured)


def is_linear(scenario) -> bool:
    """Whether the fields of ``scenario`` are linear in its voltages (constant sigma, no
    temperature feedback, stationary model)."""
    mats = scenario.materials.values()
    return (scenario.solver.model == "stationary"
            and all(m.conductivity_model == "constant" and m.temperature_coefficient == 0.0 for m in mats))


def shareable(scenario) -> bool:
    """Whether each configuration's field is independent of the pulse history (stationary
    model without temperature feedback), so runs can share it."""
    return scenario.solver.model == "stationary" and all(
        m.temperature_coefficient == 0.0 for m in scenario.materials.values())


def field_family(scenario, mesh_key: str, engine: str) -> str:
    """Hash of what a field depends on besides the configuration: mesh, materials, solver."""
    text = repr((mesh_key, engine, sorted((k, repr(m)) for k, m in scenario.materials.items()),
                 repr(scenario.solver)))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def field_keys(scenario, family: str) -> list[tuple]:
    """The distinct field problems of a run (voltage normalised to 1 V when linear); [] when
    its fields cannot be shared."""
    if not shareable(scenario):
        return []
    linear = is_linear(scenario)
    contacts = tuple(scenario.electrode.contact_names)
    keys = []
    for g in scenario.protocol.groups:
        cfg = configuration_of(g, contacts, scenario.solver.idle_contacts)
        keys.append((family, replace(cfg, voltage=1.0) if linear else cfg))
    return list(dict.fromkeys(keys))


def chain_keys(scenario, family: str) -> list[tuple]:
    """The continuation chains a nonlinear run belongs to: its configurations less their
    voltage (runs sharing one are run in one task, in voltage order, each starting from the
    last); [] for linear or unshareable runs."""
    if is_linear(scenario) or not shareable(scenario):
        return []
    return [("chain",) + key[:1] + (replace(key[1], voltage=1.0),) for key in field_keys(scenario, family)]


def chains_of(uses, family: str) -> set:
    """The continuation chains (configurations at 1 V) among the field keys ``uses`` of ``family``."""
    return {replace(key[1], voltage=1.0) for key in uses if key[0] == family}


def extrapolated(past: list[tuple[float, FieldSolution]], voltage: float) -> FieldSolution | None:
    """A start for Newton at ``voltage`` from solutions at other voltages of the same
    configuration (the last one scaled by V / V1, or the line through the last two)."""
    if not past or past[-1][0] == 0.0:
        return None
    v2, s2 = past[-1]
    if len(past) < 2 or past[-2][0] == v2:
        return scaled(s2, voltage / v2)
    v1, s1 = past[-2]
    t = (voltage - v2) / (v2 - v1)

    def line(a, b):
        return None if a is None or b is None else b + t * (b - a)
    return replace(s2, potential=line(s1.potential, s2.potential),
                   potential_full=line(s1.potential_full, s2.potential_full),
                   floating_potentials={k: v + t * (v - s1.floating_potentials.get(k, v))
                                        for k, v in s2.floating_potentials.items()},
                   nonlinear_iterations=0, linear_iterations=0, timings={})


def scaled(sol: FieldSolution, factor: float) -> FieldSolution:
    """The solution of the same linear problem with every Dirichlet voltage times ``factor``."""
    full = None if sol.potential_full is None else sol.potential_full * factor
    return replace(sol, E=sol.E * factor, current=sol.current * factor, potential=sol.potential * factor,
                   potential_full=full, residual=sol.residual * abs(factor),
                   floating_potentials={k: v * factor for k, v in sol.floating_potentials.items()},
                   nonlinear_iterations=0, linear_iterations=0, timings={})


class SharedSolutions(EngineWrapper):
    """An engine wrapper for the runs of one family: a field problem needed by several runs
    is solved once and kept until its last use (``uses`` counts them); linear families key
    problems at 1 V and scale from the first voltage solved; nonlinear ones start each
    voltage's Newton solve from the last two voltages solved (module docstring)."""

    def __init__(self, engine, family: str, linear: bool, uses: Counter):
        super().__init__(engine)
        self._family, self._linear, self._uses = family, linear, uses
        self._chains = len(chains_of(uses, family))
        self._kept: dict[tuple, tuple[float, FieldSolution]] = {}
        self._past: dict[PulseConfiguration, list[tuple[float, FieldSolution]]] = {}
        self._lock = threading.Lock()
        self.solves = self.reused = self.warm = 0

    def solve_stationary(self, config: PulseConfiguration, law, sigma_floor=None, initial=None) -> FieldSolution:
        key = (self._family, replace(config, voltage=1.0) if self._linear else config)
        if sigma_floor is not None or initial is not None or self._uses.get(key, 0) < 1:
            return self._engine.solve_stationary(config, law, sigma_floor, initial)
        with self._lock:
            kept = self._kept.get(key)
        if kept is None:
            sol = self.solve_new(config, law)
            with self._lock:
                kept = self._kept.setdefault(key, (config.voltage, sol))
                self.solves += 1
        else:
            with self._lock:
                self.reused += 1
        with self._lock:
            self._uses[key] -= 1
            if self._uses[key] <= 0:
                self._kept.pop(key, None)           # last use: let it go (memory)
        v_ref, sol = kept
        return sol if config.voltage == v_ref else scaled(sol, config.voltage / v_ref)

    def solve_new(self, config: PulseConfiguration, law) -> FieldSolution:
        """Solve a configuration not solved before: linear, or the next voltage of its chain."""
        if self._linear:
            return self._engine.solve_stationary(config, law)
        chain = replace(config, voltage=1.0)
        with self._lock:
            past = list(self._past.get(chain, ()))
        start = extrapolated(past, config.voltage)
        keep = {"keep_state": True} if self._keep_states() else {}
        if start is None:
            sol = self._engine.solve_stationary(config, law, **keep)
        else:
            rtol = self._engine.settings.rtol * WARM_RTOL      # the scenario's rtol (run() sets it)
            sol = self._engine.solve_stationary(config, law, initial=start, rtol=rtol, **keep)
        kept = sol.potentials_only()
        sol = replace(sol, warm_state=None) if sol.warm_state is not None else sol   # not into the train
        with self._lock:
            # the engine's state (AMG hierarchy) only with the last voltage: the next start's
            self._past[chain] = [(v, replace(s, warm_state=None)) for v, s in past[-1:]] + [(config.voltage, kept)]
            self.warm += start is not None
        return sol

    def _keep_states(self) -> bool:
        """Whether the engine keeps warm states (embedded: its AMG hierarchies), one per chain:
        when DOFs x chains (the family's configurations at 1 V) fit ``WARM_STATE_DOFS``
        (memory). Decided from the plan, not from what ran first (determinism)."""
        if not getattr(self._engine, "keeps_warm_state", False):
            return False
        return self._engine.dofs * max(self._chains, 1) <= WARM_STATE_DOFS     # the same for every solve
