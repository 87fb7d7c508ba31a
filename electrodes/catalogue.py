"""The clinical electrode catalogue: ESOPE / Cliniporator electrode types I-III by name.

Each entry names a registry electrode type (``electrodes.registry``) and the scenario
defaults it sets, every dimension with its confidence label and source (domain.md 1.3):

* [C]  confirmed from a retrieved abstract or first page (URL in domain.md section 8);
* [R]  commonly cited, not verified against the original; keep it overridable;
* [D]  derived from other values by a formula;
* [A]  an epsim assumption with no source at all (override it for a real device).

Scenario use: ``[electrode] catalogue = "hexagonal-20"`` sets the type and these defaults;
any explicit key in ``[electrode]`` overrides a catalogue value.

The IGEA catalogue codes (N-10/20/30-4B linear, N-10/20/30-HG hexagonal, P-30-8G plates)
and their reading (N = needle, 10/20/30 = needle length mm, 4 = row gap mm, ...) were NOT
found in any reachable source (domain.md 1.3): they appear below only as "vendor code
(unconfirmed)" to help recognise a device, never as a fact.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Sources quoted by the entries (domain.md section 1.3 and 8).
ONGARO_2016 = ("Ongaro A et al., Technol Cancer Res Treat, doi:10.1177/1533034615582350 "
               "('an array of 0.73 cm spaced needles')")
SOP_2006 = "Mir LM et al., ESOPE SOP, EJC Suppl 4 (2006) 14-25 (electrode tables not read)"
ESOPE_ASCO = "ESOPE ASCO 2006 abstract #8047 (electrode types, V/d ratios)"


@dataclass(frozen=True)
class Dimension:
    """One catalogue value in scenario units (mm), with its confidence label and source."""

    value: float | int
    label: str            # "[C]", "[R]", "[D]" or "[A]"
    source: str

    def __post_init__(self) -> None:
        if self.label not in ("[C]", "[R]", "[D]", "[A]"):
            raise ValueError(f"label must be [C], [R], [D] or [A], got {self.label!r}")


@dataclass(frozen=True)
class CatalogueEntry:
    """A clinical electrode: registry type, scenario defaults and the default protocol."""

    name: str
    type: str                                   # electrodes.registry type name
    description: str
    dimensions: dict[str, Dimension] = field(compare=False)
    protocol: str = "esope"                     # protocols.esope preset used by default
    vendor_code: str = ""                       # unconfirmed (see module docstring)
    esope_type: str = ""                        # "I", "II", "III" (ESOPE numbering [C])

    def defaults(self) -> dict[str, float | int]:
        """Scenario keys (mm, counts) -> default values."""
        return {k: d.value for k, d in self.dimensions.items()}


_DIAMETER = Dimension(0.7, "[R]", "needle diameter ~0.7 mm, commonly cited (domain.md 1.3)")


def _length(mm: int) -> Dimension:
    return Dimension(float(mm), "[R]", f"needle lengths 10/20/30 mm commonly cited (domain.md 1.3); "
                                       f"insertion depth = full length {mm} mm [A]")


def _plates(gap: int) -> CatalogueEntry:
    return CatalogueEntry(
        f"plates-{gap}", "plates",
        f"ESOPE type I: two parallel plates {gap} mm apart (tissue, often a pinched skin fold, "
        "between them)",
        {"gap_mm": Dimension(float(gap), "[R]", "4 mm and 8 mm plate gaps commonly cited (domain.md 1.3)"),
         "length_mm": Dimension(10.0, "[A]", "plate length along the skin: no source found"),
         "depth_mm": Dimension(5.0, "[A]", "how deep the plates reach: no source found"),
         "thickness_mm": Dimension(0.5, "[A]", "plate thickness: no source found")},
        vendor_code=f"P-30-{gap}G (unconfirmed)" if gap == 8 else "", esope_type="I")


def _rows(mm: int) -> CatalogueEntry:
    return CatalogueEntry(
        f"linear-{mm}", "needle-rows",
        f"ESOPE type II: linear array, two parallel rows of needles 4 mm apart, {mm} mm needles",
        {"row_gap_mm": Dimension(4.0, "[R]", "row spacing 4 mm commonly cited (domain.md 1.3)"),
         "needles_per_row": Dimension(4, "[A]", "needles per row: no source found"),
         "pitch_mm": Dimension(2.0, "[A]", "needle spacing along a row: no source found"),
         "needle_diameter_mm": _DIAMETER,
         "insertion_depth_mm": _length(mm)},
        vendor_code=f"N-{mm}-4B (unconfirmed)", esope_type="II")


def _hexagonal(mm: int) -> CatalogueEntry:
    return CatalogueEntry(
        f"hexagonal-{mm}", "hexagonal",
        f"ESOPE type III: 7 needles, a centre needle and 6 on a regular hexagon, {mm} mm needles; "
        "fires its 12 nearest-neighbour pairs (firing order and pulses per pair UNCONFIRMED)",
        {"side_mm": Dimension(7.3, "[C]", f"nearest-neighbour spacing 7.3 mm: {ONGARO_2016}; "
                                          "hexagonal layout [R]"),
         "needle_diameter_mm": _DIAMETER,
         "insertion_depth_mm": _length(mm)},
        vendor_code=f"N-{mm}-HG (unconfirmed)", esope_type="III")


CATALOGUE: dict[str, CatalogueEntry] = {
    e.name: e for e in (
        _plates(4), _plates(8),
        _rows(10), _rows(20), _rows(30),
        _hexagonal(10), _hexagonal(20), _hexagonal(30),
    )
}


def get_entry(name: str) -> CatalogueEntry:
    """A catalogue entry by name; ``KeyError`` lists the valid names."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise KeyError(f"unknown catalogue electrode {name!r}; valid: {', '.join(CATALOGUE)}") from None


def describe(entry: CatalogueEntry) -> list[str]:
    """Lines describing an entry for ``epsim presets``."""
    lines = [f"{entry.name}: type = {entry.type!r}; {entry.description}"]
    if entry.vendor_code:
        lines.append(f"    vendor code {entry.vendor_code}")
    for key, d in entry.dimensions.items():
        lines.append(f"    {key} = {d.value:g} {d.label} {d.source}")
    lines.append(f"    default protocol: preset = {entry.protocol!r}")
    return lines
