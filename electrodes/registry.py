"""Electrode types by name: the parameters each takes (with units and defaults) and its builder.

Scenario keys carry units (``_mm``, ``_deg``); builders take SI (m, degrees).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .contacts import Electrode
from .needles import hexagonal, needle_pair, needle_rows
from .plates import plates


@dataclass(frozen=True)
class Param:
    """One scenario key of an electrode type: kind is 'length' (mm -> m), 'angle' (deg),
    'count' (int >= 1), 'point' ([x, y] mm -> m) or 'bool'."""

    kind: str
    default: Any = None          # in scenario units; None = required
    positive: bool = True        # lengths/counts must be > 0
    help: str = ""


@dataclass(frozen=True)
class ElectrodeType:
    name: str
    builder: Callable[..., Electrode]
    params: dict[str, Param]
    description: str
    source: str = ""
    fires: str = ""              # default firing order, in words
    extra: dict[str, Any] = field(default_factory=dict)


_PLACEMENT = {
    "centre_mm": Param("point", [0.0, 0.0], positive=False, help="electrode centre on the skin"),
    "rotation_deg": Param("angle", 0.0, positive=False, help="rotation about the skin normal"),
}
_NEEDLE = {
    "needle_diameter_mm": Param("length", 0.7, help="needle diameter (0.7 mm [R], domain.md 1.3)"),
    "insertion_depth_mm": Param("length", 10.0, help="needle length inside the tissue"),
    "tilt_deg": Param("angle", 0.0, positive=False, help="tilt of the needles from the skin normal"),
    "tilt_azimuth_deg": Param("angle", 0.0, positive=False, help="direction of the tilt (0 = +x)"),
    "insulated_length_mm": Param("length", 0.0, positive=False, help="insulated shaft from the skin"),
}


def _needle_kw(p: dict) -> dict:
    return dict(diameter=p["needle_diameter_mm"], insertion_depth=p["insertion_depth_mm"],
                centre=p["centre_mm"], rotation_deg=p["rotation_deg"], tilt_deg=p["tilt_deg"],
                tilt_azimuth_deg=p["tilt_azimuth_deg"], insulated_length=p["insulated_length_mm"])


TYPES: dict[str, ElectrodeType] = {}


def register(t: ElectrodeType) -> ElectrodeType:
    """Add an electrode type to the registry (later registrations replace earlier ones)."""
    TYPES[t.name] = t
    return t


register(ElectrodeType(
    "needle-pair",
    lambda p: needle_pair(p["spacing_mm"], **_needle_kw(p)),
    {"spacing_mm": Param("length", 7.3, help="centre-to-centre needle distance"), **_NEEDLE, **_PLACEMENT},
    "two needles A and B at centre -+ spacing/2 on the local x axis", fires="A -> B"))
register(ElectrodeType(
    "needle-rows",
    lambda p: needle_rows(p["row_gap_mm"], p["needles_per_row"], p["pitch_mm"], **_needle_kw(p)),
    {"row_gap_mm": Param("length", 4.0, help="distance between the two rows (4 mm [R])"),
     "needles_per_row": Param("count", 4, help="needles in each row"),
     "pitch_mm": Param("length", 2.0, help="needle distance along a row"),
     **_NEEDLE, **_PLACEMENT},
    "two parallel rows A1..An and B1..Bn (groups row_A, row_B)", fires="row_A -> row_B"))
register(ElectrodeType(
    "hexagonal",
    lambda p: hexagonal(p["side_mm"], **_needle_kw(p)),
    {"side_mm": Param("length", 7.3, help="nearest-neighbour spacing (7.3 mm [C], Ongaro 2016)"),
     **_NEEDLE, **_PLACEMENT},
    "centre needle C and six needles H1..H6 on a regular hexagon",
    fires="12 nearest-neighbour pairs: C-H1..C-H6, then H1-H2..H6-H1"))
register(ElectrodeType(
    "plates",
    lambda p: plates(p["gap_mm"], p["length_mm"], p["depth_mm"], p["thickness_mm"],
                     centre=p["centre_mm"], rotation_deg=p["rotation_deg"]),
    {"gap_mm": Param("length", 8.0, help="distance between the plates' inner faces"),
     "length_mm": Param("length", 10.0, help="plate extent along the skin"),
     "depth_mm": Param("length", 5.0, help="how deep the plates reach below the skin"),
     "thickness_mm": Param("length", 0.5, help="plate thickness"),
     **_PLACEMENT},
    "two parallel plates A (-x) and B (+x); a block no wider than the gap is clamped between them",
    fires="A -> B"))
