"""What the OpenCASCADE build hands to the size field and the extraction: gmsh tags per
region and per contact. The model is built in mm."""
from __future__ import annotations

from dataclasses import dataclass, field

from simulator.units import MM

S = 1.0 / MM              # model units (mm) per metre




@dataclass
class OccModel:
    """What the OCC build produced: gmsh tags per region and per contact."""

    region_volumes: list[list[int]]
    contact_surfaces: dict[str, list[int]] = field(default_factory=dict)

