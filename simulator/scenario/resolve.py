"""A scenario as the TOML dict that reproduces it, every default filled in (scenario units:
mm, V, V/cm, S/m, us). Reading the dict back gives an equal :class:`Scenario`.

Tables this module does not know (added by later issues) are kept as the user wrote them;
every table it knows is written out in full from the validated records.
"""
from __future__ import annotations

import copy
import math
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.physics.materials import SCALE_FROM_SCENARIO, SCENARIO_KEYS
from simulator.units import MM, US

if TYPE_CHECKING:                                   # pragma: no cover
    from simulator.scenario.records import Scenario


def _mm(x: float) -> float:
    return float(f"{x / MM:.12g}")


def _electrode(sc: "Scenario") -> dict:
    e = sc.electrode
    out: dict = {}
    if e.source.startswith("catalogue "):
        out["catalogue"] = e.source.removeprefix("catalogue ")
    out["type"] = e.type
    if e.type == "needles":
        out["needles"] = [{"name": n.name, "position_mm": [_mm(n.position[0]), _mm(n.position[1])],
                           "diameter_mm": _mm(n.diameter), "insertion_depth_mm": _mm(n.insertion_depth),
                           "tilt_deg": n.tilt_deg, "tilt_azimuth_deg": n.tilt_azimuth_deg,
                           "insulated_length_mm": _mm(n.insulated_length)} for n in e.needles]
        if sc.tissue.curvature is not None:
            out["along_normal"] = False            # the tilts written are the normals' (absolute)
    else:
        out.update(copy.deepcopy(e.parameters))
    return out


def _protocol(sc: "Scenario") -> dict:
    """The protocol as explicit values; groups that differ in voltage, duration or frequency
    (not one [protocol] table's worth) keep the table as written."""
    groups = sc.protocol.groups
    g0 = groups[0]
    for get in (lambda g: g.voltage, lambda g: g.duration, lambda g: g.frequency):
        if any(get(g) != get(g0) for g in groups):
            raw = (sc.source or {}).get("protocol", {})
            return copy.deepcopy(raw) if isinstance(raw, dict) else {}
    # pulses per pair: groups of unequal counts are written as repeated pairs of the common divisor
    count = reduce(math.gcd, (g.count for g in groups))
    sequence = [[g.label_anode or "+".join(g.anode), g.label_cathode or "+".join(g.cathode)]
                for g in groups for _ in range(g.count // count)]
    out: dict = {"preset": sc.protocol.preset} if sc.protocol.preset else {}
    out.update({"pulses": count, "pulse_duration_us": float(f"{g0.duration / US:.12g}"),
                "frequency_Hz": g0.frequency, "voltage_V": g0.voltage, "sequence": sequence})
    return out


def _materials(sc: "Scenario") -> dict:
    raw = (sc.source or {}).get("materials", {}) if isinstance((sc.source or {}).get("materials"), dict) else {}
    out = {}
    for name, m in sorted(sc.materials.items()):
        out[name] = {k: v for k, v in raw.get(name, {}).items() if k == "based_on"} | {key: (getattr(m, f) / SCALE_FROM_SCENARIO[f] if f in SCALE_FROM_SCENARIO else getattr(m, f))
                     for f, key in SCENARIO_KEYS.items()}
    return out


def _absolute_files(d, base: Path | None):
    """Every ``file = "..."`` made absolute (the resolved file lives in the output folder)."""
    if isinstance(d, dict):
        return {k: (str((base or Path.cwd()) / v) if k == "file" and isinstance(v, str) and not Path(v).is_absolute()
                    else _absolute_files(v, base)) for k, v in d.items()}
    if isinstance(d, list):
        return [_absolute_files(v, base) for v in d]
    return d


def _tumours(sc: "Scenario") -> list[dict]:
    raw = (sc.source or {}).get("tumours", [])
    raw = [raw] if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    out = []
    for i, t in enumerate(sc.tumours):
        d = dict(raw[i]) if i < len(raw) and isinstance(raw[i], dict) else {}
        d.update({"name": t.name, "shape": t.shape})
        if t.shape in ("sphere", "ellipsoid"):      # dome / surface: their own keys, kept as written
            if t.shape == "sphere":
                d["diameter_mm"] = _mm(2 * t.semi_axes[0])
            else:
                d["semi_axes_mm"] = [_mm(a) for a in t.semi_axes]
            if sc.tissue.curvature is None:
                d.update({"depth_mm": _mm(-t.centre[2]), "centre_mm": [_mm(t.centre[0]), _mm(t.centre[1])]})
            else:                                   # a curved skin: depth below the skin point, as written
                d.setdefault("centre_mm", [0.0, 0.0])
        d.update({"material": t.material, "margin_mm": _mm(t.margin)})
        out.append(d)
    return out


def resolved_dict(sc: "Scenario") -> dict:
    """The scenario as a TOML-ready dict with every default filled in."""
    out = copy.deepcopy((sc.source or {})) if (sc.source or {}) else {}
    out["name"] = sc.name
    tissue = dict(out.get("tissue", {})) if isinstance(out.get("tissue"), dict) else {}
    if "image" not in tissue:                        # a label image sets the block and its regions
        layers = [{"material": layer.material} | ({} if layer.thickness is None else
                                                  {"thickness_mm": _mm(layer.thickness)})
                  for layer in sc.tissue.layers]
        tissue.update({"size_mm": [_mm(s) for s in sc.tissue.size], "layout": sc.tissue.layout, "layers": layers})
    out["tissue"] = tissue
    tumours = _tumours(sc)
    if tumours:
        out["tumours"] = tumours
    else:
        out.pop("tumours", None)
    if not sc.applications:                          # [[applications]]: kept as written
        out["electrode"] = _electrode(sc)
        out["protocol"] = _protocol(sc)
    out["materials"] = _materials(sc)
    m = sc.mesh
    out["mesh"] = {**out.get("mesh", {}), "size_mm": _mm(m.size), "cache": m.cache}
    for key, v in (("contact_size_mm", m.contact_size), ("far_size_mm", m.far_size)):
        if v is not None:
            out["mesh"][key] = _mm(v)
    s = sc.solver
    out["solver"] = {**out.get("solver", {}), "engine": s.engine, "degree": s.degree, "model": s.model,
                     "rtol": s.rtol, "max_iterations": s.max_iterations, "idle_contacts": s.idle_contacts}
    out["generator"] = {**out.get("generator", {}), "max_voltage_V": sc.generator.max_voltage,
                        "max_current_A": sc.generator.max_current}
    out["coverage"] = {**out.get("coverage", {}), "tolerance": sc.coverage_tolerance}
    out["thermal"] = {**out.get("thermal", {}), **_thermal(sc)}
    return _absolute_files(out, sc.source_dir)


def _thermal(sc: "Scenario") -> dict:
    """``[thermal]`` with its defaults (the Pennes settings only for Pennes; h and T_amb only
    for a convective skin, where they apply)."""
    th = sc.thermal
    out = {"model": th.model}
    if th.model == "pennes":
        out.update({"initial_temperature_C": th.initial_C, "arterial_temperature_C": th.arterial_C,
                    "blood_density_kg_per_m3": th.blood_density,
                    "blood_heat_capacity_J_per_kg_K": th.blood_heat_capacity,
                    "steps_per_pulse": th.steps_per_pulse, "max_steps_between_pulses": th.max_steps_between,
                    "resolve_tolerance": th.resolve_tolerance, "skin": th.skin})
        if th.skin == "convective":
            out.update({"skin_h_W_per_m2K": th.skin_h, "ambient_C": th.ambient_C})
    return out


def resolved_toml(sc: "Scenario") -> str:
    """:func:`resolved_dict` as TOML text, with a header saying what it is."""
    import tomli_w
    head = ("# epsim: the scenario as run, every default filled in (lengths mm, voltages V, fields V/cm,\n"
            "# conductivities S/m, times us). `epsim run` on this file gives the same report.\n")
    return head + tomli_w.dumps(resolved_dict(sc))
