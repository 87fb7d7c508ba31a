"""Repairs of the per-cell field where the discretisation is known to fail."""
from __future__ import annotations

import numpy as np

from simulator.meshing.mesh import Mesh, contact_slivers, face_neighbours


def recover_sliver_fields(mesh: Mesh, E_max: np.ndarray, *per_cell: np.ndarray) -> int:
    """Give cells with all vertices on one contact (zero discrete field, see
    :func:`simulator.meshing.mesh.contact_slivers`) the max field and pulse counts of their face
    neighbours. Their volume is tiny (~1e-3 mm^3 each), but left at E = 0 they would show as
    uncovered tissue next to the needle. ``E_max`` (M, Q) V/m chooses the neighbour; it and
    every array of ``per_cell`` (M, Q) are updated in place. Returns how many cells were
    recovered."""
    good = ~contact_slivers(mesh)
    bad = np.flatnonzero(~good)
    for c, nb in zip(bad, face_neighbours(mesh, bad)):
        nb = nb[good[nb]]
        if nb.size == 0:
            continue
        j = nb[np.argmax(E_max[nb].max(axis=1))]
        for arr in (E_max, *per_cell):
            arr[c] = arr[j].max()
    return int(bad.size)
