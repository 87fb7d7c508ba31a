"""Second-order (curved) tetrahedra for ``[mesh] order = 2``, valid and deterministic.

gmsh's ``setOrder(2)`` puts the mid-edge node of every edge on a CAD surface onto that
surface (a needle's cylinder, a tumour's ellipsoid) and leaves the other mid-edge nodes at
their chords' midpoints. A cell next to a coarsely resolved needle can then fold (its
isoparametric map has a Jacobian <= 0 somewhere): with a mid-edge node displaced by more than
about a quarter of the cell's height towards the opposite side, the map turns inside out.

First the curving of the contact surfaces is carried into the volume (:func:`_blend`): the
nodes inside the volume near a needle move with the facet below them, fading out over
:data:`BLEND_LAYERS` facet sizes, so that the cells touching the needle bend with it instead
of being flattened by their bulging faces. Cells that would still fold are unfolded by taking
part of the curving back: the curved mid-edge nodes of every such cell move from their place
towards their chord midpoint in steps of :data:`STRAIGHTENING` (all of them at once, round
by round, so the result does not depend on any order), until no cell folds; a straight cell
is a valid linear tet, so this ends. Only the few edges of those cells lose part of their
curvature. gmsh's own high-order optimiser (``optimize("HighOrder")``) also unfolds them,
but its result depends on memory addresses: two runs on the same input differed by up to
2.5e-11 m (reproducible only with address-space randomisation off), and it took 31 / 59 /
80 s on the hexagonal example at contacts 0.35 / 0.5 / 0.7 mm, where this takes well under
a second (benchmarks/CHANGES.md, round 11). On the two-wire case (contact 0.4 / 0.28 / 0.2
mm) the P2 current is +0.542 / +0.228 / +0.087 % off the exact value, against +0.522 /
+0.219 / +0.084 % on gmsh's optimised meshes; with the straightening alone, +0.492 / +0.217
/ +0.084 %, but the hexagonal example's currents of symmetric pairs then differed by up to
0.6 % on its coarsest mesh, and the two-level error estimates fell to 0.2 x the error.
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from simulator.errors import GeometryError
from simulator.meshing.mesh import TET_EDGES

log = logging.getLogger(__name__)

TET10, TRI6 = 11, 9                            # gmsh's 10-node tetrahedron, 6-node triangle
BLEND_LAYERS = 2.0                             # [A] the curving fades over this many facet sizes
STRAIGHTENING = (0.75, 0.5, 0.25, 0.0)         # fractions of the surface displacement kept, in turn
MIN_SCALED_JACOBIAN = 0.05                     # gmsh's minSJ a curved cell must reach (0: folded)


def mid_edge_slots(gmsh) -> np.ndarray:
    """(6,) for each of gmsh's mid-edge nodes 4..9 of a 10-node tet, the index k of its edge
    in ``TET_EDGES``: read from the reference coordinates gmsh gives (each one is the midpoint
    of two reference vertices), not from a transcribed node-order table."""
    ref = np.asarray(gmsh.model.mesh.getElementProperties(TET10)[4], dtype=float).reshape(10, 3)
    verts = ref[:4]
    slots = []
    for x in ref[4:]:
        k = [e for e, (a, b) in enumerate(TET_EDGES) if np.allclose((verts[a] + verts[b]) / 2, x)]
        if len(k) != 1:
            raise GeometryError("mesh.order", f"unexpected 10-node tetrahedron layout from gmsh: {ref.tolist()}")
        slots.append(k[0])
    return np.array(slots)


def second_order(gmsh, say: Callable[[str], None], blend_from: tuple[int, ...] = ()) -> None:
    """Make the current gmsh mesh second order, curved on the CAD surfaces, with every cell's
    minimum scaled Jacobian >= :data:`MIN_SCALED_JACOBIAN` (module docstring). The surfaces
    ``blend_from`` (gmsh tags: the contacts) carry their curving into the cells next to
    them (:func:`_blend`) before any cell is checked."""
    say("meshing: second-order nodes")
    gmsh.model.mesh.setOrder(2)
    tags, node_tags = gmsh.model.mesh.getElementsByType(TET10)
    if not len(tags):
        return
    tags = np.asarray(tags)
    cells = np.asarray(node_tags, dtype=np.int64).reshape(-1, 10)
    all_tags, xyz, _ = gmsh.model.mesh.getNodes()
    X = np.zeros((int(np.max(all_tags)) + 1, 3))
    X[np.asarray(all_tags, dtype=np.int64)] = np.asarray(xyz).reshape(-1, 3)
    if blend_from:
        _blend(gmsh, blend_from, X)
    quality = _qualities(gmsh, tags)
    if quality.min() >= MIN_SCALED_JACOBIAN:
        return
    # each mid-edge node's chord midpoint and its displacement onto the surface
    slots = mid_edge_slots(gmsh)
    ends = np.array([TET_EDGES[k] for k in slots])               # (6, 2) local vertices
    mid_nodes = cells[:, 4:]
    chord = 0.5 * (X[cells[:, ends[:, 0]]] + X[cells[:, ends[:, 1]]])   # (M, 6, 3)
    shift = X[mid_nodes] - chord
    curved = np.linalg.norm(shift, axis=2) > 1e-9 * np.linalg.norm(chord, axis=2).max()
    last = len(STRAIGHTENING) - 1
    step = np.full(len(X), -1, dtype=np.int8)                    # node tag -> steps taken back
    low = np.flatnonzero(quality < MIN_SCALED_JACOBIAN)
    first, rounds = len(low), 0
    while len(low):
        movable = curved[low] & (step[mid_nodes[low]] < last)    # (K, 6) nodes that can still move
        stuck = low[~movable.any(axis=1) & (quality[low] <= 0)]
        if len(stuck):                   # folded with its edges straight: not from a valid linear mesh
            raise GeometryError("mesh.order", f"{len(stuck)} second-order cells stay folded (minimum scaled "
                                f"Jacobian {quality[stuck].min():.3g}) with their edges straight: "
                                "use mesh.order = 1")
        rows = movable.any(axis=1)       # a poor but valid straight cell (a sliver) is left as it is
        if not rows.any():
            break
        rounds += 1
        cells_of, slots_of = np.nonzero(movable[rows])
        nodes, where = np.unique(mid_nodes[low[rows]][cells_of, slots_of], return_index=True)
        cell_of, slot_of = low[rows][cells_of[where]], slots_of[where]
        step[nodes] += 1
        for n, c, j in zip(nodes.tolist(), cell_of.tolist(), slot_of.tolist()):
            p = chord[c, j] + STRAIGHTENING[step[n]] * shift[c, j]
            gmsh.model.mesh.setNode(n, p.tolist(), [])
        touched = np.flatnonzero(np.isin(mid_nodes, nodes).any(axis=1))
        quality[touched] = _qualities(gmsh, tags[touched])
        low = np.flatnonzero(quality < MIN_SCALED_JACOBIAN)
    log.debug("%d curved cells below a scaled Jacobian of %g: %d mid-edge nodes moved towards their chords "
              "in %d rounds", first, MIN_SCALED_JACOBIAN, int((step >= 0).sum()), rounds)


def _blend(gmsh, surfaces: tuple[int, ...], X: np.ndarray) -> None:
    """Carry the curving of the given surfaces into the volume: every node inside the volume
    (vertex or mid-edge node, not on any CAD entity) within BLEND_LAYERS facet sizes of one
    of their facets moves by that facet's displacement at its foot point (the quadratic
    through the facet's mid-edge shifts, zero at its vertices), times (1 - s)^2 at s =
    distance / (BLEND_LAYERS x the facet's longest edge). The polygonal needle is so mapped
    smoothly onto the cylinder (a transfinite blend, as in Gordon-Hall / Lenoir curving),
    and the cells next to it are not flattened by their bulging faces. ``X`` (node tag ->
    coordinates, m) is updated with gmsh's nodes."""
    from scipy.spatial import cKDTree
    tri = []
    for surface in surfaces:
        types, _, nodes = gmsh.model.mesh.getElements(2, surface)
        tri += [np.asarray(n, dtype=np.int64).reshape(-1, 6) for t, n in zip(types, nodes) if t == TRI6]
    if not tri:
        return
    T = np.concatenate(tri)
    V = X[T[:, :3]]                                               # (F, 3, 3) facet vertices
    shift = X[T[:, 3:]] - 0.5 * (V + V[:, [1, 2, 0]])             # mid-edge nodes 01, 12, 20
    if not np.any(shift):
        return
    edge = np.linalg.norm(V - V[:, [1, 2, 0]], axis=2).max(axis=1)
    band = BLEND_LAYERS * edge
    inner, xyz, _ = gmsh.model.mesh.getNodes(3, -1, False, False)
    inner = np.asarray(inner, dtype=np.int64)
    P = np.asarray(xyz).reshape(-1, 3)
    dist, f = cKDTree(V.mean(axis=1)).query(P, distance_upper_bound=float(band.max() + edge.max()))
    near = np.flatnonzero(np.isfinite(dist))
    if not len(near):
        return
    f, x = f[near], P[near]
    a, b, c = V[f, 0], V[f, 1], V[f, 2]
    # barycentric coordinates of the foot point in the facet's plane, clamped into the facet
    e1, e2, r = b - a, c - a, x - a
    d11, d12, d22 = (e1 * e1).sum(1), (e1 * e2).sum(1), (e2 * e2).sum(1)
    r1, r2 = (r * e1).sum(1), (r * e2).sum(1)
    det = d11 * d22 - d12 * d12
    l1, l2 = (d22 * r1 - d12 * r2) / det, (d11 * r2 - d12 * r1) / det
    lam = np.clip(np.stack([1.0 - l1 - l2, l1, l2], axis=1), 0.0, None)
    lam /= lam.sum(axis=1, keepdims=True)
    foot = (lam[:, :, None] * V[f]).sum(axis=1)
    s = np.linalg.norm(x - foot, axis=1) / band[f]
    weight = np.clip(1.0 - s, 0.0, None) ** 2
    moved = weight > 0
    disp = 4.0 * (lam[:, 0, None] * lam[:, 1, None] * shift[f, 0] + lam[:, 1, None] * lam[:, 2, None] * shift[f, 1]
                  + lam[:, 2, None] * lam[:, 0, None] * shift[f, 2])
    new = x + weight[:, None] * disp
    for tag, p in zip(inner[near][moved].tolist(), new[moved].tolist()):
        gmsh.model.mesh.setNode(tag, p, [])
    X[inner[near][moved]] = new[moved]
    log.debug("curving blended into %d inner nodes from %d facets", int(moved.sum()), len(T))


def _qualities(gmsh, tags: np.ndarray) -> np.ndarray:
    """gmsh's minimum scaled Jacobian of the given 10-node tets."""
    return np.asarray(gmsh.model.mesh.getElementQualities(tags.tolist(), "minSJ"), dtype=float)
