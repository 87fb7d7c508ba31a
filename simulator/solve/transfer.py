"""Transfer of a P1 potential from one mesh to another: a start for Newton on a new mesh.

A study that re-meshes (a finer accuracy level, a placement draw of ``epsim robustness``, a
moved application of a plan) solves nearly the same field again. The converged potential
of the old mesh, interpolated at the new mesh's vertices, starts Newton close to its
solution: it skips the initial linear solve and most of the iterations. Only the start
changes; the answer is the new mesh's own converged solution (the energy is convex, so
Newton with the exact line search reaches the same minimiser from any start).

Point location: each new vertex is looked up among the ``CANDIDATES`` old cells whose
centroids are nearest (scipy cKDTree) and interpolated linearly in the cell that contains
it. A vertex outside every candidate (outside the old domain: inside a needle hole that
moved, or past a curved boundary) takes the candidate cell it is least outside of, with its
barycentric coordinates clipped to [0, 1] and renormalised: the value of the nearest face,
which is all a start needs.
"""
from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable

import numpy as np
from scipy.spatial import cKDTree

from simulator.engines.base import EngineWrapper, FieldSolution
from simulator.meshing.mesh import Mesh

CANDIDATES = 8       # [A] nearest cell centroids searched per point (graded meshes: 8 suffice
#                      to find the containing cell for nearly every point; misses fall back
#                      to the clipped nearest candidate, above)
_BLOCK = 1 << 16     # points per block (bounds the (K, CANDIDATES, 3, 3) temporaries)


class PointLocator:
    """Locates points in a tetrahedral mesh and interpolates vertex values there."""

    def __init__(self, mesh: Mesh):
        self.points = mesh.points
        self.tets = mesh.tets
        self._tree = cKDTree(mesh.centroids())
        p0 = self.points[self.tets[:, 0]]
        # columns p1 - p0, p2 - p0, p3 - p0 of each tet; their inverses map x to barycentrics
        T = np.stack([self.points[self.tets[:, k]] - p0 for k in (1, 2, 3)], axis=2)
        self._p0 = p0
        self._Tinv = np.linalg.inv(T)

    def weights(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For points x (K, 3) m: the cell used for each (K,) and its 4 barycentric weights (K, 4)."""
        cells = np.empty(len(x), dtype=np.int64)
        bary = np.empty((len(x), 4))
        k = min(CANDIDATES, len(self.tets))
        for a in range(0, len(x), _BLOCK):
            xb = x[a:a + _BLOCK]
            _, cand = self._tree.query(xb, k=k)
            cand = cand.reshape(len(xb), k)
            lam = np.einsum("kcij,kcj->kci", self._Tinv[cand], xb[:, None, :] - self._p0[cand])
            lam = np.concatenate([1.0 - lam.sum(axis=2, keepdims=True), lam], axis=2)   # (K, c, 4)
            best = np.argmax(lam.min(axis=2), axis=1)         # the containing cell, else least outside
            rows = np.arange(len(xb))
            chosen = lam[rows, best]
            np.clip(chosen, 0.0, 1.0, out=chosen)
            chosen /= chosen.sum(axis=1, keepdims=True)
            cells[a:a + _BLOCK] = cand[rows, best]
            bary[a:a + _BLOCK] = chosen
        return cells, bary

    def interpolate(self, values: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The P1 interpolant of vertex ``values`` (N,) at points x (K, 3)."""
        cells, bary = self.weights(x)
        return np.einsum("kn,kn->k", bary, values[self.tets[cells]])


def transferred(solution: FieldSolution, locator: PointLocator, target: Mesh, dofs: int,
                to_source: Callable[[np.ndarray], np.ndarray] | None = None,
                weights: tuple[np.ndarray, np.ndarray] | None = None) -> FieldSolution | None:
    """A Newton start on ``target`` (an engine of ``dofs`` DOFs) from ``solution`` on the
    locator's mesh: its vertex potential interpolated at the target's vertices. None when
    the target space is not P1 (``dofs`` != its vertices), where no start is given.

    ``to_source`` maps target points (K, 3) m to where they are sampled on the source mesh
    (for an electrode moved by a rigid motion: its inverse, so that the field moves with
    the needles, where it is steepest); default: the same points. ``weights``: what
    ``locator.weights`` gives for those points, when the caller keeps them (several
    potentials onto one mesh: the location is most of the cost)."""
    if dofs != target.num_points or solution.potential is None:
        return None
    if weights is None:
        weights = locator.weights(target.points if to_source is None else to_source(target.points))
    cells, bary = weights
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
        self.warm = 0

    def solve_stationary(self, config, law, sigma_floor=None, initial=None, *, rtol=None) -> FieldSolution:
        start = None
        if initial is None and sigma_floor is None and self._locator is not None and config in self._previous:
            start = transferred(self._previous[config], self._locator, self._mesh, self._engine.dofs)
        sol = self._engine.solve_stationary(config, law, sigma_floor, initial if start is None else start, rtol=rtol)
        if sigma_floor is None and sol.potential is not None:
            with self._lock:
                self._record[config] = replace(sol.potentials_only(), potential_full=None)
                self.warm += start is not None
        return sol
