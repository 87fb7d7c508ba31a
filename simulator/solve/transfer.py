"""Transfer of a P1 potential from one mesh to another: a start for Newton on a new mesh.

A study that re-meshes (a finer accuracy level, a placement draw of ``epsim robustness``, a
moved application of a plan) solves nearly the same field again. The converged potential
of the old mesh, interpolated at the new mesh's vertices, starts Newton close to its
solution: it skips the initial linear solve and most of the iterations. Only the start
changes; the answer is the new mesh's own converged solution (the energy is convex, so
Newton with the exact line search reaches the same minimiser from any start).

Point location: :class:`simulator.meshing.locate.PointLocator` (a vertex outside the old
domain, inside a needle hole that moved or past a curved boundary, takes the value of the
nearest face, which is all a start needs).
"""
from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable

import numpy as np

from simulator.engines.base import EngineWrapper, FieldSolution
from simulator.meshing.locate import PointLocator  # noqa: F401 (re-exported)
from simulator.meshing.mesh import Mesh



def dof_points(engine, mesh: Mesh) -> np.ndarray | None:
    """(dofs, 3) m: where the DOFs of ``engine`` (on ``mesh``) sit: the vertices for P1; for
    the embedded P2 space the vertices, then each edge's node (its mid-edge node on a curved
    mesh, else its midpoint) in the space's edge order. None for another layout (DOLFINx P2:
    its own DOF numbering), where no start is given."""
    if engine.dofs == mesh.num_points:
        return mesh.points
    space = getattr(engine, "space", None)
    if getattr(space, "degree", None) != 2 or space.num_dofs != engine.dofs or space.edges is None:
        return None
    e = space.edges
    mid = mesh.edge_points if mesh.order == 2 else 0.5 * (mesh.points[e[:, 0]] + mesh.points[e[:, 1]])
    return np.concatenate([mesh.points, mid])


def transferred(solution: FieldSolution, locator: PointLocator, target: Mesh, dofs: int,
                to_source: Callable[[np.ndarray], np.ndarray] | None = None,
                weights: tuple[np.ndarray, np.ndarray] | None = None) -> FieldSolution | None:
    """A Newton start on ``target`` (an engine of ``dofs`` DOFs) from ``solution`` on the
    locator's mesh: its vertex potential interpolated at the target's vertices (``weights``
    for more points than the vertices: at every DOF of a P2 space, see :func:`dof_points`).
    None when the target space is neither P1 (``dofs`` == its vertices) nor located at its
    DOFs by ``weights``, where no start is given.

    ``to_source`` maps target points (K, 3) m to where they are sampled on the source mesh
    (for an electrode moved by a rigid motion: its inverse, so that the field moves with
    the needles, where it is steepest); default: the same points. ``weights``: what
    ``locator.weights`` gives for those points, when the caller keeps them (several
    potentials onto one mesh: the location is most of the cost)."""
    if solution.potential is None or (weights is None and dofs != target.num_points):
        return None
    if weights is None:
        weights = locator.weights(target.points if to_source is None else to_source(target.points))
    cells, bary = weights
    if len(cells) != dofs:
        return None
    phi = np.einsum("kn,kn->k", bary, np.asarray(solution.potential, dtype=float)[locator.tets[cells]])
    empty = np.zeros((0, 1))
    return replace(solution, E=empty, sigma=empty, weights=empty, potential=phi, potential_full=phi,
                   dofs=dofs, nonlinear_iterations=0, linear_iterations=0, timings={})


class MeshToMeshStarts(EngineWrapper):
    """An engine wrapper for a sequence of meshes of one problem (the accuracy loop's levels):
    each configuration's stationary Newton solve starts from that configuration's converged
    potential on the previous mesh (``previous``: configuration -> solution, on the
    locator's mesh), and the converged vertex potentials of this mesh are recorded in
    ``record`` for the next one. Solves given their own start, and everything else, pass
    through to the engine."""

    def __init__(self, engine, mesh: Mesh, previous: dict | None, locator: PointLocator | None, record: dict):
        super().__init__(engine)
        self._mesh = mesh
        self._previous, self._locator, self._record = previous or {}, locator, record
        self._lock = threading.Lock()
        self._weights: tuple[np.ndarray, np.ndarray] | None = None
        self._placed = False        # _weights computed (None: the engine's DOFs have no known places)
        self.warm = 0
        self.located = 0        # times this mesh's vertices were located on the previous mesh

    def _dof_weights(self) -> tuple[np.ndarray, np.ndarray] | None:
        """This mesh's DOF points (its vertices; P2: and edge nodes, :func:`dof_points`)
        located on the previous mesh, once for every configuration (located once per
        configuration, the hexagonal example's loop spent 23 s of its 156 s on one thread
        locating the same points 12 times per level); None where the DOFs have no known places."""
        with self._lock:
            if not self._placed:
                points = dof_points(self._engine, self._mesh)
                if points is not None:
                    self._weights = self._locator.weights(points)
                    self.located += 1
                self._placed = True
            return self._weights

    def solve_stationary(self, config, law, sigma_floor=None, initial=None, *, rtol=None) -> FieldSolution:
        start = None
        if initial is None and sigma_floor is None and self._locator is not None and config in self._previous:
            weights = self._dof_weights()
            if weights is not None:
                start = transferred(self._previous[config], self._locator, self._mesh, self._engine.dofs,
                                    weights=weights)
        sol = self._engine.solve_stationary(config, law, sigma_floor, initial if start is None else start, rtol=rtol)
        if sigma_floor is None and sol.potential is not None:
            with self._lock:
                self._record[config] = replace(sol.potentials_only(), potential_full=None)
                self.warm += start is not None
        return sol
