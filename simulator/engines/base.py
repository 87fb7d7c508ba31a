"""The interface every FE engine implements, with plain NumPy arrays across it."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from simulator.physics.conductivity import CellConductivity


@dataclass(frozen=True)
class PulseConfiguration:
    """One field problem: anode contacts at ``voltage`` (V), cathode contacts at 0 V.

    ``floating`` contacts are conductors at one unknown potential with zero net current;
    contacts of the mesh named in none of the three tuples are insulating.
    """

    anode: tuple[str, ...]
    cathode: tuple[str, ...]
    voltage: float
    floating: tuple[str, ...] = ()


@dataclass
class SolverSettings:
    """Numerical settings shared by the engines."""

    degree: int = 1
    rtol: float = 1e-8               # nonlinear: |residual| <= rtol * |boundary flux|
    max_iterations: int = 50         # nonlinear
    linear_rtol: float = 1e-10       # CG relative residual
    linear_max_iterations: int = 2000
    monotone_tol: float = 1e-4       # monotone model: max relative sigma change to stop


# The P2 sample points (both engines): the 4-point degree-2 rule on the tetrahedron (exact for
# the straight P2 stiffness), equal weights, in barycentric coordinates; row q has its large
# coordinate at cell vertex q, so sample point q is the one nearest to vertex q (the order of
# the (M, Q) arrays of a FieldSolution).
P2_SAMPLE_A, P2_SAMPLE_B = 0.5854101966249685, 0.1381966011250105
P2_SAMPLE_BARYCENTRIC = np.array([[P2_SAMPLE_A, P2_SAMPLE_B, P2_SAMPLE_B, P2_SAMPLE_B],
                                  [P2_SAMPLE_B, P2_SAMPLE_A, P2_SAMPLE_B, P2_SAMPLE_B],
                                  [P2_SAMPLE_B, P2_SAMPLE_B, P2_SAMPLE_A, P2_SAMPLE_B],
                                  [P2_SAMPLE_B, P2_SAMPLE_B, P2_SAMPLE_B, P2_SAMPLE_A]])


@dataclass
class FieldSolution:
    """The field of one pulse configuration.

    E, sigma, weights: (M, Q) at Q sample points per cell (Q = 1 for P1: cell values);
    weights are volumes (m^3) that sum to the cell volume over q. E in V/m, sigma in S/m.
    current: A into the anode contacts (from the FE residual).
    potential: (N,) potential at the mesh vertices (V).
    """

    E: np.ndarray
    sigma: np.ndarray
    weights: np.ndarray
    current: float
    potential: np.ndarray
    nonlinear_iterations: int
    linear_iterations: int
    residual: float
    converged: bool
    floating_potentials: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    dofs: int = 0
    potential_full: np.ndarray | None = None   # all DOFs (P2: vertices, then edges)
    # engine-specific state that a warm start of the same configuration at another voltage
    # may reuse (the embedded engine: its AMG hierarchy); set only on request
    # (``keep_state``), not part of the answer
    warm_state: object | None = None

    def potentials_only(self) -> "FieldSolution":
        """This solution without its (M, Q) arrays (E, sigma, weights) and timings: what a
        later Newton start needs (potentials, floating potentials, current), for keeping."""
        empty = np.zeros((0, 1))
        return replace(self, E=empty, sigma=empty, weights=empty, timings={})


class EngineWrapper:
    """Base of the engine wrappers of runs and studies (shared solutions, warm starts,
    recorders): an attribute the wrapper does not define is the wrapped engine's (name, dofs,
    settings, parallel_safe, cancel, solve_linear, heat_operator, ...)."""

    def __init__(self, engine):
        self._engine = engine

    def __getattr__(self, name):
        if name == "_engine":                   # not set yet (copy, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self._engine, name)


class Engine(Protocol):
    """An FE engine bound to one mesh and degree."""

    name: str
    dofs: int

    def solve_stationary(self, config: PulseConfiguration, law: CellConductivity,
                         sigma_floor: np.ndarray | None = None,
                         initial: FieldSolution | None = None, *,
                         rtol: float | None = None, start_sweeps: int = 0) -> FieldSolution:
        """Solve div(sigma(|E|) grad phi) = 0 with sigma = max(sigma(E), sigma_floor).

        ``initial``: Newton starts from its potential; ``rtol``: the nonlinear tolerance
        (default: the settings'); ``start_sweeps``: smoothing sweeps for a start from another
        mesh (an engine may ignore it, as it may ignore ``initial``)."""
        ...

    def solve_linear(self, config: PulseConfiguration, sigma: np.ndarray) -> FieldSolution:
        """Solve div(sigma grad phi) = 0 with sigma given at the sample points (M, Q)."""
        ...

    def heat_operator(self, conductivity: np.ndarray, rho_c: np.ndarray, perfusion: np.ndarray,
                      skin: np.ndarray, skin_h: float):
        """The P1 Pennes operator (:class:`simulator.physics.bioheat.HeatOperator`) on this mesh:
        k (M,) W/(m K), rho c (M,) J/(m^3 K), perfusion rho_b c_b w_b (M,) W/(m^3 K) per cell in
        the mesh's cell order; ``skin`` (F, 3) vertex triples of the convective surface with
        heat transfer coefficient ``skin_h`` W/(m^2 K) (F = 0 or skin_h = 0: insulating)."""
        ...
