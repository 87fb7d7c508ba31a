"""Lagrange P1/P2 function spaces on the engine-neutral tetrahedral mesh (numpy only).

A space gives, per cell, the global DOFs (M, nb), the basis gradients at the quadrature
points B (M, Q, 3, nb) in 1/m (P1: not stored; the engine's compiled loops rebuild them per
cell from the points, ``kernels.py``) and the quadrature weights w (M, Q) in m^3. Everything
the embedded engine assembles is a contraction of these arrays.

On a second-order mesh (``mesh.order == 2``, curved cells) the P2 space is isoparametric:
the map from the reference tet is x(xi) = sum_n x_n N_n(xi) over the 10 nodes (vertices and
mid-edge nodes), with Jacobian J = sum_n x_n (grad_xi N_n)^T at each quadrature point, weights
w = det J * (reference weight) and gradients J^-T grad_xi N_n (e.g. Ciarlet & Raviart 1972,
isoparametric elements; Ciarlet, The Finite Element Method for Elliptic Problems, 4.3-4.4).
[A] The same 4-point degree-2 rule: exact for the straight P2 stiffness, and of the degree
2k - 2 that keeps the isoparametric P2 energy error at its order (Ciarlet 4.4).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engines.base import P2_SAMPLE_BARYCENTRIC
from simulator.meshing.mesh import TET_EDGES, Mesh, edge_table

# Degree-2 rule on the tetrahedron (exact for P2 stiffness): 4 points, equal weights (the
# engines' shared sample points, point q nearest vertex q: engines.base).
QUAD2_BARY = P2_SAMPLE_BARYCENTRIC
REFERENCE_VOLUME = 1.0 / 6.0                                     # of the reference tetrahedron
_DLAM = np.array([[-1.0, -1.0, -1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # d lambda_i / d xi


@dataclass(frozen=True, eq=False)
class Space:
    """A scalar Lagrange space: vertices are DOFs 0..N-1 (P2 adds one DOF per edge after them)."""

    degree: int
    cell_dofs: np.ndarray        # (M, nb) int (P1: the mesh's tets, int32 or int64)
    B: np.ndarray | None         # (M, Q, 3, nb) basis gradients at quadrature points (P1: None)
    w: np.ndarray                # (M, Q) quadrature weights (m^3)
    num_dofs: int
    num_vertices: int
    edge_index: dict | None = None   # P2: sorted vertex pair -> DOF (built lazily)
    edges: np.ndarray | None = None  # P2: (E, 2) sorted vertex pairs, DOF = N + row
    points: np.ndarray | None = None  # P1: the mesh's points; the basis gradients are rebuilt
                                     # from them and cell_dofs (memory: not stored, 96 B/cell)

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


_BLOCK = 1 << 17     # cells per block: bounds the temporaries (5 (M, 3) arrays otherwise)


def _p1_block(points: np.ndarray, t: np.ndarray, g: np.ndarray, o: int = 1) -> np.ndarray:
    """Gradients of the barycentrics 1..3 of the cells ``t`` into ``g[:, :, o:o+3]`` (and,
    for o = 1, node 0's, minus their sum, into ``g[:, :, 0]``); returns the Jacobian
    determinants. Rows of J^-1 (J = [e1; e2; e3]) from explicit cofactors (cross products
    of the edge vectors e_k = x_k - x_0).

    On coordinate components (1-D arrays per block): the operations of ``np.cross`` in its
    order, and the determinant by the same einsum over (K, 3) rows (1.6x faster than on
    (K, 3) arrays). The engine's P1 loops use the same cofactors (``kernels._basis``)."""
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    i0 = t[:, 0]
    x0, y0, z0 = x[i0], y[i0], z[i0]
    e = []
    for k in (1, 2, 3):
        ik = t[:, k]
        e.append((x[ik] - x0, y[ik] - y0, z[ik] - z0))
    (ax, ay, az), (bx, by, bz), (cx, cy, cz) = e

    def cross(u0, u1, u2, v0, v1, v2):          # u x v as np.cross computes it
        w0 = u1 * v2
        w0 -= u2 * v1
        w1 = u2 * v0
        w1 -= u0 * v2
        w2 = u0 * v1
        w2 -= u1 * v0
        return w0, w1, w2

    c23 = cross(bx, by, bz, cx, cy, cz)
    det = np.einsum("mi,mi->m", np.stack((ax, ay, az), axis=1), np.stack(c23, axis=1))
    inv = 1.0 / det
    for k, c in enumerate((c23, cross(cx, cy, cz, ax, ay, az), cross(ax, ay, az, bx, by, bz))):
        for i in range(3):
            np.multiply(c[i], inv, out=g[:, i, o + k])
    if o == 1:
        s = g[:, :, 1] + g[:, :, 2]
        s += g[:, :, 3]
        np.negative(s, out=g[:, :, 0])
    return det


def _geometry(points: np.ndarray, tets: np.ndarray, full: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Volumes (M,) and P1 basis gradients (M, 3, 4) (``full=False``: volumes only): same values as
    ``mesh.tet_geometry`` from explicit cofactors instead of a batched ``np.linalg.inv``/
    ``det`` (4x faster, no (M, 4, 3) temporary), in blocks of cells."""
    M = tets.shape[0]
    grads = np.empty((M, 3, 4)) if full else None
    scratch = None if full else np.empty((min(M, _BLOCK), 3, 4))
    vol = np.empty(M)
    for a in range(0, M, _BLOCK):
        t = tets[a:a + _BLOCK]
        g = grads[a:a + _BLOCK] if full else scratch[:len(t)]
        det = _p1_block(points, t, g)
        vol[a:a + _BLOCK] = np.abs(det) / 6.0
    return vol, grads


def p2_cell_dofs(tets: np.ndarray, num_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The P2 space's DOF numbering on cells ``tets``: (edges (E, 2), cell_edges (M, 6), cell
    DOFs (M, 10) int64: the 4 vertices, then the 6 edges in ``TET_EDGES`` order, numbered
    after the vertices)."""
    edges, cell_edges = edge_table(tets, num_points)
    return edges, cell_edges, np.concatenate([tets, num_points + cell_edges], axis=1).astype(np.int64)


def p2_basis_values(lam: np.ndarray) -> np.ndarray:
    """(K, 10) the P2 basis at barycentric points ``lam`` (K, 4), in the DOF order of the
    space: lambda_i (2 lambda_i - 1), then 4 lambda_i lambda_j per edge of ``TET_EDGES``."""
    out = np.empty((lam.shape[0], 10))
    out[:, :4] = lam * (2.0 * lam - 1.0)
    for e, (i, j) in enumerate(TET_EDGES):
        out[:, 4 + e] = 4.0 * lam[:, i] * lam[:, j]
    return out


def p2_reference_gradients(lam: np.ndarray) -> np.ndarray:
    """(Q, 10, 3) gradients in reference coordinates xi = (lambda_1, lambda_2, lambda_3) of the
    P2 basis at barycentric points ``lam`` (Q, 4): vertex functions lambda_i (2 lambda_i - 1),
    then edge functions 4 lambda_i lambda_j in ``TET_EDGES`` order (the DOF order of the space)."""
    G = np.empty((lam.shape[0], 10, 3))
    for i in range(4):
        G[:, i] = (4.0 * lam[:, i] - 1.0)[:, None] * _DLAM[i]
    for e, (i, j) in enumerate(TET_EDGES):
        G[:, 4 + e] = 4.0 * (lam[:, j, None] * _DLAM[i] + lam[:, i, None] * _DLAM[j])
    return G


def _curved_p2(mesh: Mesh, cell_edges: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Isoparametric P2 geometry of a second-order mesh: basis gradients B (M, Q, 3, 10) in 1/m
    and weights w (M, Q) in m^3 (see the module docstring), in blocks of cells."""
    G = p2_reference_gradients(lam)                              # (Q, 10, 3)
    Q, M = lam.shape[0], mesh.num_cells
    wq = REFERENCE_VOLUME / Q                                   # equal weights
    B = np.empty((M, Q, 3, 10))
    w = np.empty((M, Q))
    for a in range(0, M, _BLOCK):
        sl = slice(a, a + _BLOCK)
        X = np.concatenate([mesh.points[mesh.tets[sl]], mesh.edge_points[cell_edges[sl]]], axis=1)  # (K, 10, 3)
        J = np.einsum("kna,qnb->kqab", X, G)                    # dx_a / dxi_b
        det = np.linalg.det(J)
        if not (det > 0).all():
            raise ValueError(f"{int((det <= 0).any(axis=1).sum())} curved cells have a non-positive Jacobian "
                             "at a quadrature point")
        Jinv = np.linalg.inv(J)                                  # (K, Q, 3, 3): dxi_b / dx_a
        B[sl] = np.einsum("kqba,qnb->kqan", Jinv, G)            # J^-T grad_xi N
        w[sl] = det * wq
    return B, w


def build_space(mesh: Mesh, degree: int) -> Space:
    """P1 or P2 space on ``mesh``."""
    N = mesh.num_points
    if degree == 1:
        vol, _ = _geometry(mesh.points, mesh.tets, full=False)       # (M,)
        return Space(1, mesh.tets, None, vol[:, None], N, N, points=mesh.points)
    if degree != 2:
        raise ValueError(f"degree must be 1 or 2, got {degree}")
    edges, cell_edges, cell_dofs = p2_cell_dofs(mesh.tets, N)
    lam = QUAD2_BARY                                              # (Q, 4)
    if mesh.order == 2:
        if not np.array_equal(edges, mesh.edges):
            raise ValueError("the mesh's edges are not those of its tets (edge_table order)")
        B, w = _curved_p2(mesh, cell_edges, lam)
        return Space(2, cell_dofs, B, w, N + len(edges), N, edges=edges)
    del cell_edges
    vol, grads = _geometry(mesh.points, mesh.tets)             # (M,), (M, 3, 4)
    Q = lam.shape[0]
    B = np.empty((mesh.num_cells, Q, 3, 10))
    for q in range(Q):
        for i in range(4):                                        # vertex functions
            B[:, q, :, i] = (4.0 * lam[q, i] - 1.0) * grads[:, :, i]
        for e, (i, j) in enumerate(TET_EDGES):                    # edge functions 4 l_i l_j
            B[:, q, :, 4 + e] = 4.0 * (lam[q, j] * grads[:, :, i] + lam[q, i] * grads[:, :, j])
    w = np.repeat(vol[:, None] / Q, Q, axis=1)
    return Space(2, cell_dofs, B, w, N + len(edges), N, edges=edges)


def p1_embedding(space: Space, rdof: np.ndarray, n: int):
    """(n, n1) CSR prolongation from the P1 functions of the mesh's vertices into a P2
    reduced space (``rdof``: full DOF -> reduced index, -1 on Dirichlet DOFs; ``n`` reduced
    unknowns): the coarse unknowns are the reduced unknowns that hold a vertex, in their
    order (a floating contact's one unknown is one of them); an edge DOF of its own takes
    half of each end's coarse value (a P1 function is linear along the edge; a Dirichlet
    end adds 0). The first coarse space of P2's multigrid (p-multigrid: P2 -> P1 -> AMG;
    Helenbrook, Mavriplis & Atkins 2003, AIAA 2003-3989). [A] On curved cells the edge
    value is the mean of its ends in reference coordinates, as on straight ones."""
    import scipy.sparse as sp
    N = space.num_vertices
    vert = rdof[:N]
    has = np.zeros(n, dtype=bool)
    has[vert[vert >= 0]] = True
    coarse = np.full(n, -1, dtype=np.int64)
    coarse[has] = np.arange(int(has.sum()))
    own = np.flatnonzero(has)
    rows, cols, vals = [own], [coarse[own]], [np.ones(own.size)]
    edge_r = rdof[N:]
    alone = edge_r >= 0
    alone[alone] = ~has[edge_r[alone]]
    for end in (0, 1):
        v = vert[space.edges[:, end]]
        ok = alone & (v >= 0)
        rows.append(edge_r[ok])
        cols.append(coarse[v[ok]])
        vals.append(np.full(int(ok.sum()), 0.5))
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n, int(has.sum())))
