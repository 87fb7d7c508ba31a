"""Candidate placements: catalogue electrodes centred over the lesion, as scenario dicts.

A candidate is the user's scenario (tissue, tumours, materials, mesh, solver, generator)
with ``[electrode]`` replaced by a catalogue entry (electrodes/catalogue.py) centred on the
lesion and ``[protocol]`` by the entry's preset (ESOPE). Needles go in as deep as the
deepest tumour + margin plus ``DEPTH_BEYOND`` (the field falls off below the tips, see
post/diagnosis.py), but never deeper than the needle's length (the catalogue's
``insertion_depth_mm``, the full length [A]) nor through the bottom of the block.
Candidates are scenario dicts (the TOML tables), so that a chosen one is written out
unchanged as ``planned.toml`` and reproduces exactly what was evaluated.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

from electrodes.catalogue import CATALOGUE

from simulator.errors import ScenarioError
from simulator.units import MM

DEPTH_BEYOND = 2.0e-3      # m below the deepest tumour + margin the needle tips should reach [A]
BOTTOM_CLEARANCE = 1.0e-3  # m of tissue kept below the tips [A]


@dataclass(frozen=True)
class Candidate:
    """One electrode to evaluate: ``name`` (catalogue name or "scenario"), its scenario dict."""

    name: str
    data: dict
    insertion_depth_mm: float | None
    needle_length_mm: float | None


def lesion_centre(scenario) -> tuple[float, float]:
    """(x, y) in m: the centre of the bounding box of every tumour + margin on the skin."""
    xs = [t.centre[0] + s * (t.semi_axes[0] + t.margin) for t in scenario.tumours for s in (-1, 1)]
    ys = [t.centre[1] + s * (t.semi_axes[1] + t.margin) for t in scenario.tumours for s in (-1, 1)]
    return (0.5 * (min(xs) + max(xs)), 0.5 * (min(ys) + max(ys)))


def lesion_bottom(scenario) -> float:
    """Depth (m, positive) of the deepest point of any tumour + margin."""
    return max(-t.centre[2] + t.semi_axes[2] + t.margin for t in scenario.tumours)


def select(names: str) -> list[str]:
    """``all`` or a comma-separated list of catalogue names (``--electrodes``)."""
    if names.strip() == "all":
        return list(CATALOGUE)
    out = [n.strip() for n in names.split(",") if n.strip()]
    if not out:
        raise ScenarioError("--electrodes", f"must be 'all' or catalogue names, got {names!r}")
    for n in out:
        if n not in CATALOGUE:
            raise ScenarioError("--electrodes", f"unknown catalogue electrode {n!r}; valid: all, "
                                f"{', '.join(CATALOGUE)}")
    return list(dict.fromkeys(out))


def insertion_depth(scenario, needle_length: float) -> float:
    """Insertion depth (m) for a needle of ``needle_length`` (m) over this lesion (module docstring)."""
    want = lesion_bottom(scenario) + DEPTH_BEYOND
    limit = scenario.tissue.size[2] - BOTTOM_CLEARANCE
    return min(want, needle_length, limit)


def catalogue_candidate(name: str, data: dict, scenario) -> Candidate:
    """The scenario dict with the catalogue electrode ``name`` centred over the lesion."""
    entry = CATALOGUE[name]
    cx, cy = lesion_centre(scenario)
    electrode = {"catalogue": name, "centre_mm": [round(cx / MM, 4), round(cy / MM, 4)]}
    depth = length = None
    if "insertion_depth_mm" in entry.dimensions:
        length = float(entry.dimensions["insertion_depth_mm"].value)
        depth = insertion_depth(scenario, length * MM) / MM
        depth = math.floor(depth * 10) / 10 if depth < length else length     # 0.1 mm steps
        electrode["insertion_depth_mm"] = depth
    out = copy.deepcopy(data)
    out.pop("applications", None)                 # one catalogue electrode replaces them all
    out["electrode"] = electrode
    out["protocol"] = {"preset": entry.protocol}
    out["name"] = f"{data.get('name', scenario.name)}-{name}"
    return Candidate(name, out, depth, length)


def own_candidate(data: dict, scenario) -> Candidate:
    """The scenario's own electrode and placement."""
    needles = scenario.electrode.needles
    depth = max(n.insertion_depth for n in needles) / MM if needles else None
    return Candidate("scenario", copy.deepcopy(data), depth, None)


def with_voltage(data: dict, voltage: float) -> dict:
    """A copy of a scenario dict whose protocol fires at ``voltage`` (V)."""
    out = copy.deepcopy(data)
    proto = dict(out.get("protocol", {}))
    proto.pop("field_ratio_V_per_cm", None)
    proto["voltage_V"] = float(voltage)
    out["protocol"] = proto
    for app in out.get("applications", []):        # Scenario.with_voltage sets every application
        app.pop("voltage_V", None)
        app.pop("field_ratio_V_per_cm", None)
    return out
