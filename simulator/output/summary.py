"""The registry-style ``summary`` block of report.json: the treatment descriptors that ECT
reporting guidance and registries ask for, where a simulation knows them.

Fields after the reporting recommendations of Campana LG et al., Radiol Oncol 2016;50(1):1-13
(quality criteria for reporting electrochemotherapy: electrode type and dimensions, number of
applications, pulse parameters, tumour number and size) [R: title known, criteria list not
retrieved], and the InspECT registry's treatment record (Clover AJP et al., Eur J Cancer
2020;138:30-40: electrode type per tumour size, voltage, current) [C] (domain.md 1.5).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.units import MM, V_PER_CM

if TYPE_CHECKING:                                   # pragma: no cover
    from simulator.solve.result import Result

SUMMARY_SOURCE = ("Campana et al. 2016 (Radiol Oncol 50:1-13) ECT reporting recommendations [R]; "
                  "InspECT registry (Clover et al. 2020, Eur J Cancer 138:30-40) [C]")


def _r(x: float, nd: int = 6) -> float:
    return float(f"{float(x):.{nd}g}")


def registry_summary(result: "Result", report: dict) -> dict:
    """The ``summary`` block (units in the key names)."""
    sc = result.scenario
    e = sc.electrode
    groups = sc.protocol.groups
    dims = {k: v for k, v in e.parameters.items() if k.endswith("_mm") and k != "centre_mm"}
    if e.needles and "needle_diameter_mm" not in dims:
        dims["needle_diameters_mm"] = sorted({_r(n.diameter / MM) for n in e.needles})
    return {
        "source": SUMMARY_SOURCE,
        "electrode_type": e.type,
        "electrode_catalogue": e.source.removeprefix("catalogue ") if e.source.startswith("catalogue ") else None,
        "electrode_dimensions_mm": dims,
        "electrode_distance_mm": _r(e.distance / MM),
        "contacts": len(e.contacts),
        "applications": max(len(sc.applications), 1),
        "voltage_V": sorted({_r(g.voltage) for g in groups}),
        "voltage_to_distance_ratio_V_per_cm": _r(max(g.voltage for g in groups) / e.distance / V_PER_CM),
        "pulses": sc.protocol.total_pulses,
        "pulse_duration_us": sorted({_r(g.duration * 1e6) for g in groups}),
        "frequency_Hz": sorted({_r(g.frequency) for g in groups}),
        "protocol_preset": sc.protocol.preset or None,
        "max_current_A": report["max_current_A"],
        "tumour_count": len(sc.tumours),
        "tumour_max_diameters_mm": [_r(2 * max(t.semi_axes) / MM) for t in sc.tumours],
        "tumour_volumes_mm3": [_r(t.volume / MM**3) for t in result.tumours],
        "coverage_reversible_fraction": report["coverage"]["tumour_reversible_fraction"],
        "coverage_with_margin_fraction": report["coverage"]["margin_reversible_fraction"],
        "covered": report["coverage"]["covered"],
        "treatment_time_s": _r(result.scenario.protocol.train_time),
    }
