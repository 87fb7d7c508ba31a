"""Mesh input -> mesh: build the geometry, set the size field, mesh, extract; gmsh failures
become one-line :class:`GeometryError` naming the likeliest part (:mod:`.blame`).

The mesher reads only the :class:`~simulator.meshing.inputs.MeshInput` record (the cache
key hashes it). When HXT cannot recover the boundary of a 3D volume (it fails on some
small tumours near a layer), the volume mesh is retried once with gmsh's Delaunay
algorithm: deterministic, so the same input always gives the same mesh.
"""
from __future__ import annotations
import dataclasses
import logging
import os
from typing import Callable


from simulator.errors import GeometryError
from simulator.meshing.mesh import Mesh
from simulator.scenario import Scenario
from simulator.meshing.inputs import (ALGORITHM_2D, ALGORITHM_3D, FALLBACK_ALGORITHM_3D, RANDOM_SEED,  # noqa: F401
                                      MeshInput, mesh_input)
from simulator.meshing.size_field import apply_size_fields
from simulator.meshing.geometry import build_model
from simulator.meshing.extract import extract_mesh
from simulator.meshing.curving import second_order
from simulator.meshing.relabel import relabel_layers
from simulator.meshing.session import gmsh_session
from simulator.meshing.session import one_line
from simulator.meshing.geometry import region_names
from simulator.meshing.blame import blame, cause_text, parts_text


log = logging.getLogger(__name__)


class _VolumeMeshFailed(Exception):
    """gmsh's 3D step failed (message kept): the caller may retry with another algorithm."""


# ----------------------------------------------------------------------------- mesh
def mesh_options(gmsh, mi: MeshInput) -> None:
    opt = gmsh.option.setNumber
    opt("Mesh.Algorithm", mi.algorithm_2d)
    opt("Mesh.Algorithm3D", mi.algorithm_3d)
    opt("Mesh.RandomSeed", mi.random_seed)
    opt("Mesh.Optimize", 1)
    opt("Mesh.ElementOrder", 1)          # second order, when asked, by curving.second_order after the 3D mesh
    opt("Mesh.SecondOrderLinear", 0)      # mid-edge nodes on the CAD curves and surfaces


def _run(gmsh, mi: MeshInput, say: Callable[[str], None]) -> Mesh:
    regions = region_names(mi)
    gmsh.model.add("epsim")
    mesh_options(gmsh, mi)
    say("meshing: building geometry")
    model = build_model(gmsh, mi)
    for r, vols in zip(regions, model.region_volumes):
        if vols:
            gmsh.model.addPhysicalGroup(3, vols, name=r.name)
    for name, surfaces in model.contact_surfaces.items():
        if surfaces:
            gmsh.model.addPhysicalGroup(2, surfaces, name=name)
    apply_size_fields(gmsh, mi, model)
    try:
        say("meshing: surfaces")
        gmsh.model.mesh.generate(2)
    except Exception as exc:
        if type(exc) is not Exception:
            raise
        raise GeometryError(blame(mi), f"gmsh could not mesh the surfaces of {parts_text(mi)}: "
                            f"{one_line(exc)}{cause_text(mi)}") from None
    try:
        say("meshing: volumes")
        gmsh.model.mesh.generate(3)
    except Exception as exc:
        if type(exc) is not Exception:
            raise
        raise _VolumeMeshFailed(one_line(exc)) from None
    if mi.order == 2:
        second_order(gmsh, say, tuple(s for faces in model.contact_surfaces.values() for s in faces))
    return relabel_layers(extract_mesh(gmsh, regions, model), mi.tissue)


def _mesh_once(mi: MeshInput, say: Callable[[str], None]) -> Mesh:
    with gmsh_session(verbose=bool(os.environ.get("EPSIM_GMSH_VERBOSE"))) as gmsh:
        try:
            return _run(gmsh, mi, say)
        except _VolumeMeshFailed:
            raise
        except Exception as exc:
            if type(exc) is not Exception:            # gmsh raises bare Exception; bugs pass
                raise
            raise GeometryError(blame(mi), f"gmsh failed on {parts_text(mi)}: {one_line(exc)}"
                                f"{cause_text(mi)}") from None


def build_mesh(scenario: Scenario | MeshInput, progress: Callable[[str], None] | None = None) -> Mesh:
    """Mesh a scenario's (or a mesh input's) tissue, tumours and electrode contacts.

    Raises :class:`GeometryError` (one line, naming the likeliest field) when gmsh fails
    with both 3D algorithms or a contact ends up with no facets.
    """
    say = progress or (lambda _msg: None)
    mi = scenario if isinstance(scenario, MeshInput) else mesh_input(scenario)
    try:
        mesh = _mesh_once(mi, say)
    except _VolumeMeshFailed as first:
        say(f"meshing: 3D algorithm {mi.algorithm_3d} failed ({first}); retrying with {FALLBACK_ALGORITHM_3D}")
        log.info("3D mesh with algorithm %d failed (%s); retrying with %d", mi.algorithm_3d, first,
                 FALLBACK_ALGORITHM_3D)
        try:
            mesh = _mesh_once(dataclasses.replace(mi, algorithm_3d=FALLBACK_ALGORITHM_3D), say)
        except _VolumeMeshFailed as second:
            raise GeometryError(blame(mi), f"gmsh could not mesh the volumes of {parts_text(mi)} with HXT "
                                f"({first}) nor Delaunay ({second}){cause_text(mi)}; try another mesh.size_mm "
                                "or move the parts apart") from None
    missing = [n for n in mi.contact_names if len(mesh.contact_facets.get(n, ())) == 0]
    if missing:
        raise GeometryError("electrode", f"contact(s) {', '.join(missing)} do not touch the tissue mesh "
                            f"({parts_text(mi)})")
    say(f"meshing: {mesh.num_cells} cells, {mesh.num_points} nodes")
    log.debug("mesh: %d cells, %d nodes", mesh.num_cells, mesh.num_points)
    return mesh
