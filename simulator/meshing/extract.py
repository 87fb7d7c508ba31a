"""gmsh's arrays -> the engine-neutral :class:`~simulator.meshing.mesh.Mesh` (nodes
renumbered, tetrahedra positively oriented, contact facets by name, nodes and cells in a
spatially local order; for second-order meshes the mid-edge node of every edge).
"""
from __future__ import annotations
import numpy as np
from simulator.errors import GeometryError
from simulator.meshing.mesh import Mesh, Region, edge_table
from simulator.meshing.model import OccModel
from simulator.meshing.model import S
from simulator.meshing.curving import TET10, mid_edge_slots


def _signed6(points: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """Six times the signed volume of each tetrahedron."""
    p0 = points[tets[:, 0]]
    a, b, c = (points[tets[:, k]] - p0 for k in (1, 2, 3))
    return (a[:, 0] * (b[:, 1] * c[:, 2] - b[:, 2] * c[:, 1]) - a[:, 1] * (b[:, 0] * c[:, 2] - b[:, 2] * c[:, 0])
            + a[:, 2] * (b[:, 0] * c[:, 1] - b[:, 1] * c[:, 0]))


_BLOCK = 1 << 17     # cells per block (bounds the temporaries of the orientation check)
TET4, TRI3, TRI6 = 4, 2, 9                  # gmsh element types (TET10: curving)


def _morton_keys(points: np.ndarray) -> np.ndarray:
    """(N,) uint64 Morton (Z-order) keys of the points: 21 bits per axis over the bounding
    cube, interleaved (the standard bit-spreading masks)."""
    lo = points.min(axis=0)
    span = max(float((points.max(axis=0) - lo).max()), 1e-300)
    key = np.zeros(len(points), dtype=np.uint64)
    for axis in range(3):
        x = ((points[:, axis] - lo[axis]) * ((2**21 - 1) / span)).astype(np.uint64)
        for shift, mask in ((32, 0x1F00000000FFFF), (16, 0x1F0000FF0000FF), (8, 0x100F00F00F00F00F),
                            (4, 0x10C30C30C30C30C3), (2, 0x1249249249249249)):
            x = (x | (x << np.uint64(shift))) & np.uint64(mask)
        key |= x << np.uint64(axis)
    return key


def _local_order(points: np.ndarray, tets: np.ndarray, cell_region: np.ndarray):
    """Nodes in Morton order of their coordinates, cells by their lowest new node (stable).

    gmsh's node tags and element order are far from local (needle pair at 1e5 DOFs: median
    spread of the node indices within one cell 27,686 of 106,447); in this order 110, and
    the solver's per-cell loops (gathers of nodal values, scatters onto edges) run 25-35 %
    faster there (benchmarks/CHANGES.md, issue 11). Same mesh, only renumbered.
    Returns (points, tets, cell_region, node map old -> new)."""
    order = np.argsort(_morton_keys(points), kind="stable")
    new = np.empty(len(points), dtype=tets.dtype)
    new[order] = np.arange(len(points), dtype=tets.dtype)
    for a in range(0, len(tets), _BLOCK):                      # in place, per block
        tets[a:a + _BLOCK] = new[tets[a:a + _BLOCK]]
    cells = np.argsort(tets.min(axis=1), kind="stable")
    return points[order], tets[cells], cell_region[cells], new


def extract_mesh(gmsh, regions: list[Region], model: OccModel) -> Mesh:
    """The Mesh from gmsh's arrays: only the nodes of tetrahedra, positively oriented tets
    (int32 while the node count allows), nodes and cells in a local order (`_local_order`).

    Memory: gmsh still holds its own mesh here, so every tet block is mapped to int32 node
    ranks as soon as gmsh hands it over (its uint64 copy dropped), and the orientation is
    checked in blocks; no (M, 4) int64 copies, no (M, 3) float temporaries."""
    node_tags, coords, _ = gmsh.model.mesh.getNodes()
    node_tags = np.asarray(node_tags, dtype=np.int64)
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
    n_all = len(node_tags)
    it = np.int32 if n_all < 2**31 - 1 else np.int64
    top = int(node_tags.max()) + 1 if n_all else 1
    order = np.argsort(node_tags, kind="stable")               # positions in sorted tag order
    rank = np.full(top, -1, dtype=it)                            # gmsh tag -> rank among all tags
    rank[node_tags[order]] = np.arange(n_all, dtype=it)
    del node_tags
    tet_blocks, reg_blocks, mid_blocks = [], [], []
    for r, vols in enumerate(model.region_volumes):
        for v in vols:
            types, _, nodes = gmsh.model.mesh.getElements(3, v)
            for etype in types:
                if etype not in (TET4, TET10):
                    raise GeometryError("mesh", f"unexpected element type {etype} in volume {v}")
            while nodes:
                etype = types[len(types) - len(nodes)]
                en = np.asarray(nodes.pop(0)).reshape(-1, 4 if etype == TET4 else 10)
                tet_blocks.append(rank[en[:, :4]])
                if etype == TET10:
                    mid_blocks.append(rank[en[:, 4:]])              # ranks among all nodes
                del en
                reg_blocks.append(np.full(len(tet_blocks[-1]), r, dtype=np.int32))
    if not tet_blocks:
        raise GeometryError("tissue", "the mesh has no tetrahedra")
    tets = np.concatenate(tet_blocks) if len(tet_blocks) > 1 else tet_blocks[0]
    del tet_blocks
    cell_region = np.concatenate(reg_blocks)
    mask = np.zeros(n_all, dtype=bool)
    mask[tets] = True
    used = np.flatnonzero(mask)                                # ranks = sorted gmsh tags
    del mask
    points = coords[order[used]] / S
    mids = None
    if mid_blocks:
        mids = np.concatenate(mid_blocks)                      # (M, 6) gmsh mid-edge nodes
        del mid_blocks
        if len(mids) != len(tets):
            raise GeometryError("mesh", "a mesh mixes 4-node and 10-node tetrahedra")
        mid_xyz = coords[order[mids]] / S                      # (M, 6, 3)
    del coords, order
    if len(used) < n_all:                                      # nodes of no tetrahedron: drop
        renum = np.full(n_all + 1, -1, dtype=it)               # [-1] maps unknown tags to -1
        renum[used] = np.arange(len(used), dtype=it)
        tets = renum[tets]
        rank = renum[rank]
        del renum
    del used
    edges = edge_points = None
    if mids is not None:
        # the cell -> edge map of the unswapped tets (the edge set does not depend on orientation)
        edges, cell_edges = edge_table(tets, len(points))
        edge_points = np.empty((len(edges), 3))
        edge_node = np.empty(len(edges), dtype=np.int64)
        slots = mid_edge_slots(gmsh)
        for j, k in enumerate(slots):
            edge_points[cell_edges[:, k]] = mid_xyz[:, j]
            edge_node[cell_edges[:, k]] = mids[:, j]
        if any((edge_node[cell_edges[:, k]] != mids[:, j]).any() for j, k in enumerate(slots)):
            raise GeometryError("mesh", "gmsh gave one edge two different mid-edge nodes")
        del mids, mid_xyz, cell_edges, edge_node
    for a in range(0, len(tets), _BLOCK):
        blk = tets[a:a + _BLOCK]                               # a view: swapped in place
        neg = np.flatnonzero(_signed6(points, blk) < 0)
        blk[neg, 2], blk[neg, 3] = blk[neg, 3], blk[neg, 2].copy()
    points, tets, cell_region, new = _local_order(points, tets, cell_region)
    rank = np.where(rank >= 0, new[np.maximum(rank, 0)], -1).astype(it, copy=False)
    if edges is not None:           # the same edges in the new numbering, in edge_table's order
        n = np.int64(len(points))
        renamed = np.sort(new[edges].astype(np.int64), axis=1)
        edges, _ = edge_table(tets, len(points))
        old_keys = renamed[:, 0] * n + renamed[:, 1]
        by_key = np.argsort(old_keys)
        edge_points = edge_points[by_key[np.searchsorted(old_keys[by_key], edges[:, 0] * n + edges[:, 1])]]
    del new
    facets: dict[str, np.ndarray] = {}
    for name, surfaces in model.contact_surfaces.items():
        blocks = []
        for s in surfaces:
            types, _, nodes = gmsh.model.mesh.getElements(2, s)
            for etype, en in zip(types, nodes):
                if etype in (TRI3, TRI6):                     # vertices first, then mid-edge nodes
                    en = np.asarray(en, dtype=np.int64).reshape(-1, 3 if etype == TRI3 else 6)[:, :3]
                    blocks.append(rank[en].astype(np.int64))
        f = np.concatenate(blocks) if blocks else np.zeros((0, 3), dtype=np.int64)
        if (f < 0).any():
            raise GeometryError("electrode", f"contact {name!r} has nodes not attached to the tissue mesh")
        facets[name] = f
    return Mesh(points, tets, cell_region, tuple(regions), facets, edges, edge_points)
