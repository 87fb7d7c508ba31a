"""Pennes bioheat operator pieces in P1 on a tetrahedral mesh (SI units), no I/O; each engine
assembles the operator on its mesh (``Engine.heat_operator``: embedded
:mod:`simulator.engines.embedded.heat`, DOLFINx :mod:`simulator.engines.dolfinx.heat`).

    rho c dT/dt = div(k grad T) + rho_b c_b w_b (T_a - T) + q_m + sigma |E|^2

(Pennes 1948; form and parameter sets in domain.md 2.4 [C-code]). Temperatures are nodal
P1 values (K or C: only differences enter), sources and coefficients per cell. Heat capacity
and perfusion use lumped (row-sum) mass matrices, which keep the implicit step free of the
undershoots a consistent mass gives for short steps next to a localised source; the
stiffness is the exact P1 one. Boundaries without a condition are insulating (zero flux):
the needle and plate surfaces are holes of the mesh and exchange no heat [A].

Time stepping is backward Euler (L-stable: no ringing when a pulse switches the source on and
off, unlike Crank-Nicolson with steps much longer than the diffusion time of a cell):

    (C/dt + K + P + H) T^{n+1} = C/dt T^n + P T_a + H T_amb + f_m + f_E
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np



def nodal_load(tets: np.ndarray, vol: np.ndarray, per_cell: np.ndarray, n: int) -> np.ndarray:
    """(n,) integral of a per-cell constant times each hat function: value * vol / 4 per node."""
    share = per_cell * vol / 4.0
    return sum(np.bincount(tets[:, k], weights=share, minlength=n) for k in range(4))


def cell_average(tets: np.ndarray, nodal: np.ndarray) -> np.ndarray:
    """(M,) the mean of a P1 field over each cell (exact for P1: the mean of its 4 vertices)."""
    return nodal[tets].mean(axis=1)


@dataclass
class HeatOperator:
    """The Pennes operator of one mesh, engine-neutral part: lumped heat capacity C,
    perfusion P and skin exchange H (nodal diagonals in the mesh's vertex order, W/K or
    J/K) and the P1 loads. An engine subclasses it with the stiffness K (W/K) and the two
    solves; the time stepping (simulator.solve.thermal) sees only this interface.

    Skin: a convective (Robin) surface -k dT/dn = h (T - T_amb) adds H = h int phi_i ds
    (lumped: h area / 3 per vertex of each skin triangle) to the matrix and H T_amb to the
    right-hand side (:meth:`exchange_load`); H = 0 is an insulating skin."""

    tets: np.ndarray
    volumes: np.ndarray              # (M,) m^3
    capacity: np.ndarray             # (N,) J/K, lumped rho c
    perfusion: np.ndarray            # (N,) W/K, lumped rho_b c_b w_b
    exchange: np.ndarray             # (N,) W/K, lumped h on the skin (0 elsewhere)

    @property
    def num_nodes(self) -> int:
        return len(self.capacity)

    def load(self, per_cell: np.ndarray) -> np.ndarray:
        """(N,) W: the nodal load of a per-cell power density (W/m^3)."""
        return nodal_load(self.tets, self.volumes, per_cell, self.num_nodes)

    def nodal_volumes(self) -> np.ndarray:
        """(N,) m^3 lumped volume of each node (weights for volume statistics of a P1 field)."""
        return nodal_load(self.tets, self.volumes, np.ones(len(self.volumes)), self.num_nodes)

    def exchange_load(self, T_a: float, ambient: float) -> np.ndarray:
        """(N,) W: P T_a + H T_amb, the constant part of the right-hand side (without q_m)."""
        return self.perfusion * T_a + self.exchange * ambient

    def steady(self, rhs: np.ndarray, guess: np.ndarray) -> np.ndarray:
        """The basal steady state (K + P + H) T = rhs (needs P + H > 0 somewhere)."""
        return self.solve_steady(rhs, guess)

    def step(self, T: np.ndarray, dt: float, rhs_extra: np.ndarray) -> np.ndarray:
        """One backward-Euler step of length dt (s): (C/dt + K + P + H) T' = C/dt T + rhs_extra,
        rhs_extra = P T_a + H T_amb + f_m + f_E (W)."""
        return self.solve_step(dt, self.capacity / dt * T + rhs_extra, T)

    # ---- what an engine provides
    def solve_step(self, dt: float, b: np.ndarray, x0: np.ndarray) -> np.ndarray:
        """Solve (C/dt + K + P + H) x = b (relative residual <= 1e-11), matrix reused per dt."""
        raise NotImplementedError

    def solve_steady(self, b: np.ndarray, x0: np.ndarray) -> np.ndarray:
        """Solve (K + P + H) x = b (relative residual <= 1e-12)."""
        raise NotImplementedError


def joule_increment(a: np.ndarray, alpha: np.ndarray, dT: np.ndarray, dt: float) -> np.ndarray:
    """Adiabatic temperature increment (K) over dt (s) of a cell heated at a (1 + alpha dT) K/s,
    a = sigma(E)|E|^2 / (rho c) at the reference temperature: the exact solution of
    d(dT)/dt = a (1 + alpha dT), (1/alpha + dT)(exp(alpha a dt) - 1), or a dt when alpha = 0.
    Used as the step's Joule source so that sigma(E, T) = sigma(E)(1 + alpha (T - T0)) is
    integrated exactly within each step (no lag of the temperature factor)."""
    x = alpha * a * dt
    growth = np.where(np.abs(x) > 1e-12, np.expm1(x) / np.where(x == 0, 1.0, x), 1.0)   # (e^x - 1)/x
    return a * dt * (1.0 + alpha * dT) * growth


# Thermal dose, Sapareto SA, Dewey WC, Int J Radiat Oncol Biol Phys 1984;10:787-800 [R]:
# CEM43 = sum dt R^(43 - T), R = 0.5 at T >= 43 C and 0.25 below (minutes at 43 C).
CEM43_REFERENCE_C = 43.0
# Damage threshold: 240 CEM43 min for muscle / connective tissue necrosis, the value usually
# quoted from Dewhirst MW et al., Int J Hyperthermia 2003;19:267-294 [R] (tissue-dependent).
CEM43_DAMAGE_MIN = 240.0


def cem43_rate(T_C: np.ndarray) -> np.ndarray:
    """d(CEM43)/dt in minutes per second at temperature T (C)."""
    R = np.where(T_C >= CEM43_REFERENCE_C, 0.5, 0.25)
    return np.power(R, CEM43_REFERENCE_C - T_C) / 60.0
