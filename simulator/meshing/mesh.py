"""The engine-neutral tetrahedral mesh: the one object every engine consumes.

Regions (tissue layers, tumours) and contacts (electrode surfaces) are named: the names
are the contract between geometry, mesh and physics. Lengths in metres.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from simulator.meshing.memo import per_mesh

_BLOCK = 1 << 17     # cells per block in the per-cell loops (bounds the temporaries)
TET_EDGES = np.array([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]])   # local vertex pairs of a tet's edges


@dataclass(frozen=True)
class Region:
    """A named set of cells: a tissue layer or a tumour, made of one material."""

    name: str            # e.g. "skin", "fat", "T1"
    kind: str            # "layer" | "tumour"
    material: str        # key into the scenario's materials
    index: int = -1      # tumour index in the scenario (kind == "tumour"), else layer index


@dataclass(frozen=True, eq=False)
class Mesh:
    """Tetrahedral mesh: linear, or second-order (curved) when it carries mid-edge nodes.

    points: (N, 3) float64 m, the vertices; tets: (M, 4) int32 (int64 past 2**31 nodes; other
    meshes may use int64), positively oriented (as straight tets); cell_region: (M,)
    int32 index into ``regions``; contact_facets: contact name -> (K, 3) int64 vertex
    indices of the boundary triangles on that contact surface.

    Second-order meshes (``[mesh] order = 2``) also have ``edges`` (E, 2) int64, the sorted
    vertex pairs of every tet edge in the order of :func:`edge_table`, and ``edge_points``
    (E, 3) m, the mid-edge node of each (gmsh puts those of boundary edges on the CAD
    surface: on a needle's cylinder, not on its straight chord). Only an isoparametric P2
    space reads them; everything else (P1, volumes, centroids, recovered fields, field files)
    uses the straight corner tets [A].
    """

    points: np.ndarray
    tets: np.ndarray
    cell_region: np.ndarray
    regions: tuple[Region, ...]
    contact_facets: dict[str, np.ndarray] = field(default_factory=dict)
    edges: np.ndarray | None = None
    edge_points: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.points.ndim != 2 or self.points.shape[1] != 3:
            raise ValueError(f"points must be (N, 3), got {self.points.shape}")
        if self.tets.ndim != 2 or self.tets.shape[1] != 4:
            raise ValueError(f"tets must be (M, 4), got {self.tets.shape}")
        if self.cell_region.shape != (self.tets.shape[0],):
            raise ValueError(f"cell_region must be ({self.tets.shape[0]},), got {self.cell_region.shape}")
        if (self.edges is None) != (self.edge_points is None):
            raise ValueError("edges and edge_points come together (a second-order mesh) or not at all")
        if self.edges is not None and (self.edges.ndim != 2 or self.edges.shape[1] != 2
                                       or self.edge_points.shape != (self.edges.shape[0], 3)):
            raise ValueError(f"edges must be (E, 2) and edge_points (E, 3), got {self.edges.shape} "
                             f"and {self.edge_points.shape}")

    @property
    def order(self) -> int:
        """Geometric order of the cells: 1 (straight) or 2 (mid-edge nodes, curved)."""
        return 1 if self.edge_points is None else 2

    @property
    def num_points(self) -> int:
        return int(self.points.shape[0])

    @property
    def num_cells(self) -> int:
        return int(self.tets.shape[0])

    def region_id(self, name: str) -> int:
        """Index of a region by name; ``KeyError`` lists the names."""
        for i, r in enumerate(self.regions):
            if r.name == name:
                return i
        raise KeyError(f"no region {name!r}; regions: {', '.join(r.name for r in self.regions)}")

    def contact_nodes(self, name: str) -> np.ndarray:
        """Sorted unique node indices on a contact surface."""
        try:
            facets = self.contact_facets[name]
        except KeyError:
            raise KeyError(f"no contact {name!r}; contacts: {', '.join(self.contact_facets)}") from None
        return np.unique(facets)

    def cell_materials(self) -> np.ndarray:
        """(M,) array of material names per cell (object dtype)."""
        names = np.array([r.material for r in self.regions], dtype=object)
        return names[self.cell_region]

    @per_mesh
    def centroids(self) -> np.ndarray:
        """(M, 3) cell centroids, m (computed in blocks: no (M, 4, 3) temporary; kept per mesh,
        read-only: meshing.memo)."""
        out = np.empty((self.num_cells, 3))
        for a in range(0, self.num_cells, _BLOCK):
            out[a:a + _BLOCK] = self.points[self.tets[a:a + _BLOCK]].mean(axis=1)
        return out

    @per_mesh
    def volumes(self) -> np.ndarray:
        """(M,) cell volumes in m^3: the values of ``tet_geometry``, in blocks, without the
        gradients (a whole-mesh ``tet_geometry`` needs ~350 bytes per cell of temporaries);
        kept per mesh, read-only (meshing.memo)."""
        out = np.empty(self.num_cells)
        for a in range(0, self.num_cells, _BLOCK):
            p = self.points[self.tets[a:a + _BLOCK]]
            out[a:a + _BLOCK] = np.abs(np.linalg.det(p[:, 1:, :] - p[:, :1, :])) / 6.0
        return out

    def digest(self) -> str:
        """A hash of the mesh arrays (determinism checks)."""
        h = hashlib.sha256()
        for a in (self.points, self.tets, self.cell_region) + (
                () if self.edges is None else (self.edges, self.edge_points)):
            h.update(np.ascontiguousarray(a).tobytes())
        for name in sorted(self.contact_facets):
            h.update(name.encode())
            h.update(np.ascontiguousarray(self.contact_facets[name]).tobytes())
        return h.hexdigest()


def edge_table(tets: np.ndarray, num_points: int) -> tuple[np.ndarray, np.ndarray]:
    """The edges of a tet mesh: ((E, 2) int64 sorted vertex pairs, in increasing
    lo * N + hi order, and (M, 6) int64 the edge of each cell's local edge ``TET_EDGES[k]``)."""
    pairs = np.sort(tets[:, TET_EDGES].astype(np.int64), axis=2)     # (M, 6, 2)
    keys = pairs[..., 0] * num_points + pairs[..., 1]
    del pairs
    uniq, inv = np.unique(keys.ravel(), return_inverse=True)
    return np.stack([uniq // num_points, uniq % num_points], axis=1), inv.reshape(-1, 6)


def tet_geometry(points: np.ndarray, tets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Volumes (M,) and P1 basis gradients (M, 3, 4) of tetrahedra (1/m).

    grad[c, :, i] is the gradient of the hat function of local node i in cell c.
    """
    p = points[tets]                           # (M, 4, 3)
    J = (p[:, 1:, :] - p[:, :1, :])            # (M, 3, 3): rows are edge vectors
    det = np.linalg.det(J)
    vol = np.abs(det) / 6.0
    Jinv = np.linalg.inv(J)                    # columns: gradients of lambda_1..3
    g = np.empty((tets.shape[0], 3, 4))
    g[:, :, 1:] = Jinv
    g[:, :, 0] = -Jinv.sum(axis=2)
    return vol, g


@per_mesh
def contact_slivers(mesh: Mesh) -> np.ndarray:
    """(M,) bool: cells whose 4 vertices all lie on one contact surface (kept per mesh, read-only).

    gmsh makes a few along curved needle surfaces. All their P1 DOFs carry the contact
    potential, so their discrete field is identically zero, although they touch the contact
    where the field is highest (splitting them does not help: a new vertex couples only to
    contact nodes and takes their potential too).
    """
    out = np.zeros(mesh.num_cells, dtype=bool)
    for facets in mesh.contact_facets.values():
        on = np.zeros(mesh.num_points, dtype=bool)
        on[facets.ravel()] = True
        out |= on[mesh.tets].all(axis=1)
    return out


def face_neighbours(mesh: Mesh, cells: np.ndarray) -> list[np.ndarray]:
    """For each cell in ``cells``, the other cells sharing a face (3 vertices) with it."""
    import scipy.sparse as sp
    M, N = mesh.num_cells, mesh.num_points
    inc = sp.csr_matrix((np.ones(4 * M), mesh.tets.ravel(), np.arange(0, 4 * M + 1, 4)), shape=(M, N))
    shared = (inc[cells] @ inc.T).tocsr()
    out = []
    for k, c in enumerate(cells):
        row = shared.getrow(k)
        nb = row.indices[row.data >= 3]
        out.append(nb[nb != c])
    return out


def boundary_facets(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """((F, 3) sorted node triples, (F, 3) unit outward normals) of the faces that belong to
    one tetrahedron only: the outer walls, the skin and every hole (electrodes)."""
    local = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])       # face opposite vertex k
    faces = mesh.tets[:, local].reshape(-1, 3)
    key = np.sort(faces, axis=1)
    _, first, count = np.unique(key, axis=0, return_index=True, return_counts=True)
    one = first[count == 1]
    tri = key[one]
    cell, opposite = np.divmod(one, 4)
    p = mesh.points
    a, b, c = p[tri[:, 0]], p[tri[:, 1]], p[tri[:, 2]]
    n = np.cross(b - a, c - a)
    n /= np.linalg.norm(n, axis=1)[:, None]
    inward = p[mesh.tets[cell, opposite]] - a
    n *= -np.sign(np.einsum("ij,ij->i", n, inward))[:, None]
    return tri, n


def skin_facets(mesh: Mesh, top: float = 0.0) -> np.ndarray:
    """(F, 3) the boundary triangles of the tissue's top (skin) surface: facing up (outward
    normal z > 0), on or above the skin plane z = ``top`` (m; a protruding nodule's dome is
    above it), and on no contact. The walls of needle holes face sideways and their tips lie
    below the plane; the block's sides face sideways and its bottom down [A]."""
    tri, n = boundary_facets(mesh)
    tol = 1e-9 * float(np.ptp(mesh.points, axis=0).max())
    up = (n[:, 2] > 1e-6) & (mesh.points[tri, 2].min(axis=1) >= top - tol)
    contact = [np.sort(f, axis=1) for f in mesh.contact_facets.values() if len(f)]
    if contact:
        rows = lambda t: np.ascontiguousarray(t, dtype=np.int64).view([("", np.int64)] * 3).ravel()  # noqa: E731
        up &= ~np.isin(rows(tri), rows(np.concatenate(contact)))
    return tri[up]


def facet_areas(points: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """(F,) areas (m^2) of triangles given by node triples."""
    a, b, c = points[tri[:, 0]], points[tri[:, 1]], points[tri[:, 2]]
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
