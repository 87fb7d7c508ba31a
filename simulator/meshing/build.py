"""Scenario -> mesh: build the geometry, set the size field, mesh, extract; gmsh failures
become one-line :class:`GeometryError` naming the parts.
"""
from __future__ import annotations
import logging
import os
from typing import Callable
from simulator.errors import GeometryError
from simulator.meshing.mesh import Mesh, Region
from simulator.scenario import Scenario
from simulator.meshing.size_field import Sizes
from simulator.meshing.size_field import apply_size_fields
from simulator.meshing.geometry import build_model
from simulator.meshing.extract import extract_mesh
from simulator.meshing.relabel import relabel_layers
from simulator.meshing.session import gmsh_session
from simulator.meshing.session import one_line
from simulator.meshing.geometry import region_names
from simulator.meshing.size_field import sizes
from simulator.meshing.session import blame
from simulator.meshing.session import parts_text


log = logging.getLogger(__name__)
ALGORITHM_3D = 10         # HXT: deterministic when single-threaded (tests check), fast
ALGORITHM_2D = 6          # Frontal-Delaunay
RANDOM_SEED = 1






# ----------------------------------------------------------------------------- mesh
def mesh_options(gmsh) -> None:
    opt = gmsh.option.setNumber
    opt("Mesh.Algorithm", ALGORITHM_2D)
    opt("Mesh.Algorithm3D", ALGORITHM_3D)
    opt("Mesh.RandomSeed", RANDOM_SEED)
    opt("Mesh.Optimize", 1)
    opt("Mesh.ElementOrder", 1)


def _run(gmsh, scenario: Scenario, sz: Sizes, regions: list[Region], say: Callable[[str], None]) -> Mesh:
    gmsh.model.add("epsim")
    mesh_options(gmsh)
    say("meshing: building geometry")
    model = build_model(gmsh, scenario, sz)
    for r, vols in zip(regions, model.region_volumes):
        if vols:
            gmsh.model.addPhysicalGroup(3, vols, name=r.name)
    for name, surfaces in model.contact_surfaces.items():
        if surfaces:
            gmsh.model.addPhysicalGroup(2, surfaces, name=name)
    apply_size_fields(gmsh, scenario, sz, model)
    try:
        say("meshing: surfaces")
        gmsh.model.mesh.generate(2)
        say("meshing: volumes")
        gmsh.model.mesh.generate(3)
    except Exception as exc:
        if type(exc) is not Exception:
            raise
        raise GeometryError(blame(scenario), f"gmsh could not mesh {parts_text(scenario)}: {one_line(exc)}") from None
    return relabel_layers(extract_mesh(gmsh, regions, model), scenario.tissue)


def build_mesh(scenario: Scenario, progress: Callable[[str], None] | None = None) -> Mesh:
    """Mesh a scenario's tissue, tumours and electrode contacts (see module docstring).

    Raises :class:`GeometryError` (one line, naming the parts) when gmsh fails or a
    contact ends up with no facets.
    """
    say = progress or (lambda _msg: None)
    sz = sizes(scenario)
    regions = region_names(scenario)
    with gmsh_session(verbose=bool(os.environ.get("EPSIM_GMSH_VERBOSE"))) as gmsh:
        try:
            mesh = _run(gmsh, scenario, sz, regions, say)
        except Exception as exc:
            if type(exc) is not Exception:            # gmsh raises bare Exception; bugs pass
                raise
            raise GeometryError(blame(scenario), f"gmsh failed on {parts_text(scenario)}: {one_line(exc)}") from None
    missing = [n for n in scenario.electrode.contact_names if len(mesh.contact_facets.get(n, ())) == 0]
    if missing:
        raise GeometryError("electrode", f"contact(s) {', '.join(missing)} do not touch the tissue mesh "
                            f"({parts_text(scenario)})")
    say(f"meshing: {mesh.num_cells} cells, {mesh.num_points} nodes")
    log.debug("mesh %s: %d cells, %d nodes", scenario.name, mesh.num_cells, mesh.num_points)
    return mesh
