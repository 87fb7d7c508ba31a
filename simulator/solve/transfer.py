"""Transfer of a potential from one mesh to another: a start for Newton on a new mesh (P1:
the vertex potential interpolated; P2: the P2 function evaluated at the new DOFs).

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
from simulator.engines.embedded.spaces import p2_basis_values, p2_cell_dofs
from simulator.meshing.mesh import Mesh



START_SWEEPS = 2     # Gauss-Seidel sweeps of a transferred start's first Newton step (engines'
#                      start_sweeps): the start's error is mostly mesh-scale noise. A placement
#                      draw (hexagonal example moved 1 mm): 2, 5 and 10 sweeps all gave 4 further
#                      Newton iterations instead of 5-6, so the fewest; the curved P2 hexagonal
#                      example's finer accuracy level: CG 285 -> 264 (Newton 66 either way)


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


def p2_values(potential: np.ndarray, cell_dofs: np.ndarray, cells: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """The P2 function with DOF values ``potential`` at points given by their cells and the
    barycentric coordinates (K, 4) of the cells' corner tets (exact on straight cells; on a
    curved cell the corner tet's coordinates, which is all a start needs)."""
    return np.einsum("kn,kn->k", potential[cell_dofs[cells]], p2_basis_values(bary))


def transferred(solution: FieldSolution, locator: PointLocator, target: Mesh, dofs: int,
                to_source: Callable[[np.ndarray], np.ndarray] | None = None,
                weights: tuple[np.ndarray, np.ndarray] | None = None,
                source_cell_dofs: np.ndarray | None = None) -> FieldSolution | None:
    """A Newton start on ``target`` (an engine of ``dofs`` DOFs) from ``solution`` on the
    locator's mesh: its vertex potential interpolated at the target's vertices (``weights``
    for more points than the vertices: at every DOF of a P2 space, see :func:`dof_points`).
    None when the target space is neither P1 (``dofs`` == its vertices) nor located at its
    DOFs by ``weights``, where no start is given.

    ``to_source`` maps target points (K, 3) m to where they are sampled on the source mesh
    (for an electrode moved by a rigid motion: its inverse, so that the field moves with
    the needles, where it is steepest); default: the same points. ``weights``: what
    ``locator.weights`` gives for those points, when the caller keeps them (several
    potentials onto one mesh: the location is most of the cost). ``source_cell_dofs``: the
    source's P2 cell DOFs (``spaces.p2_cell_dofs``) when ``solution`` is P2 with its full
    potential: then the P2 function itself is evaluated, not the P1 interpolant of its
    vertex values (a closer start: the curved P2 hexagonal example's finer level took 66
    Newton steps from the P1 interpolant, 60 cold).)"""
    if solution.potential is None or (weights is None and dofs != target.num_points):
        return None
    if weights is None:
        weights = locator.weights(target.points if to_source is None else to_source(target.points))
    cells, bary = weights
    if len(cells) != dofs:
        return None
    full = solution.potential_full
    if source_cell_dofs is not None and full is not None and len(full) > len(solution.potential):
        phi = p2_values(np.asarray(full, dtype=float), source_cell_dofs, cells, bary)
    else:
        phi = np.einsum("kn,kn->k", bary, np.asarray(solution.potential, dtype=float)[locator.tets[cells]])
    empty = np.zeros((0, 1))
    return replace(solution, E=empty, sigma=empty, weights=empty, potential=phi, potential_full=phi,
                   dofs=dofs, nonlinear_iterations=0, linear_iterations=0, timings={})


class MeshToMeshStarts(EngineWrapper):
    """An engine wrapper for a sequence of meshes of one problem (the accuracy loop's levels):
    each configuration's stationary Newton solve starts from that configuration's converged
    potential on the previous mesh (``previous``: configuration -> solution, on the
    locator's mesh), and the converged potentials of this mesh (P2: all DOFs) are recorded in
    ``record`` for the next one; a start's first Newton step is START_SWEEPS Gauss-Seidel
    sweeps. Solves given their own start, and everything else, pass
    through to the engine."""

    def __init__(self, engine, mesh: Mesh, previous: dict | None, locator: PointLocator | None, record: dict):
        super().__init__(engine)
        self._mesh = mesh
        self._previous, self._locator, self._record = previous or {}, locator, record
        self._lock = threading.Lock()
        self._weights: tuple[np.ndarray, np.ndarray] | None = None
        self._placed = False        # _weights computed (None: the engine's DOFs have no known places)
        self._source_dofs = None    # the previous mesh's P2 cell DOFs, when its solutions are P2
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
                    if any(s.potential_full is not None and len(s.potential_full) > len(s.potential)
                           for s in self._previous.values()):       # P2 solutions: evaluate P2
                        self._source_dofs = p2_cell_dofs(self._locator.tets, len(self._locator.points))[2]
                self._placed = True
            return self._weights

    def solve_stationary(self, config, law, sigma_floor=None, initial=None, *, rtol=None) -> FieldSolution:
        start = None
        if initial is None and sigma_floor is None and self._locator is not None and config in self._previous:
            weights = self._dof_weights()
            if weights is not None:
                start = transferred(self._previous[config], self._locator, self._mesh, self._engine.dofs,
                                    weights=weights, source_cell_dofs=self._source_dofs)
        kw = {} if start is None else {"start_sweeps": START_SWEEPS}
        sol = self._engine.solve_stationary(config, law, sigma_floor, initial if start is None else start, rtol=rtol,
                                            **kw)
        if sigma_floor is None and sol.potential is not None:
            with self._lock:
                full = sol.potential_full
                p2 = full is not None and sol.potential is not None and len(full) > len(sol.potential)
                self._record[config] = replace(sol.potentials_only(), potential_full=full if p2 else None)
                self.warm += start is not None
        return sol
