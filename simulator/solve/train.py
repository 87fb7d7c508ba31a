"""Pulse-train stepping: solve each distinct pulse configuration, accumulate what each piece
of tissue experienced (max field, pulses above E_rev / E_irr, adiabatic heating).

Models (design.md section 3):
* ``stationary``: sigma = sigma(|E|) solved exactly for every configuration; configurations
  are independent (one nonlinear solve per distinct configuration, reused for repeats).
* ``monotone``: the sequential model of Sel et al. 2005 with memory: sigma_k =
  max(sigma_{k-1}, sigma(E_{k-1})), iterated until sigma stops changing; the conductivity
  reached carries over to the next pulse group (sigma never decreases).
With a temperature coefficient alpha != 0, sigma of each group is scaled by 1 + alpha dT
with dT the adiabatic heating accumulated by the groups before it (then groups are solved
in order).
"""
from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from protocols.pulses import Protocol, PulseGroup

from simulator.physics.conductivity import CellConductivity
from simulator.engines.base import Engine, FieldSolution, PulseConfiguration
from simulator.errors import ConvergenceError

log = logging.getLogger(__name__)


@dataclass
class GroupResult:
    """What one pulse group delivered."""

    group: PulseGroup
    current: float                  # A, at the end of the pulse (converged sigma(E))
    nonlinear_iterations: int
    linear_iterations: int
    floating_potentials: dict[str, float]
    converged: bool                 # the engine's verdict on this group's field solve
    currents: tuple[float, ...] = ()   # A, every pulse (Pennes); empty: all pulses at ``current``


@dataclass
class TrainResult:
    """Accumulated per-cell (M, Q) quantities over the whole train."""

    E_max: np.ndarray               # V/m, max over groups
    sigma_at_max: np.ndarray        # S/m, sigma of the group that gave E_max
    pulses_above_rev: np.ndarray    # count of pulses with E >= E_rev of the cell
    pulses_above_irr: np.ndarray
    temperature_rise: np.ndarray    # K, adiabatic
    weights: np.ndarray             # m^3 per sample point
    groups: list[GroupResult]
    first_solution: FieldSolution
    nonlinear_iterations: int
    linear_iterations: int
    distinct_configurations: int
    timings: dict[str, float] = field(default_factory=dict)
    # several applications: each application's own E_max (M, Q), in order (studies.tiling
    # judges subsets of a session on its mesh from these); empty for one electrode
    application_E_max: tuple = ()

    @property
    def converged(self) -> bool:
        """Every pulse group's field solve converged (as reported by the engine)."""
        return bool(self.groups) and all(g.converged for g in self.groups)


def configuration_of(group: PulseGroup, contacts: tuple[str, ...], idle: str) -> PulseConfiguration:
    """The field problem of a group: contacts not firing float (or insulate)."""
    active = set(group.anode) | set(group.cathode)
    floating = tuple(c for c in contacts if c not in active) if idle == "floating" else ()
    return PulseConfiguration(group.anode, group.cathode, group.voltage, floating)


def run_train(engine: Engine, protocol: Protocol, law: CellConductivity, contacts: tuple[str, ...],
              rho_c: np.ndarray, alpha: np.ndarray, model: str = "stationary", idle: str = "floating",
              monotone_tol: float = 1e-4, max_steps: int = 100,
              progress: Callable[[str], None] | None = None) -> TrainResult:
    """Step through the pulse groups in order.

    rho_c: (M,) volumetric heat capacity (J/(m^3 K)); alpha: (M,) temperature coefficient (1/K).
    """
    say = progress or (lambda _m: None)
    thermal = bool(np.any(alpha != 0))
    cache: dict[PulseConfiguration, FieldSolution] = {}
    cfgs = [configuration_of(g, contacts, idle) for g in protocol.groups]
    ahead = _solve_ahead(engine, cfgs, law, say) if model == "stationary" and not thermal else None
    seen: set[PulseConfiguration] = set()
    try:
        return _accumulate(engine, protocol, law, contacts, rho_c, alpha, model, idle, monotone_tol, max_steps,
                           say, thermal, cache, cfgs, ahead, seen)
    finally:
        if ahead:                           # an error stopped the train: drop what is still queued
            for fut in ahead.values():
                if hasattr(fut, "cancel"):
                    fut.cancel()
            stop = getattr(engine, "cancel", None)
            if stop is not None:
                stop()


def _accumulate(engine, protocol, law, contacts, rho_c, alpha, model, idle, monotone_tol, max_steps,
                say, thermal, cache, cfgs, ahead, seen) -> TrainResult:
    E_max = sig_max = n_rev = n_irr = dT = None
    floor = None
    results: list[GroupResult] = []
    nl_total = lin_total = 0
    tim: dict[str, float] = {}
    first = None
    for k, g in enumerate(protocol.groups):
        cfg = cfgs[k]
        label = f"{g.label_anode or '+'.join(g.anode)} -> {g.label_cathode or '+'.join(g.cathode)}"
        cur_law = law
        if thermal and dT is not None:
            cur_law = law.with_scale(1.0 + alpha * dT.mean(axis=1))
        reuse = model == "stationary" and not thermal and cfg in cache
        t0 = time.perf_counter()
        if reuse:
            sol = cache[cfg]
            say(f"pulse group {k + 1}/{len(protocol.groups)} {label}: same configuration as before")
        elif ahead is not None:
            say(f"pulse group {k + 1}/{len(protocol.groups)} {label}: nonlinear solve")
            sol = ahead.pop(cfg).result()
        elif model == "stationary":
            say(f"pulse group {k + 1}/{len(protocol.groups)} {label}: nonlinear solve")
            sol = engine.solve_stationary(cfg, cur_law)
        else:
            say(f"pulse group {k + 1}/{len(protocol.groups)} {label}: sequential (monotone) steps")
            sol, floor = _monotone(engine, cfg, cur_law, floor, monotone_tol, max_steps)
        if not sol.converged:       # never accumulate (or report) an unconverged field
            raise ConvergenceError(f"pulse group {label}", sol.nonlinear_iterations, sol.residual)
        seen.add(cfg)
        if cfg in cfgs[k + 1:]:
            cache[cfg] = sol                # needed again later; otherwise let it go (memory)
        for key, v in sol.timings.items():
            if not reuse:
                tim[key] = tim.get(key, 0.0) + v
        tim["train"] = tim.get("train", 0.0) + time.perf_counter() - t0
        if first is None:
            first = sol
        if not reuse:
            nl_total += sol.nonlinear_iterations
            lin_total += sol.linear_iterations
        E, s = sol.E, sol.sigma
        if E_max is None:
            E_max, sig_max = E.copy(), s.copy()
            n_rev = np.zeros(E.shape, dtype=np.int32)     # pulse counts (memory: not int64)
            n_irr = np.zeros(E.shape, dtype=np.int32)
            dT = np.zeros(E.shape)
        higher = E > E_max
        E_max = np.where(higher, E, E_max)
        sig_max = np.where(higher, s, sig_max)
        n_rev += g.count * (E >= law.E_rev[:, None])
        n_irr += g.count * (E >= law.E_irr[:, None])
        dT += g.count * g.duration * s * E * E / rho_c[:, None]
        results.append(GroupResult(g, sol.current, sol.nonlinear_iterations if not reuse else 0,
                                   sol.linear_iterations if not reuse else 0, sol.floating_potentials,
                                   bool(sol.converged)))
    return TrainResult(E_max, sig_max, n_rev, n_irr, dT, first.weights, results, first, nl_total, lin_total,
                       len(seen), tim)


def solver_threads() -> int:
    """Worker threads for independent configurations: $EPSIM_THREADS, else min(2, CPUs)."""
    raw = os.environ.get("EPSIM_THREADS", "")
    try:
        n = int(raw) if raw else min(2, os.cpu_count() or 1)
    except ValueError:
        n = 1
    return max(1, n)


class _Done:
    """A finished result with the Future interface (sequential path)."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def result(self):
        return self.fn(*self.args)


class _Part:
    """The result of one configuration of a chain solved in one pool job (Future interface)."""

    def __init__(self, job, index: int):
        self.job, self.index = job, index

    def result(self):
        return self.job.result()[self.index]

    def cancel(self) -> bool:
        return self.job.cancel()


def _solve_chain(engine: Engine, chain: list[PulseConfiguration], law: CellConductivity) -> list[FieldSolution]:
    return [engine.solve_stationary(c, law) for c in chain]


def _solve_ahead(engine: Engine, cfgs: list[PulseConfiguration], law: CellConductivity, say):
    """Stationary model: the distinct configurations are independent problems. Solve them on
    ``solver_threads()`` threads when the engine allows it (its heavy kernels release the GIL);
    returns {configuration: future}. Results are identical to the sequential order:
    configurations that differ only in their voltage (a study's continuation chain, whose
    solves start from each other: studies.scaling) are solved one after the other, in train
    order, in one job."""
    distinct = list(dict.fromkeys(cfgs))
    chains: dict[PulseConfiguration, list[PulseConfiguration]] = {}
    for c in distinct:
        chains.setdefault(replace(c, voltage=1.0), []).append(c)
    n = min(getattr(engine, "concurrency", None) or solver_threads(), len(chains))   # studies.farm: its workers
    if n < 2 or not getattr(engine, "parallel_safe", False):
        return {c: _Done(engine.solve_stationary, c, law) for c in distinct}
    engine.cancel(False)
    pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="epsim-solve")
    futures = {}
    for chain in chains.values():
        job = pool.submit(_solve_chain, engine, chain, law)
        futures.update({c: _Part(job, k) for k, c in enumerate(chain)})
    pool.shutdown(wait=False)
    return futures


def _monotone(engine: Engine, cfg: PulseConfiguration, law: CellConductivity, floor: np.ndarray | None,
              tol: float, max_steps: int) -> tuple[FieldSolution, np.ndarray]:
    """Sequential steps sigma_k = max(sigma_{k-1}, sigma(E_{k-1})) until max relative change < tol."""
    shape = (len(law.sigma0), 1)
    sigma = law.sigma(np.zeros(len(law.sigma0))).reshape(shape) if floor is None else floor
    total_lin = 0
    for step in range(1, max_steps + 1):
        sol = engine.solve_linear(cfg, sigma)
        total_lin += sol.linear_iterations
        E = sol.E
        new = np.maximum(sigma, law.sigma(E if E.shape[1] > 1 else E[:, 0]).reshape(E.shape))
        change = float(np.max(np.abs(new - sigma) / sigma))
        sigma = new
        if change < tol:
            sol = engine.solve_linear(cfg, sigma)
            total_lin += sol.linear_iterations
            sol.nonlinear_iterations = step
            sol.linear_iterations = total_lin
            return sol, sigma
    raise ConvergenceError("monotone (sequential) model", max_steps, change)
