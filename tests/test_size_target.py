"""Local refinement (issue 11): a size map from a solved level, handed to gmsh as a
PostView background field, refines only where it asks, and is part of the mesh cache key."""
from dataclasses import replace

import numpy as np

from simulator.meshing.build import build_mesh
from simulator.meshing.cache import mesh_key
from simulator.meshing.inputs import mesh_input
from simulator.post.above import RecoveredField
from simulator.post.size_target import flagged_cells, size_map
from simulator.scenario import scenario_from_dict
from simulator.solve.pipeline import run

GEL = {"sigma0_S_per_m": 0.2, "sigma1_S_per_m": 0.2, "E_rev_V_per_cm": 250, "E_irr_V_per_cm": 800,
       "conductivity_model": "constant"}


def slab():
    return scenario_from_dict({
        "name": "size-map", "tissue": {"size_mm": [30, 30, 2], "layers": [{"material": "gel"}]},
        "electrode": {"type": "needle-pair", "spacing_mm": 4.0, "needle_diameter_mm": 0.7, "insertion_depth_mm": 5.0},
        "protocol": {"voltage_V": 100.0, "pulses": 1}, "materials": {"gel": GEL},
        "mesh": {"accuracy": 0, "size_mm": 1.5, "far_size_mm": 6.0}})


def test_size_map_refines_where_flagged_and_keys_the_cache():
    sc = slab()
    res = run(sc)
    field = RecoveredField(res.mesh, res.train.E_max, res.train.weights)
    flag = flagged_cells(res.mesh, field, [res.E_rev, res.E_irr])
    # flagged: every cell on a needle, and the cells cut by the E_rev iso-surface
    on_needle = np.isin(res.mesh.tets, np.concatenate([f.ravel() for f in res.mesh.contact_facets.values()])).any(1)
    c = field.corners(np.arange(res.mesh.num_cells))
    cut = (c.min(1) < res.E_rev) & (c.max(1) >= res.E_rev)
    assert cut.any() and np.array_equal(flag, on_needle | cut)
    sm = size_map(res.mesh, field, [res.E_rev, res.E_irr], 0.5)
    fine = replace(sc, mesh=replace(sc.mesh, size_map=sm))
    assert mesh_key(fine) != mesh_key(sc) and mesh_input(fine).size_map is sm
    again = size_map(res.mesh, field, [res.E_rev, res.E_irr], 0.5)
    assert mesh_key(replace(sc, mesh=replace(sc.mesh, size_map=again))) == mesh_key(fine)   # same arrays, same key
    m0, m1 = res.mesh, build_mesh(fine)

    def cells_near(m, r):           # cells with centroid within r of a needle axis
        cen = m.centroids()
        d = np.minimum(np.hypot(cen[:, 0] - 2e-3, cen[:, 1]), np.hypot(cen[:, 0] + 2e-3, cen[:, 1]))
        return np.count_nonzero(d < r), np.count_nonzero(d > 6e-3)
    (n0, far0), (n1, far1) = cells_near(m0, 0.8e-3), cells_near(m1, 0.8e-3)
    print(f"cells within 0.8 mm of a needle {n0} -> {n1}; beyond 6 mm {far0} -> {far1}")
    assert n1 > 2.5 * n0                    # the sizes halved near the needles: ~4x (a 2 mm slab: 2-3 D)
    assert far1 < 1.3 * far0                # far away (unflagged): the scenario's sizes
