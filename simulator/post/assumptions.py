"""Which headline figures rest on assumed ([A]) material values, and how much of them.

The library marks each material field whose value is an assumption of epsim (no source:
``Material.assumed``; a value the scenario overrides is the user's and no longer [A]).
Two headline figures depend on thresholds directly: the healthy irreversible volume (each
healthy tissue judged at its own E_irr) and the tumour / margin coverage (judged at E_rev).
For each, this module lists the [A] thresholds it uses and the share of the figure that
rests on them, so that a report can say "86 % of this volume is fat at an assumed E_irr".
"""
from __future__ import annotations

import numpy as np

from simulator.meshing.mesh import Mesh
from simulator.post.above import RecoveredField
from simulator.physics.materials import SCENARIO_KEYS

DOMINATED = 0.5          # a figure more than half of which rests on [A] values is warned about


def healthy_irreversible_by_material(mesh: Mesh, E_max: np.ndarray, weights: np.ndarray,
                                     E_irr: np.ndarray, field: RecoveredField | None = None) -> dict[str, float]:
    """Healthy (non-tumour) volume above its own E_irr per material, m^3 (E in V/m; the
    clipped recovered field ``field``, built here when not given: the measure of
    ``volumes.healthy_irreversible``)."""
    field = field or RecoveredField(mesh, E_max, weights)
    irr = field.volume_above(np.broadcast_to(E_irr, (mesh.num_cells,)))
    out: dict[str, float] = {}
    for k, r in enumerate(mesh.regions):
        if r.kind != "tumour":
            out[r.material] = out.get(r.material, 0.0) + float(irr[mesh.cell_region == k].sum())
    return out


def _key(material: str, field: str) -> str:
    return f"materials.{material}.{SCENARIO_KEYS[field]}"


def assumed_figures(materials: dict, by_material: dict[str, float], tumour_materials: list[str],
                    margin_threshold: str, margin_materials: list[str]) -> dict:
    """{figure: {"rests_on": [scenario keys of [A] values], "assumed_share": fraction}}."""
    total = sum(by_material.values())
    rests, share = [], 0.0
    for name, volume in sorted(by_material.items()):
        if volume > 0 and "E_irr" in materials[name].assumed:
            rests.append(_key(name, "E_irr"))
            share += volume / total
    out = {"healthy_irreversible": {"rests_on": rests, "assumed_share": share if total > 0 else 0.0}}
    judged = set(tumour_materials) | (set(margin_materials) if margin_threshold == "tissue" else set())
    cov = sorted(_key(m, "E_rev") for m in judged if "E_rev" in materials[m].assumed)
    out["coverage"] = {"rests_on": cov, "assumed_share": 1.0 if cov else 0.0}
    return out


def assumption_warnings(figures: dict, by_material: dict[str, float], materials: dict) -> list[str]:
    """One warning per headline figure dominated by [A] values."""
    out = []
    h = figures["healthy_irreversible"]
    if h["rests_on"] and h["assumed_share"] > DOMINATED:
        total = sum(by_material.values())
        parts = ", ".join(f"{name} {v * 1e9:.0f} mm3 at E_irr {materials[name].E_irr / 100:g} V/cm"
                          for name, v in sorted(by_material.items(), key=lambda kv: -kv[1])
                          if v > 0 and "E_irr" in materials[name].assumed)
        out.append(f"{100 * h['assumed_share']:.0f} % of the healthy irreversible volume ({total * 1e9:.0f} mm3) "
                   f"rests on assumed [A] thresholds ({parts}); set {', '.join(h['rests_on'])} from your own data")
    c = figures["coverage"]
    if c["rests_on"]:
        out.append(f"the coverage is judged at assumed [A] thresholds: {', '.join(c['rests_on'])}")
    return out
