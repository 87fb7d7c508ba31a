"""P1 assembly of the Pennes heat operator on the engine-neutral mesh (physics.bioheat)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from simulator.meshing.mesh import Mesh, tet_geometry
from simulator.physics.bioheat import HeatOperator, nodal_load


def assemble_heat(mesh: Mesh, conductivity: np.ndarray, rho_c: np.ndarray, perfusion: np.ndarray
                  ) -> HeatOperator:
    """P1 Pennes operator: conductivity k (M,) W/(m K), rho c (M,) J/(m^3 K), perfusion
    rho_b c_b w_b (M,) W/(m^3 K), all per cell."""
    tets = mesh.tets
    n = mesh.num_points
    vol, g = tet_geometry(mesh.points, tets)
    local = np.einsum("mki,mkj->mij", g, g) * (vol * conductivity)[:, None, None]     # (M, 4, 4)
    rows = np.repeat(tets, 4, axis=1).ravel()
    cols = np.tile(tets, (1, 4)).ravel()
    K = sp.csr_matrix((local.ravel(), (rows, cols)), shape=(n, n))
    K.sum_duplicates()
    return HeatOperator(tets, vol, nodal_load(tets, vol, np.broadcast_to(rho_c, vol.shape), n),
                        nodal_load(tets, vol, np.broadcast_to(perfusion, vol.shape), n), K)
