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
"""
from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import replace

from simulator.engines.base import FieldSolution, PulseConfiguration
from simulator.solve.train import configuration_of


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


def scaled(sol: FieldSolution, factor: float) -> FieldSolution:
    """The solution of the same linear problem with every Dirichlet voltage times ``factor``."""
    full = None if sol.potential_full is None else sol.potential_full * factor
    return replace(sol, E=sol.E * factor, current=sol.current * factor, potential=sol.potential * factor,
                   potential_full=full, residual=sol.residual * abs(factor),
                   floating_potentials={k: v * factor for k, v in sol.floating_potentials.items()},
                   nonlinear_iterations=0, linear_iterations=0, timings={})


class SharedSolutions:
    """An engine wrapper for the runs of one family: a field problem needed by several runs
    is solved once and kept until its last use (``uses`` counts them); linear families key
    problems at 1 V and scale from the first voltage solved."""

    def __init__(self, engine, family: str, linear: bool, uses: Counter):
        self._engine, self._family, self._linear, self._uses = engine, family, linear, uses
        self._kept: dict[tuple, tuple[float, FieldSolution]] = {}
        self._lock = threading.Lock()
        self.solves = self.reused = 0

    def __getattr__(self, name):                 # name, dofs, parallel_safe, cancel, ...
        return getattr(self._engine, name)

    def solve_linear(self, config, sigma):
        return self._engine.solve_linear(config, sigma)

    def solve_stationary(self, config: PulseConfiguration, law, sigma_floor=None, initial=None) -> FieldSolution:
        key = (self._family, replace(config, voltage=1.0) if self._linear else config)
        if sigma_floor is not None or initial is not None or self._uses.get(key, 0) < 1:
            return self._engine.solve_stationary(config, law, sigma_floor, initial)
        with self._lock:
            kept = self._kept.get(key)
        if kept is None:
            sol = self._engine.solve_stationary(config, law)
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
