"""Small gmsh (OpenCASCADE) geometries for engine tests, converted to the Mesh record.

* :func:`plates_mesh`: a box [0, d] x [0, Ly] x [0, Lz]; faces x = 0 / x = d are contacts
  "A" / "B" (uniform field V/d, current sigma Ly Lz V/d).
* :func:`needles_mesh`: a disc-shaped slab (radius R, height H) pierced by parallel
  needles (cylinders along z through the slab) whose surfaces are contacts; with two
  needles at x = -+s/2 of radius a the current is H pi sigma V / arccosh(s / (2a)) up to
  the truncation at R (relative effect ~ 2 (c/R)^2 / arccosh(s/2a), c^2 = s^2/4 - a^2).
Lengths in metres. The gmsh session (:func:`simulator.meshing.session.gmsh_session`) and the
extraction (:func:`simulator.meshing.extract.extract_mesh`, model built in mm) are the product's.
"""
from __future__ import annotations

import contextlib

from simulator.meshing.extract import extract_mesh
from simulator.meshing.mesh import Mesh, Region
from simulator.meshing.model import S, OccModel
from simulator.meshing.session import gmsh_session


@contextlib.contextmanager
def _fixture_session():
    """The product's gmsh session with the fixtures' mesher settings (Delaunay 3D, seed 1)."""
    with gmsh_session() as gmsh:
        gmsh.option.setNumber("Mesh.Algorithm3D", 1)
        gmsh.option.setNumber("Mesh.RandomSeed", 1)
        gmsh.model.add("fixture")
        yield gmsh


def _extract(gmsh, volumes: list[int], contacts: dict[str, list[int]]) -> Mesh:
    """One region "tissue" (volumes) and the named contact surfaces, through the product's extraction."""
    regions = [Region(name="tissue", kind="layer", material="tissue", index=0)]
    return extract_mesh(gmsh, regions, OccModel(region_volumes=[volumes], contact_surfaces=contacts))


def plates_mesh(d=0.01, Ly=0.006, Lz=0.004, h=0.0015) -> Mesh:
    with _fixture_session() as gmsh:
        occ = gmsh.model.occ
        box = occ.addBox(0, 0, 0, d * S, Ly * S, Lz * S)
        occ.synchronize()
        faces = gmsh.model.getBoundary([(3, box)], oriented=False)
        xa, xb = [], []
        for dim, tag in faces:
            c = occ.getCenterOfMass(dim, tag)
            if abs(c[0]) < 1e-6:
                xa.append(tag)
            elif abs(c[0] - d * S) < 1e-6:
                xb.append(tag)
        gmsh.option.setNumber("Mesh.MeshSizeMax", h * S)
        gmsh.option.setNumber("Mesh.MeshSizeMin", h * S)
        gmsh.model.mesh.generate(3)
        return _extract(gmsh, [box], {"A": xa, "B": xb})


def needles_mesh(needles, R=0.1, H=0.001, h=2e-4, grow_length=1e-3, cap=15.0) -> Mesh:
    """needles: list of (name, x, y, radius). Slab z in [0, H], disc of radius R.

    Element size h (1 + dist / grow_length), at most cap * h: halving h halves it everywhere.
    """
    with _fixture_session() as gmsh:
        occ = gmsh.model.occ
        disc = occ.addCylinder(0, 0, 0, 0, 0, H * S, R * S)
        tools = [occ.addCylinder(x * S, y * S, -H * S, 0, 0, 3 * H * S, r * S) for _, x, y, r in needles]
        out, _ = occ.cut([(3, disc)], [(3, t) for t in tools])
        occ.synchronize()
        vol = [t for d, t in out if d == 3]
        faces = gmsh.model.getBoundary([(3, v) for v in vol], oriented=False)
        groups = {name: [] for name, *_ in needles}
        for dim, tag in faces:
            x0, y0, z0, x1, y1, z1 = (b / S for b in gmsh.model.getBoundingBox(dim, tag))
            for name, x, y, r in needles:   # the lateral surface of that needle
                if (abs(x0 - (x - r)) < 1e-3 * r and abs(x1 - (x + r)) < 1e-3 * r
                        and abs(y0 - (y - r)) < 1e-3 * r and abs(y1 - (y + r)) < 1e-3 * r):
                    groups[name].append(tag)
        for name, tags in groups.items():
            assert tags, name
        all_tags = [t for tags in groups.values() for t in tags]
        f = gmsh.model.mesh.field
        fd = f.add("Distance")
        f.setNumbers(fd, "SurfacesList", all_tags)
        ft = f.add("MathEval")
        f.setString(ft, "F", f"{h * S} * Min(1 + F{fd} / {grow_length * S}, {cap})")
        f.setAsBackgroundMesh(ft)
        gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        gmsh.model.mesh.generate(3)
        return _extract(gmsh, vol, groups)
