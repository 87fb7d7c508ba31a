"""Small gmsh (OpenCASCADE) geometries for engine tests, converted to the Mesh record.

* :func:`plates_mesh`: a box [0, d] x [0, Ly] x [0, Lz]; faces x = 0 / x = d are contacts
  "A" / "B" (uniform field V/d, current sigma Ly Lz V/d).
* :func:`needles_mesh`: a disc-shaped slab (radius R, height H) pierced by parallel
  needles (cylinders along z through the slab) whose surfaces are contacts; with two
  needles at x = -+s/2 of radius a the current is H pi sigma V / arccosh(s / (2a)) up to
  the truncation at R (relative effect ~ 2 (c/R)^2 / arccosh(s/2a), c^2 = s^2/4 - a^2).
Lengths in metres.
"""
from __future__ import annotations

import numpy as np

from simulator.meshing.mesh import Mesh, Region


def _gmsh_init():
    import gmsh
    if gmsh.isInitialized():
        gmsh.finalize()
    gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.option.setNumber("General.NumThreads", 1)
    gmsh.option.setNumber("Mesh.Algorithm3D", 1)
    gmsh.option.setNumber("Mesh.RandomSeed", 1)
    gmsh.model.add("fixture")
    return gmsh


def gmsh_model_to_mesh() -> Mesh:
    """The current gmsh model (volume groups = regions, surface groups = contacts)."""
    import gmsh
    tags, coords, _ = gmsh.model.mesh.getNodes()
    coords = coords.reshape(-1, 3)
    index = np.full(int(tags.max()) + 1, -1, dtype=np.int64)
    index[tags.astype(np.int64)] = np.arange(tags.size)
    tets, cell_region, regions = [], [], []
    for dim, ptag in gmsh.model.getPhysicalGroups(3):
        name = gmsh.model.getPhysicalName(dim, ptag)
        for ent in gmsh.model.getEntitiesForPhysicalGroup(dim, ptag):
            etypes, _, enodes = gmsh.model.mesh.getElements(3, ent)
            for et, en in zip(etypes, enodes):
                assert et == 4, "linear tetrahedra only"
                t = index[en.astype(np.int64)].reshape(-1, 4)
                tets.append(t)
                cell_region.append(np.full(len(t), len(regions), dtype=np.int32))
        regions.append(Region(name=name, kind="layer", material=name, index=len(regions)))
    tets = np.concatenate(tets)
    cell_region = np.concatenate(cell_region)
    contacts = {}
    for dim, ptag in gmsh.model.getPhysicalGroups(2):
        name = gmsh.model.getPhysicalName(dim, ptag)
        tri = []
        for ent in gmsh.model.getEntitiesForPhysicalGroup(dim, ptag):
            etypes, _, enodes = gmsh.model.mesh.getElements(2, ent)
            for et, en in zip(etypes, enodes):
                assert et == 2
                tri.append(index[en.astype(np.int64)].reshape(-1, 3))
        contacts[name] = np.concatenate(tri)
    # keep the nodes of the tetrahedra only, renumbered
    used = np.unique(tets)
    renum = np.full(coords.shape[0], -1, dtype=np.int64)
    renum[used] = np.arange(used.size)
    points = coords[used]
    tets = renum[tets]
    contacts = {k: renum[v] for k, v in contacts.items()}
    # positive orientation
    p = points[tets]
    det = np.linalg.det(p[:, 1:] - p[:, :1])
    neg = det < 0
    tets[neg] = tets[neg][:, [0, 2, 1, 3]]
    return Mesh(points=points, tets=tets, cell_region=cell_region, regions=tuple(regions),
                contact_facets=contacts)


def plates_mesh(d=0.01, Ly=0.006, Lz=0.004, h=0.0015) -> Mesh:
    gmsh = _gmsh_init()
    try:
        occ = gmsh.model.occ
        box = occ.addBox(0, 0, 0, d, Ly, Lz)
        occ.synchronize()
        faces = gmsh.model.getBoundary([(3, box)], oriented=False)
        xa, xb = [], []
        for dim, tag in faces:
            c = occ.getCenterOfMass(dim, tag)
            if abs(c[0]) < 1e-9:
                xa.append(tag)
            elif abs(c[0] - d) < 1e-9:
                xb.append(tag)
        gmsh.model.setPhysicalName(3, gmsh.model.addPhysicalGroup(3, [box]), "tissue")
        gmsh.model.setPhysicalName(2, gmsh.model.addPhysicalGroup(2, xa), "A")
        gmsh.model.setPhysicalName(2, gmsh.model.addPhysicalGroup(2, xb), "B")
        gmsh.option.setNumber("Mesh.MeshSizeMax", h)
        gmsh.option.setNumber("Mesh.MeshSizeMin", h)
        gmsh.model.mesh.generate(3)
        return gmsh_model_to_mesh()
    finally:
        gmsh.finalize()


def needles_mesh(needles, R=0.1, H=0.001, h=2e-4, grow_length=1e-3, cap=15.0) -> Mesh:
    """needles: list of (name, x, y, radius). Slab z in [0, H], disc of radius R.

    Element size h (1 + dist / grow_length), at most cap * h: halving h halves it everywhere.
    """
    gmsh = _gmsh_init()
    try:
        occ = gmsh.model.occ
        disc = occ.addCylinder(0, 0, 0, 0, 0, H, R)
        tools = [occ.addCylinder(x, y, -H, 0, 0, 3 * H, r) for _, x, y, r in needles]
        out, _ = occ.cut([(3, disc)], [(3, t) for t in tools])
        occ.synchronize()
        vol = [t for d, t in out if d == 3]
        faces = gmsh.model.getBoundary([(3, v) for v in vol], oriented=False)
        groups = {name: [] for name, *_ in needles}
        for dim, tag in faces:
            x0, y0, z0, x1, y1, z1 = gmsh.model.getBoundingBox(dim, tag)
            for name, x, y, r in needles:   # the lateral surface of that needle
                if (abs(x0 - (x - r)) < 1e-3 * r and abs(x1 - (x + r)) < 1e-3 * r
                        and abs(y0 - (y - r)) < 1e-3 * r and abs(y1 - (y + r)) < 1e-3 * r):
                    groups[name].append(tag)
        gmsh.model.setPhysicalName(3, gmsh.model.addPhysicalGroup(3, vol), "tissue")
        for name, tags in groups.items():
            assert tags, name
            gmsh.model.setPhysicalName(2, gmsh.model.addPhysicalGroup(2, tags), name)
        all_tags = [t for tags in groups.values() for t in tags]
        f = gmsh.model.mesh.field
        fd = f.add("Distance")
        f.setNumbers(fd, "SurfacesList", all_tags)
        ft = f.add("MathEval")
        f.setString(ft, "F", f"{h} * Min(1 + F{fd} / {grow_length}, {cap})")
        f.setAsBackgroundMesh(ft)
        gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        gmsh.model.mesh.generate(3)
        return gmsh_model_to_mesh()
    finally:
        gmsh.finalize()
