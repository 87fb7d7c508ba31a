"""Where the next mesh must be finer: a target element size at each vertex of this mesh.

The headline figures' discretisation error sits where the field is near-singular or where
a figure is decided (issue 11): at the contact surfaces (the current, the 1/r field), on the
iso-surfaces of the thresholds that bound the reversible and irreversible zones (the
volumes, the coverage), and at the tumour boundary (the coverage fractions). A cell is
*flagged* when

- a vertex lies on a contact surface, or
- the recovered field (:mod:`simulator.post.above`) crosses, inside the cell, its tissue's
  E_rev or E_irr or a tumour's E_rev (the margin is judged at it), or
- a vertex is shared by a tumour cell and a cell outside that tumour,

and then its neighbours through a vertex (``LAYERS`` times: an iso-surface moves a little
from one level to the next). The target size at a vertex is the local cell size (the edge
length of the cells around it) times ``step`` if the vertex is in a
flagged cell; elsewhere the map asks for nothing and the scenario's size field (x the refinement
loop's bulk factor, >= step) decides.
"""
from __future__ import annotations

import hashlib

import numpy as np

from simulator.meshing.mesh import Mesh
from simulator.post.above import RecoveredField
from simulator.scenario.records import SizeMap

UNFLAGGED = 100.0   # x the largest local size: what an unflagged vertex asks for (nothing)
LAYERS = 0          # [A] vertex-neighbour layers added around the flagged cells (1 flags 93 % of
#                     the needle-pair example's cells, 2 flag 99 %: the mesh is graded there already)


def flagged_cells(mesh: Mesh, field: RecoveredField, thresholds: list[np.ndarray | float]) -> np.ndarray:
    """(M,) bool: the cells where the error of a headline figure sits (module docstring);
    ``thresholds``: V/m, each a scalar or per cell."""
    M, N = mesh.num_cells, mesh.num_points
    flag = np.zeros(M, dtype=bool)
    on_contact = np.zeros(N, dtype=bool)
    for facets in mesh.contact_facets.values():
        on_contact[np.asarray(facets).ravel()] = True
    block = 1 << 17
    for a in range(0, M, block):
        cells = slice(a, a + block)
        c = field.corners(cells)
        lo, hi = c.min(axis=1), c.max(axis=1)
        f = on_contact[mesh.tets[cells]].any(axis=1)
        for th in thresholds:
            t = th[cells] if np.ndim(th) else th
            f |= (lo < t) & (hi >= t)
        flag[cells] = f
    tumour_regions = [k for k, r in enumerate(mesh.regions) if r.kind == "tumour"]
    for k in tumour_regions:
        inside = mesh.cell_region == k
        v_in = np.zeros(N, dtype=bool)
        v_out = np.zeros(N, dtype=bool)
        v_in[mesh.tets[inside].ravel()] = True
        v_out[mesh.tets[~inside].ravel()] = True
        flag |= (v_in & v_out)[mesh.tets].any(axis=1)
    for _ in range(LAYERS):
        v = np.zeros(N, dtype=bool)
        v[mesh.tets[flag].ravel()] = True
        flag = v[mesh.tets].any(axis=1)
    return flag


def size_map(mesh: Mesh, field: RecoveredField, thresholds: list, step: float) -> SizeMap:
    """The target sizes (m) at the vertices of ``mesh`` (module docstring)."""
    h_cell = np.zeros(mesh.num_cells)                            # mean edge length of each cell
    for i, j in ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)):
        h_cell += np.linalg.norm(mesh.points[mesh.tets[:, i]] - mesh.points[mesh.tets[:, j]], axis=1) / 6.0
    keys = mesh.tets.ravel()
    count = np.bincount(keys, minlength=mesh.num_points)
    h_node = np.bincount(keys, weights=np.repeat(h_cell, 4), minlength=mesh.num_points) / np.maximum(count, 1)
    flag = flagged_cells(mesh, field, thresholds)
    near = np.zeros(mesh.num_points, dtype=bool)
    near[mesh.tets[flag].ravel()] = True
    # unflagged vertices ask for nothing (a size far above any): the scenario's size field,
    # x the loop's bulk factor, rules there (a mean edge length on a graded mesh is below it)
    size = np.where(near, step * h_node, UNFLAGGED * h_node.max())
    digest = hashlib.sha256()
    for arr in (mesh.points, mesh.tets, size):
        digest.update(np.ascontiguousarray(arr).tobytes())
    return SizeMap(mesh.points, mesh.tets, size, digest.hexdigest())
