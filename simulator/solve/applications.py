"""Several applications in one session: one pulse train per application on one mesh.

Meshing design (meshing/geometry.py): one conformal mesh holds every application's needles
as tissue volumes whose surfaces are named contacts. While application k fires, only its
contacts are electrodes (Dirichlet or floating); the other applications' needle volumes
conduct as the tissue they lie in, as they do in the session (those needles are not in the
tissue then). The inside of a firing needle is bounded by its own contact surface (and the
insulating skin), so it sits at the needle's potential: zero field, no current. One mesh,
one engine setup and one assembly pattern serve every application, and the fields combine
cell by cell with no transfer between meshes.

Combination: every cell keeps the max field over applications (and the sigma of that
application); pulse counts above E_rev / E_irr and the adiabatic heating add up (the
temperature scaling of sigma, when alpha != 0, restarts at each application: an assumption
[A], the heating of earlier applications is not carried into later ones).
"""
from __future__ import annotations

import numpy as np

from simulator.solve.train import TrainResult, run_train


def combine(trains: list[TrainResult]) -> TrainResult:
    """The session's train from the applications' trains, in order (module docstring)."""
    first = trains[0]
    E_max, sig = first.E_max.copy(), first.sigma_at_max.copy()
    n_rev, n_irr, dT = first.pulses_above_rev.copy(), first.pulses_above_irr.copy(), first.temperature_rise.copy()
    groups, tim = list(first.groups), dict(first.timings)
    for t in trains[1:]:
        higher = t.E_max > E_max
        E_max = np.where(higher, t.E_max, E_max)
        sig = np.where(higher, t.sigma_at_max, sig)
        n_rev += t.pulses_above_rev
        n_irr += t.pulses_above_irr
        dT += t.temperature_rise
        groups += t.groups
        for k, v in t.timings.items():
            tim[k] = tim.get(k, 0.0) + v
    return TrainResult(E_max, sig, n_rev, n_irr, dT, first.weights, groups, first.first_solution,
                       sum(t.nonlinear_iterations for t in trains), sum(t.linear_iterations for t in trains),
                       sum(t.distinct_configurations for t in trains), tim,
                       tuple(t.E_max for t in trains) if len(trains) > 1 else ())


def run_session(engine, scenario, law, rho_c, alpha, **kw) -> TrainResult:
    """The train of a scenario: its single electrode, or every application in order."""
    if not scenario.applications:
        return run_train(engine, scenario.protocol, law, tuple(scenario.electrode.contact_names), rho_c, alpha, **kw)
    return combine([run_train(engine, a.protocol, law, tuple(a.electrode.contact_names), rho_c, alpha, **kw)
                    for a in scenario.applications])
