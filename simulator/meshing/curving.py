"""Second-order (curved) tetrahedra for ``[mesh] order = 2``, valid and deterministic.

gmsh's ``setOrder(2)`` puts the mid-edge node of every edge on a CAD surface onto that
surface (a needle's cylinder, a tumour's ellipsoid) and leaves the other mid-edge nodes at
their chords' midpoints. A cell next to a coarsely resolved needle can then fold (its
isoparametric map has a Jacobian <= 0 somewhere): with a mid-edge node displaced by more than
about a quarter of the cell's height towards the opposite side, the map turns inside out.

Folded cells are unfolded by taking part of the curving back: the curved mid-edge nodes of
every folded cell move from the surface towards their chord midpoint in steps of
:data:`STRAIGHTENING` (all of them at once, round by round, so the result does not depend on
any order), until no cell folds; a straight cell is a valid linear tet, so this ends. Only
the few edges of folded cells lose part of their curvature; every other boundary edge stays
on the surface. gmsh's own high-order optimiser (``optimize("HighOrder")``) also unfolds
them, but its result depends on memory addresses: two runs on the same input differed by
up to 2.5e-11 m (reproducible only with address-space randomisation off), and it took
31 / 59 / 80 s on the hexagonal example at contacts 0.35 / 0.5 / 0.7 mm, where this takes
well under a second (benchmarks/CHANGES.md, round 11).
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from simulator.errors import GeometryError
from simulator.meshing.mesh import TET_EDGES

log = logging.getLogger(__name__)

TET10 = 11                                     # gmsh's 10-node tetrahedron
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


def second_order(gmsh, say: Callable[[str], None]) -> None:
    """Make the current gmsh mesh second order, curved on the CAD surfaces, with every cell's
    minimum scaled Jacobian >= :data:`MIN_SCALED_JACOBIAN` (module docstring)."""
    say("meshing: second-order nodes")
    gmsh.model.mesh.setOrder(2)
    tags, node_tags = gmsh.model.mesh.getElementsByType(TET10)
    if not len(tags):
        return
    tags = np.asarray(tags)
    cells = np.asarray(node_tags, dtype=np.int64).reshape(-1, 10)
    quality = _qualities(gmsh, tags)
    if quality.min() >= MIN_SCALED_JACOBIAN:
        return
    all_tags, xyz, _ = gmsh.model.mesh.getNodes()
    X = np.zeros((int(np.max(all_tags)) + 1, 3))
    X[np.asarray(all_tags, dtype=np.int64)] = np.asarray(xyz).reshape(-1, 3)
    # each mid-edge node's chord midpoint and its displacement onto the surface
    slots = mid_edge_slots(gmsh)
    ends = np.array([TET_EDGES[k] for k in slots])               # (6, 2) local vertices
    mid_nodes = cells[:, 4:]
    chord = 0.5 * (X[cells[:, ends[:, 0]]] + X[cells[:, ends[:, 1]]])   # (M, 6, 3)
    shift = X[mid_nodes] - chord
    curved = np.linalg.norm(shift, axis=2) > 1e-9 * np.linalg.norm(chord, axis=2).max()
    kept = {}                                                     # node tag -> step index
    bad = np.flatnonzero(quality < MIN_SCALED_JACOBIAN)
    first = len(bad)
    rounds = 0
    while len(bad):
        rounds += 1
        sel = curved[bad]
        if not sel.any() or all(kept.get(int(n), -1) == len(STRAIGHTENING) - 1 for n in mid_nodes[bad][sel]):
            raise GeometryError("mesh.order", f"{len(bad)} second-order cells stay invalid (minimum scaled "
                                f"Jacobian {quality[bad].min():.3g}) with their edges straight: "
                                "use mesh.order = 1")
        nodes, where = np.unique(mid_nodes[bad][sel], return_index=True)
        cell_of = bad[np.nonzero(sel)[0][where]]
        slot_of = np.nonzero(sel)[1][where]
        for n, c, j in zip(nodes.tolist(), cell_of.tolist(), slot_of.tolist()):
            step = min(kept.get(n, -1) + 1, len(STRAIGHTENING) - 1)
            kept[n] = step
            p = chord[c, j] + STRAIGHTENING[step] * shift[c, j]
            gmsh.model.mesh.setNode(n, p.tolist(), [])
        touched = np.flatnonzero(np.isin(mid_nodes, nodes).any(axis=1))
        quality[touched] = _qualities(gmsh, tags[touched])
        bad = np.flatnonzero(quality < MIN_SCALED_JACOBIAN)
    log.debug("%d curved cells below a scaled Jacobian of %g: %d mid-edge nodes moved towards their chords "
              "in %d rounds", first, MIN_SCALED_JACOBIAN, len(kept), rounds)


def _qualities(gmsh, tags: np.ndarray) -> np.ndarray:
    """gmsh's minimum scaled Jacobian of the given 10-node tets."""
    return np.asarray(gmsh.model.mesh.getElementQualities(tags.tolist(), "minSJ"), dtype=float)
