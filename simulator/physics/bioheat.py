"""Pennes bioheat operator pieces in P1 on a tetrahedral mesh (SI units), no I/O; the
assembly from a mesh is :func:`simulator.engines.embedded.heat.assemble_heat`.

    rho c dT/dt = div(k grad T) + rho_b c_b w_b (T_a - T) + q_m + sigma |E|^2

(Pennes 1948; form and parameter sets in domain.md 2.4 [C-code]). Temperatures are nodal
P1 values (K or C: only differences enter), sources and coefficients per cell. Heat capacity
and perfusion use lumped (row-sum) mass matrices, which keep the implicit step free of the
undershoots a consistent mass gives for short steps next to a localised source; the
stiffness is the exact P1 one. Boundaries without a condition are insulating (zero flux):
the needle and plate surfaces are holes of the mesh and exchange no heat [A].

Time stepping is backward Euler (L-stable: no ringing when a pulse switches the source on and
off, unlike Crank-Nicolson with steps much longer than the diffusion time of a cell):

    (C/dt + K + P) T^{n+1} = C/dt T^n + P T_a + f_m + f_E
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from simulator.errors import ConvergenceError


def nodal_load(tets: np.ndarray, vol: np.ndarray, per_cell: np.ndarray, n: int) -> np.ndarray:
    """(n,) integral of a per-cell constant times each hat function: value * vol / 4 per node."""
    share = per_cell * vol / 4.0
    return sum(np.bincount(tets[:, k], weights=share, minlength=n) for k in range(4))


def cell_average(tets: np.ndarray, nodal: np.ndarray) -> np.ndarray:
    """(M,) the mean of a P1 field over each cell (exact for P1: the mean of its 4 vertices)."""
    return nodal[tets].mean(axis=1)


@dataclass
class HeatOperator:
    """The assembled Pennes operator of one mesh: lumped C and P (diagonals), stiffness K."""

    tets: np.ndarray
    volumes: np.ndarray              # (M,) m^3
    capacity: np.ndarray             # (N,) J/K, lumped rho c
    perfusion: np.ndarray            # (N,) W/K, lumped rho_b c_b w_b
    K: sp.csr_matrix                 # W/K
    _solvers: dict = field(default_factory=dict, repr=False)

    @property
    def num_nodes(self) -> int:
        return len(self.capacity)

    def load(self, per_cell: np.ndarray) -> np.ndarray:
        """(N,) W: the nodal load of a per-cell power density (W/m^3)."""
        return nodal_load(self.tets, self.volumes, per_cell, self.num_nodes)

    def nodal_volumes(self) -> np.ndarray:
        """(N,) m^3 lumped volume of each node (weights for volume statistics of a P1 field)."""
        return nodal_load(self.tets, self.volumes, np.ones(len(self.volumes)), self.num_nodes)

    def steady(self, T_a: float, metabolic: np.ndarray) -> np.ndarray:
        """The basal steady state (K + P) T = P T_a + f_m (needs perfusion > 0 somewhere)."""
        import pyamg
        A = (self.K + sp.diags(self.perfusion)).tocsr()
        f_m = self.load(metabolic)
        guess = T_a + f_m / np.where(self.perfusion > 0, self.perfusion, np.inf)   # exact if q_m / w is uniform
        ml = pyamg.smoothed_aggregation_solver(A, symmetry="symmetric", max_coarse=500, coarse_solver="splu")
        return ml.solve(self.perfusion * T_a + f_m, x0=guess, tol=1e-12, accel="cg", maxiter=500)

    def step(self, T: np.ndarray, dt: float, rhs_extra: np.ndarray) -> np.ndarray:
        """One backward-Euler step of length dt (s): rhs_extra = P T_a + f_m + f_E (W)."""
        op = self._solvers.get(dt)
        if op is None:
            A = (self.K + sp.diags(self.capacity / dt + self.perfusion)).tocsr()
            op = self._solvers[dt] = (A, 1.0 / A.diagonal())       # Jacobi preconditioner, once per dt
        return pcg(op[0], self.capacity / dt * T + rhs_extra, op[1], T)


def pcg(A: sp.csr_matrix, b: np.ndarray, inv_diag: np.ndarray, x0: np.ndarray, rtol: float = 1e-11,
        max_iterations: int = 5000) -> np.ndarray:
    """Jacobi-preconditioned conjugate gradients from x0 until |r| <= rtol |b|.

    The heat matrix C/dt + K + P is mass-dominated for pulse-scale steps (4 iterations at
    dt = 25 us, ~50 at dt = 1 s on a 6e3-node needle mesh), so this beats a factorisation
    (SuperLU fill-in made each solve 30 ms there, against 1-10 ms)."""
    x = x0.copy()
    r = b - A @ x
    tol = rtol * np.linalg.norm(b)
    z = inv_diag * r
    p = z.copy()
    rz = r @ z
    for _ in range(max_iterations):
        if np.linalg.norm(r) <= tol:
            return x
        Ap = A @ p
        a = rz / (p @ Ap)
        x += a * p
        r -= a * Ap
        z = inv_diag * r
        rz, rz_old = r @ z, rz
        p = z + (rz / rz_old) * p
    raise ConvergenceError("heat equation (CG)", max_iterations, float(np.linalg.norm(r) / np.linalg.norm(b)))


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
