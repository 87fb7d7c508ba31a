"""Stated limits on the work a scenario asks for and physical lower bounds on its lengths.

Each limit carries its reason; the loader refuses what is beyond it (exit 2), so that no
scenario makes epsim run for hours, exhaust memory or hang in gmsh. The mesh-size guard
(:mod:`simulator.meshing.estimate`) complements these with the element count.
"""
from __future__ import annotations

from simulator.errors import ScenarioError
from simulator.units import MM

# ----------------------------------------------------------------------------- work
MAX_CONTACTS = 100          # [A] clinical arrays have 2-7 needles (domain.md 1.3); 100 is far beyond
MAX_PULSE_GROUPS = 500      # [A] the hexagonal ESOPE sequence fires 12 pairs; each pair is one solve
MAX_TOTAL_PULSES = 10_000   # [A] ESOPE delivers 8 pulses per pair (96 in all); IRE protocols ~100

# ----------------------------------------------------------------------------- lengths (m)
# Below the size of a cell (~10 um) tissue is not a continuum, so the conduction model
# itself does not hold [A]; gmsh also hangs on features thousands of times below the
# element size (needle_diameter_mm = 0.0007 or 1e-300 did).
CONTINUUM_LENGTH = 0.01 * MM
MIN_NEEDLE_DIAMETER = 0.1 * MM    # [A] the thinnest needles made (acupuncture, 0.12 mm); ECT uses 0.5-0.7 mm
MIN_TUMOUR_DIAMETER = 0.1 * MM    # [A] below any nodule a clinician can see or treat
MIN_LAYER_THICKNESS = CONTINUUM_LENGTH   # the stratum corneum, ~10-20 um [R], is the thinnest layer
MIN_PLATE_THICKNESS = 0.05 * MM   # [A] a plate thinner than foil would not stand in tissue
MIN_CONTACT_SIZE = CONTINUUM_LENGTH


def at_least(key: str, value_m: float, minimum_m: float, reason: str) -> float:
    """``value_m`` (m) if it is >= ``minimum_m`` (m), else the ScenarioError naming ``key``."""
    if value_m < minimum_m:
        raise ScenarioError(key, f"must be >= {minimum_m / MM:g} mm ({reason}), got {value_m / MM:g}")
    return value_m


def check_work(groups: int, total_pulses: int) -> None:
    """Refuse pulse sequences beyond the stated limits (each group is one field solve)."""
    if groups > MAX_PULSE_GROUPS:
        raise ScenarioError("protocol.sequence", f"fires {groups} electrode pairs, more than the "
                            f"{MAX_PULSE_GROUPS} epsim accepts (each pair is a field solve; ESOPE's "
                            "hexagonal sequence fires 12)")
    if total_pulses > MAX_TOTAL_PULSES:
        raise ScenarioError("protocol.pulses", f"the protocol delivers {total_pulses} pulses, more than the "
                            f"{MAX_TOTAL_PULSES} epsim accepts (ESOPE delivers 8 per pair)")
