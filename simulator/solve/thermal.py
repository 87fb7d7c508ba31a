"""Pulse-by-pulse stepping of the Pennes model: heating during each pulse, cooling between
pulses and pulse groups at the protocol's rate, sigma(E, T) = sigma(E)(1 + alpha (T - T0)).
The one driver of both engines: an engine supplies the field solves and ``heat_operator``
(:class:`simulator.physics.bioheat.HeatOperator`: the assembled operator and its two solves);
everything here works on nodal vectors in the mesh's vertex order, the same on every MPI rank.

Time steps [A]: ``steps_per_pulse`` equal backward-Euler steps during each pulse (duration
tau), and the off time 1/f - tau between pulses (also after the last pulse of a group, and
after the train) in ceil(off / (tau / steps_per_pulse)) equal steps, at most
``max_steps_between``. The heat matrix and its (Jacobi) preconditioner are built once per
distinct step length (two per pulse rate) and reused for every step.

Field re-solves: the field of a configuration is solved again at the start of a pulse when
the temperature factor s = 1 + alpha (T - T0) has changed since its last solve by more than
``resolve_tolerance`` in the power-weighted mean, int q |s - s_solve| / int q s_solve with q
the Joule power density of that solve (the first-order change of the current, which a few
cells on a needle rim cannot dominate as a max over cells would); otherwise the last field
is kept, the
Joule source uses the current factor, and the current is the power identity
I = int sigma(E, T)|E|^2 dV / V with that field (exact for the solved field, and the stale
field's error in it is second order in the conductivity change: the field minimises the
dissipated power for fixed electrode potentials).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from protocols.pulses import Protocol
from simulator.engines.base import Engine
from simulator.errors import ConvergenceError
from simulator.physics.bioheat import HeatOperator, cell_average, cem43_rate, joule_increment
from simulator.physics.conductivity import CellConductivity
from simulator.post.thermal import weighted_percentile
from simulator.solve.train import GroupResult, TrainResult, configuration_of


@dataclass(frozen=True)
class PennesSettings:
    """Pennes stepping settings (temperatures in C, SI otherwise)."""

    initial_C: float = 37.0            # body / reference temperature T0 of sigma(E, T) [A]
    arterial_C: float = 37.0           # T_a [A]
    steps_per_pulse: int = 4
    max_steps_between: int = 20
    resolve_tolerance: float = 1e-3    # relative change of 1 + alpha (T - T0) that re-solves the field
    ambient_C: float = 25.0            # T_amb of a convective skin [A]


@dataclass
class ThermalHistory:
    """What the Pennes run recorded at the mesh nodes (temperatures in C)."""

    initial_C: np.ndarray              # (N,) basal state
    peak_C: np.ndarray                 # (N,) max over time
    final_C: np.ndarray                # (N,) after the train and its last off time
    cem43_min: np.ndarray              # (N,) thermal dose, minutes at 43 C
    nodal_volumes: np.ndarray          # (N,) m^3
    dt_pulse: float                    # s
    dt_between: dict[float, float] = field(default_factory=dict)     # frequency -> step (s)
    heat_steps: int = 0
    field_solves: int = 0
    resolve_tolerance: float = 0.0
    peak_time: float = 0.0             # s, when the hottest node peaked
    pulse_end_time: list[float] = field(default_factory=list)    # s, at the end of every pulse
    pulse_end_max_C: list[float] = field(default_factory=list)   # hottest node then
    pulse_end_T99_C: list[float] = field(default_factory=list)   # 99th percentile by volume then


def off_steps(frequency: float, duration: float, steps_per_pulse: int, max_steps: int) -> tuple[int, float]:
    """(number, length s) of the equal steps that cover the off time 1/f - tau."""
    off = 1.0 / frequency - duration
    if off <= 0:
        return 0, 0.0
    n = min(max_steps, max(1, math.ceil(off / (duration / steps_per_pulse) - 1e-9)))
    return n, off / n


def run_pennes(engine: Engine, protocol: Protocol, law: CellConductivity, contacts: tuple[str, ...],
               heat: HeatOperator, rho_c: np.ndarray, alpha: np.ndarray, metabolic: np.ndarray,
               settings: PennesSettings, idle: str = "floating", progress=None
               ) -> tuple[TrainResult, ThermalHistory]:
    """Step the whole train; rho_c, alpha, metabolic per cell (J/(m^3 K), 1/K, W/m^3)."""
    say = progress or (lambda _m: None)
    s = settings
    M = len(law.sigma0)
    rho_c = np.broadcast_to(rho_c, (M,))
    alpha = np.broadcast_to(alpha, (M,))
    thermal_sigma = bool(np.any(alpha != 0))
    f_m = heat.load(np.broadcast_to(metabolic, (M,)))
    base = heat.exchange_load(s.arterial_C, s.ambient_C) + f_m
    if heat.perfusion.sum() > 0:       # basal steady state; guess exact if q_m / w is uniform and the skin insulating
        T = heat.steady(base, s.arterial_C + f_m / np.where(heat.perfusion > 0, heat.perfusion, np.inf))
    else:                              # no perfusion: uniform start (a convective skin then cools it)
        T = np.full(heat.num_nodes, s.initial_C)
    hist = ThermalHistory(T.copy(), T.copy(), T, np.zeros(heat.num_nodes), heat.nodal_volumes(),
                          protocol.groups[0].duration / s.steps_per_pulse, resolve_tolerance=s.resolve_tolerance)
    t_now = 0.0
    fields: dict = {}                      # configuration -> (solution, scale of that solve, derived)
    E_max = sig_max = n_rev = n_irr = None
    first = None
    groups: list[GroupResult] = []
    nl = lin = 0

    def advance(T, dt, rhs):
        nonlocal t_now
        T = heat.step(T, dt, rhs)
        t_now += dt
        hist.heat_steps += 1
        hotter = T > hist.peak_C
        if hotter.any():
            hist.peak_C = np.where(hotter, T, hist.peak_C)
            hist.peak_time = t_now if T.max() >= hist.peak_C.max() else hist.peak_time
        hist.cem43_min += dt * cem43_rate(T)
        return T

    for k, g in enumerate(protocol.groups):
        cfg = configuration_of(g, contacts, idle)
        say(f"pulse group {k + 1}/{len(protocol.groups)} {g.label_anode} -> {g.label_cathode}: "
            f"{g.count} pulses, Pennes")
        dt_on = g.duration / s.steps_per_pulse
        n_off, dt_off = off_steps(g.frequency, g.duration, s.steps_per_pulse, s.max_steps_between)
        hist.dt_between[g.frequency] = dt_off
        currents = []
        for _p in range(g.count):
            scale = 1.0 + alpha * (cell_average(heat.tets, T) - s.initial_C) if thermal_sigma else None
            known = fields.get(cfg)
            if known is None or (thermal_sigma and power_change(known, scale, heat.volumes) > s.resolve_tolerance):
                sol = engine.solve_stationary(cfg, law.with_scale(scale) if thermal_sigma else law,
                                              initial=known[0] if known else None)
                if not sol.converged:
                    raise ConvergenceError(f"pulse group {g.label_anode} -> {g.label_cathode}",
                                           sol.nonlinear_iterations, sol.residual)
                hist.field_solves += 1
                nl += sol.nonlinear_iterations
                lin += sol.linear_iterations
                used = scale if thermal_sigma else np.ones(M)
                # power density at the reference temperature, per cell (W/m^3)
                q_ref = (sol.weights * sol.sigma * sol.E ** 2).sum(axis=1) / heat.volumes / used
                known = fields[cfg] = (sol, used, q_ref, heat.load(q_ref * used))
                if first is None:
                    first = sol
                    E_max, sig_max = sol.E.copy(), sol.sigma.copy()
                    n_rev = np.zeros(sol.E.shape, dtype=np.int32)
                    n_irr = np.zeros(sol.E.shape, dtype=np.int32)
            sol, used, q_ref, load_solved = known
            now = scale if thermal_sigma else used
            power_ratio = float((q_ref * now * heat.volumes).sum() / (q_ref * used * heat.volumes).sum())
            currents.append(sol.current * power_ratio)
            higher = sol.E > E_max
            E_max = np.where(higher, sol.E, E_max)
            sig_max = np.where(higher, sol.sigma, sig_max)
            n_rev += sol.E >= law.E_rev[:, None]
            n_irr += sol.E >= law.E_irr[:, None]
            for _j in range(s.steps_per_pulse):
                if thermal_sigma:
                    dT = cell_average(heat.tets, T) - s.initial_C
                    inc = joule_increment(q_ref / rho_c, alpha, dT, dt_on)
                    f_E = heat.load(rho_c * inc / dt_on)
                else:
                    f_E = load_solved
                T = advance(T, dt_on, base + f_E)
            hist.pulse_end_time.append(t_now)
            hist.pulse_end_max_C.append(float(T.max()))
            hist.pulse_end_T99_C.append(weighted_percentile(T, hist.nodal_volumes, 0.99))
            for _j in range(n_off):
                T = advance(T, dt_off, base)
        groups.append(GroupResult(g, currents[0], 0, 0, fields[cfg][0].floating_potentials, True,
                                  tuple(currents)))
    hist.final_C = T
    rise = (cell_average(heat.tets, hist.peak_C) - cell_average(heat.tets, hist.initial_C))
    train = TrainResult(E_max, sig_max, n_rev, n_irr, np.repeat(rise[:, None], E_max.shape[1], axis=1),
                        first.weights, groups, first, nl, lin, len(fields))
    groups[0].nonlinear_iterations, groups[0].linear_iterations = nl, lin
    return train, hist


def pennes_train(engine: Engine, mesh, scenario, law: CellConductivity, rho_c: np.ndarray, alpha: np.ndarray,
                 progress=None) -> tuple[TrainResult, ThermalHistory]:
    """The scenario's train with Pennes bioheat: the heat operator from the materials
    (thermal conductivity, perfusion, metabolic heat per tissue) and [thermal] settings."""
    from simulator.meshing.mesh import skin_facets
    th = scenario.thermal
    mats = [scenario.materials[r.material] for r in mesh.regions]
    cr = mesh.cell_region
    k = np.array([m.thermal_conductivity for m in mats])[cr]
    w = np.array([m.perfusion for m in mats])[cr] * th.blood_density * th.blood_heat_capacity
    q_m = np.array([m.metabolic_heat for m in mats])[cr]
    rc = np.broadcast_to(rho_c, (len(cr),))
    convective = th.skin == "convective"
    skin = skin_facets(mesh) if convective else np.zeros((0, 3), dtype=np.int64)
    heat = engine.heat_operator(k, rc, w, skin, th.skin_h if convective else 0.0)
    settings = PennesSettings(th.initial_C, th.arterial_C, th.steps_per_pulse, th.max_steps_between,
                              th.resolve_tolerance, th.ambient_C)
    return run_pennes(engine, scenario.protocol, law, tuple(scenario.electrode.contact_names), heat, rc, alpha,
                      q_m, settings, scenario.solver.idle_contacts, progress)


def power_change(known, scale: np.ndarray, volumes: np.ndarray) -> float:
    """Power-weighted mean relative change of the temperature factor since the solve ``known``."""
    _sol, used, q_ref, _load = known
    w = q_ref * volumes
    return float((w * np.abs(scale - used)).sum() / (w * used).sum())
