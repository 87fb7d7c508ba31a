"""Tissue from patient data, applied to the meshed block: the cells of the layer regions
take the material of the label-image voxel at their centroid, then of the innermost tissue
surface that holds their centroid. Non-conformal: an interface lies within a cell (and a
voxel) of where the data put it; tumours, electrodes and a label image's enclosed regions
(meshed as solids, :mod:`simulator.scenario.label_surfaces`) and its height-field layers
(:mod:`simulator.scenario.label_layers`) stay conformal and untouched."""
from __future__ import annotations

import dataclasses

import numpy as np

from simulator.meshing.mesh import Mesh


def relabel_layers(mesh: Mesh, tissue) -> Mesh:
    """The mesh with its layer cells re-assigned from ``tissue.image`` and
    ``tissue.surfaces`` (region order as :func:`simulator.meshing.geometry.region_names`)."""
    if tissue.image is None and not tissue.surfaces:
        return mesh
    n_base = len(tissue.layer_materials()) - len(tissue.surfaces)
    solid_ids = {n_base + i for i, s in enumerate(tissue.surfaces) if s.conformal}   # meshed as solids
    layer_ids = np.array([k for k, r in enumerate(mesh.regions) if r.kind == "layer" and k not in solid_ids])
    cells = np.flatnonzero(np.isin(mesh.cell_region, layer_ids))
    centroids = mesh.centroids()[cells]
    region = mesh.cell_region.copy()
    if tissue.image is not None and tissue.image.layers is None:     # height-field layers are solids
        labels = sorted(tissue.image.materials)
        lut = np.full(max(labels) - min(labels) + 1, -1, dtype=np.int32)
        lut[np.array(labels) - min(labels)] = np.arange(len(labels), dtype=np.int32)
        region[cells] = lut[tissue.image.label_at(centroids) - min(labels)]
    for i, s in enumerate(tissue.surfaces):
        if s.conformal:
            continue
        inside = s.surface.contains(centroids)
        region[cells[inside]] = n_base + i
    return dataclasses.replace(mesh, cell_region=region)
