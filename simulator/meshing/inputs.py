"""The mesher's inputs as one immutable record: everything meshing reads, nothing else.

:func:`mesh_input` turns a scenario into a :class:`MeshInput`; the geometry, the size field
and the extraction read only that record, and the mesh cache key is a hash of it (plus the
code and gmsh version). A new input to the mesher must therefore be a field here, and then
it is in the key: an input cannot be left out of the key by forgetting it.
"""
from __future__ import annotations

from dataclasses import dataclass

from electrodes.contacts import Contact, Needle, Plate, needles_of, plates_of
from simulator.meshing.size_field import Sizes, sizes
from simulator.scenario import Scenario
from simulator.scenario.records import SizeMap, Tissue, Tumour

ALGORITHM_3D = 10         # HXT: deterministic when single-threaded (tests check), fast
FALLBACK_ALGORITHM_3D = 1  # Delaunay: when HXT fails to recover a boundary (see build.py)
ALGORITHM_2D = 6          # Frontal-Delaunay
RANDOM_SEED = 1


@dataclass(frozen=True)
class MeshInput:
    """What the mesher reads (SI units, m). Built only by :func:`mesh_input`."""

    tissue: Tissue                      # block size, layer thicknesses and materials
    tumours: tuple[Tumour, ...]         # shapes, centres, names, materials, margins (fine box)
    electrode_type: str                 # for messages
    contacts: tuple[Contact, ...]       # needles and plates cut out of the tissue
    clamped: bool                       # plates clamp the block: its faces are the contacts
    electrode_distance: float           # m: pads the fine box of the size field
    sizes: Sizes                        # element sizes (fine, far, per contact)
    embedded_needles: bool = False      # several applications: needles stay tissue, contacts inside
    size_map: SizeMap | None = None     # local target sizes (refinement loop), min with the fields
    order: int = 1                      # 2: second-order tets, mid-edge nodes on the CAD surfaces
    algorithm_2d: int = ALGORITHM_2D
    algorithm_3d: int = ALGORITHM_3D
    random_seed: int = RANDOM_SEED

    @property
    def contact_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.contacts)

    @property
    def tissue_top(self) -> float:
        """Highest z of tissue (m): 0, or the top of a protruding tumour and its cover."""
        from simulator.scenario.records import tissue_top
        return tissue_top(self.tumours)

    @property
    def needles(self) -> tuple[Needle, ...]:
        return needles_of(self.contacts)

    @property
    def plates(self) -> tuple[Plate, ...]:
        return plates_of(self.contacts)


def mesh_input(scenario: Scenario) -> MeshInput:
    """The record the mesher reads, from a scenario."""
    e = scenario.electrode
    return MeshInput(scenario.tissue, tuple(scenario.tumours), e.type, tuple(e.contacts), bool(e.clamped),
                     float(e.distance), sizes(scenario), embedded_needles=bool(scenario.applications),
                     size_map=scenario.mesh.size_map, order=scenario.mesh.order)
