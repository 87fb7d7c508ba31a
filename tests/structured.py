"""Tiny structured tetrahedral meshes (no gmsh) for fast unit tests of the engines."""
from __future__ import annotations

import numpy as np

from simulator.meshing.mesh import Mesh, Region, tet_geometry

# Kuhn subdivision of the unit cube into 6 tetrahedra (conforming across cubes)
_KUHN = np.array([[0, 1, 3, 7], [0, 1, 5, 7], [0, 2, 3, 7], [0, 2, 6, 7], [0, 4, 5, 7], [0, 4, 6, 7]])


def box_mesh(L=(0.01, 0.01, 0.01), n=(6, 6, 6), region_of=None) -> Mesh:
    """Box [0, Lx] x [0, Ly] x [-Lz, 0] split into n cubes per axis, 6 tets each.

    Contacts "A" (x = 0) and "B" (x = Lx). ``region_of(centroids) -> (M,) int`` chooses
    among regions ("bulk", "inclusion"); default all "bulk".
    """
    nx, ny, nz = n
    xs, ys, zs = (np.linspace(0, L[0], nx + 1), np.linspace(0, L[1], ny + 1), np.linspace(-L[2], 0, nz + 1))
    X, Y, Z = np.meshgrid(xs, ys, zs, indexing="ij")
    pts = np.stack([X.ravel(), Y.ravel(), Z.ravel()], axis=1)

    def vid(i, j, k):
        return (i * (ny + 1) + j) * (nz + 1) + k

    I, J, K = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij")
    I, J, K = I.ravel(), J.ravel(), K.ravel()
    corners = np.stack([vid(I + (c >> 0 & 1), J + (c >> 1 & 1), K + (c >> 2 & 1)) for c in range(8)], axis=1)
    tets = corners[:, _KUHN].reshape(-1, 4)
    vol_signed = np.linalg.det(pts[tets[:, 1:]] - pts[tets[:, :1]])
    neg = vol_signed < 0
    tets[neg] = tets[neg][:, [0, 2, 1, 3]]
    cent = pts[tets].mean(axis=1)
    region = np.zeros(len(tets), dtype=np.int32) if region_of is None else region_of(cent).astype(np.int32)
    facets = {}
    for name, x0 in (("A", 0.0), ("B", L[0])):
        on = np.isclose(pts[:, 0], x0)
        faces = tets[:, [[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]].reshape(-1, 3)
        keep = on[faces].all(axis=1)
        facets[name] = np.unique(np.sort(faces[keep], axis=1), axis=0)
    regions = (Region("bulk", "layer", "bulk", 0), Region("inclusion", "tumour", "inclusion", 0))
    return Mesh(pts, tets.astype(np.int64), region, regions, facets)


def volumes(mesh: Mesh) -> np.ndarray:
    return tet_geometry(mesh.points, mesh.tets)[0]


def two_tissue_law(mesh: Mesh, model: str = "smoothstep"):
    """sigma(E) of two tissues by ``mesh.cell_region``: region 0 0.2 -> 0.8 S/m between 400 and
    800 V/cm, region 1 0.05 -> 0.2 S/m between 300 and 700 V/cm."""
    from simulator.physics.conductivity import CellConductivity
    r = mesh.cell_region
    return CellConductivity(np.where(r, 0.05, 0.2), np.where(r, 0.2, 0.8), np.where(r, 3e4, 4e4),
                            np.where(r, 7e4, 8e4), np.zeros(mesh.num_cells, dtype=np.int64), (model,))
