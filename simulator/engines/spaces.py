"""Lagrange P1/P2 function spaces on the engine-neutral tetrahedral mesh (numpy only).

A space gives, per cell, the global DOFs (M, nb), the basis gradients at the quadrature
points B (M, Q, 3, nb) in 1/m and the quadrature weights w (M, Q) in m^3. Everything the
embedded engine assembles is a contraction of these arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..mesh import Mesh, tet_geometry

# Degree-2 rule on the tetrahedron (exact for P2 stiffness): 4 points, equal weights.
_A, _B = 0.5854101966249685, 0.1381966011250105
QUAD2_BARY = np.array([[_A, _B, _B, _B], [_B, _A, _B, _B], [_B, _B, _A, _B], [_B, _B, _B, _A]])
TET_EDGES = np.array([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]])


@dataclass(frozen=True, eq=False)
class Space:
    """A scalar Lagrange space: vertices are DOFs 0..N-1 (P2 adds one DOF per edge after them)."""

    degree: int
    cell_dofs: np.ndarray        # (M, nb) int64
    B: np.ndarray                # (M, Q, 3, nb) basis gradients at quadrature points
    w: np.ndarray                # (M, Q) quadrature weights (m^3)
    num_dofs: int
    num_vertices: int
    edge_index: dict | None = None   # P2: sorted vertex pair -> DOF (built lazily)
    edges: np.ndarray | None = None  # P2: (E, 2) sorted vertex pairs, DOF = N + row

    def facet_dofs(self, facets: np.ndarray) -> np.ndarray:
        """Unique DOFs on boundary triangles (K, 3): their vertices, plus edge DOFs for P2."""
        verts = np.unique(facets)
        if self.degree == 1:
            return verts
        pairs = np.sort(facets[:, [[0, 1], [0, 2], [1, 2]]].reshape(-1, 2), axis=1)
        keys = pairs[:, 0] * self.num_vertices + pairs[:, 1]
        edge_keys = self.edges[:, 0] * self.num_vertices + self.edges[:, 1]
        pos = np.searchsorted(edge_keys, keys)
        return np.unique(np.concatenate([verts, self.num_vertices + pos]))


def _geometry(points: np.ndarray, tets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Volumes (M,) and P1 basis gradients (M, 3, 4): same values as ``mesh.tet_geometry``
    from explicit cofactors (cross products of the edge vectors) instead of a batched
    ``np.linalg.inv``/``det`` (4x faster, no (M, 4, 3) temporary)."""
    p0 = points[tets[:, 0]]
    e1 = points[tets[:, 1]] - p0
    e2 = points[tets[:, 2]] - p0
    e3 = points[tets[:, 3]] - p0
    del p0
    grads = np.empty((tets.shape[0], 3, 4))
    # rows of J^-1 (J = [e1; e2; e3]) are the gradients of the barycentrics 1..3
    c23 = np.cross(e2, e3)
    det = np.einsum("mi,mi->m", e1, c23)
    inv = 1.0 / det
    grads[:, :, 1] = c23 * inv[:, None]
    del c23
    grads[:, :, 2] = np.cross(e3, e1) * inv[:, None]
    grads[:, :, 3] = np.cross(e1, e2) * inv[:, None]
    grads[:, :, 0] = -(grads[:, :, 1] + grads[:, :, 2] + grads[:, :, 3])
    return np.abs(det) / 6.0, grads


def build_space(mesh: Mesh, degree: int) -> Space:
    """P1 or P2 space on ``mesh``."""
    vol, grads = _geometry(mesh.points, mesh.tets)             # (M,), (M, 3, 4)
    N = mesh.num_points
    if degree == 1:
        return Space(1, np.asarray(mesh.tets, dtype=np.int64), grads[:, None, :, :], vol[:, None], N, N)
    if degree != 2:
        raise ValueError(f"degree must be 1 or 2, got {degree}")
    pairs = np.sort(mesh.tets[:, TET_EDGES], axis=2)             # (M, 6, 2)
    keys = pairs[..., 0] * N + pairs[..., 1]
    uniq, inv = np.unique(keys.ravel(), return_inverse=True)
    edges = np.stack([uniq // N, uniq % N], axis=1)
    cell_dofs = np.concatenate([mesh.tets, N + inv.reshape(-1, 6)], axis=1).astype(np.int64)
    lam = QUAD2_BARY                                              # (Q, 4)
    Q = lam.shape[0]
    B = np.empty((mesh.num_cells, Q, 3, 10))
    for q in range(Q):
        for i in range(4):                                        # vertex functions
            B[:, q, :, i] = (4.0 * lam[q, i] - 1.0) * grads[:, :, i]
        for e, (i, j) in enumerate(TET_EDGES):                    # edge functions 4 l_i l_j
            B[:, q, :, 4 + e] = 4.0 * (lam[q, j] * grads[:, :, i] + lam[q, i] * grads[:, :, j])
    w = np.repeat(vol[:, None] / Q, Q, axis=1)
    return Space(2, cell_dofs, B, w, N + len(edges), N, edges=edges)
