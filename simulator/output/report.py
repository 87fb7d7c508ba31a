"""The report: a JSON-ready dict whose keys carry their units (design.md section 5), and the
short terminal summary."""
from __future__ import annotations

import functools
import platform
from typing import TYPE_CHECKING

import numpy as np

from simulator.output.accuracy_block import accuracy_block, accuracy_line, verdict_certain
from simulator.output.thermal_report import thermal_line, thermal_section
from simulator.post.protocol_effects import effects_line, protocol_effects
from simulator.post.thermal import thermal_figures, thermal_warnings
from simulator.units import MM, V_PER_CM

if TYPE_CHECKING:
    from simulator.solve.pipeline import Result

MM3 = MM**3
REPORT_VERSION = 1


def _r(x: float, nd: int = 6) -> float:
    """Round for a stable, readable report (significant digits)."""
    x = float(x)
    return float(f"{x:.{nd}g}") if np.isfinite(x) else x


def versions() -> dict[str, str]:
    """The versions of epsim, Python and the libraries behind the numbers (read once)."""
    return dict(_versions())


@functools.lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    import gmsh
    import meshio
    import pyamg
    import scipy

    from simulator.version import __version__
    return {"epsim": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "pyamg": pyamg.__version__, "gmsh": gmsh.__version__,
            "meshio": meshio.__version__}


def assumptions_of(result: "Result") -> tuple[dict[str, float], dict]:
    """Healthy irreversible volume per material (m^3) and the headline figures resting on [A]
    values (:mod:`simulator.post.assumptions`)."""
    from simulator.post.assumptions import assumed_figures, healthy_irreversible_by_material
    sc = result.scenario
    by_material = healthy_irreversible_by_material(result.mesh, result.train.E_max, result.train.weights,
                                                   result.E_irr, result.recovered_field())
    figures = assumed_figures(sc.materials, by_material, [t.material for t in sc.tumours], sc.margin_threshold,
                              [layer.material for layer in sc.tissue.layers])
    return by_material, figures


def warnings_of(result: "Result") -> list[str]:
    """Generator-limit and other warnings (also shown on the terminal)."""
    sc = result.scenario
    out = []
    from simulator.post.coverage import far_boundary_reach
    reach = far_boundary_reach(result.mesh, sc.tissue.size, result.train.E_max, result.E_rev,
                               sc.electrode.clamped)
    if reach > 0:
        fix = ("the block is tissue.image's extent: use an image with more tissue around the treated region"
               if sc.tissue.image is not None else "enlarge tissue.size_mm")
        out.append(f"the reversible region reaches the block's far walls ({100 * reach:.1f} % of the wall cells): "
                   f"the reversible volume depends on the block size; {fix}")
    unused = [n for n in (sc.source or {}).get("materials", {}) or {} if n not in sc.materials]
    if unused:
        out.append(f"{', '.join(f'[materials.{n}]' for n in unused)} defined but used by no tissue layer, "
                   "tumour or surface: the values have no effect in this run")
    for g in result.train.groups:
        label = f"{g.group.label_anode} -> {g.group.label_cathode}"
        if g.group.voltage > sc.generator.max_voltage:
            out.append(f"pulse {label}: {g.group.voltage:g} V exceeds the generator limit "
                       f"{sc.generator.max_voltage:g} V")
        peak = max(abs(c) for c in g.currents or (g.current,))
        if peak > sc.generator.max_current:
            out.append(f"pulse {label}: predicted current {peak:.3g} A exceeds the generator limit "
                       f"{sc.generator.max_current:g} A")
    out.extend(getattr(result.accuracy, "warnings", None) or [])      # targets missed (issue 11)
    from simulator.post.assumptions import assumption_warnings
    by_material, figures = assumptions_of(result)
    out += assumption_warnings(figures, by_material, sc.materials)
    return out


def cold_regions_of(result: "Result") -> list:
    """The run's cold parts of tumour + margin with their causes, largest first
    (:func:`simulator.post.diagnosis.diagnose`; the report and the figures use these)."""
    from simulator.post.diagnosis import diagnose
    sc = result.scenario
    return diagnose(result.mesh, sc.tumours, sc.electrode, sc.tissue, result.train.E_max, result.train.weights,
                    result.E_rev, sc.margin_threshold, result.recovered_field() if sc.tumours else None)


def diagnosis_of(result: "Result") -> dict:
    """``diagnosis``: the cold parts of tumour + margin and their causes (post.diagnosis)."""
    from simulator.post.diagnosis import diagnosis_report
    return diagnosis_report(cold_regions_of(result))


def applications_of(result: "Result") -> list[dict]:
    """``applications[]`` (several applications): contacts, voltage, pulses and currents of each."""
    out, k = [], 0
    for i, app in enumerate(result.scenario.applications):
        groups = result.train.groups[k:k + len(app.protocol.groups)]
        k += len(app.protocol.groups)
        out.append({"index": i + 1, "type": app.electrode.type, "contacts": list(app.electrode.contact_names),
                    "voltage_V": _r(app.protocol.max_voltage), "pulses": app.protocol.total_pulses,
                    "currents_A": [_r(g.current) for g in groups],
                    "max_current_A": _r(max(abs(g.current) for g in groups))})
    return out


def _cov(t) -> dict:
    return {
        "tumour_reversible_fraction": _r(t.reversible_fraction) if t else None,
        "tumour_irreversible_fraction": _r(t.irreversible_fraction) if t else None,
        "margin_reversible_fraction": _r(t.margin_reversible_fraction) if t else None,
        "covered": t.covered if t else None,
    }


def _coverage(result: "Result") -> dict:
    sc = result.scenario
    first = result.tumours[0] if result.tumours else None
    coverage = _cov(first) if len(result.tumours) <= 1 else {
        "tumour_reversible_fraction": _r(min(t.reversible_fraction for t in result.tumours)),
        "tumour_irreversible_fraction": _r(min(t.irreversible_fraction for t in result.tumours)),
        "margin_reversible_fraction": _r(min(t.margin_reversible_fraction for t in result.tumours)),
        "covered": result.covered,
    }
    coverage["tolerance"] = sc.coverage_tolerance
    coverage["verdict_certain"] = verdict_certain(result)
    coverage["margin_threshold"] = sc.margin_threshold
    return coverage


def _tumours(result: "Result") -> list[dict]:
    return [{"name": t.name, **_cov(t), "volume_mm3": _r(t.volume / MM3),
             "margin_volume_mm3": _r(t.margin_volume / MM3), "min_field_V_per_cm": _r(t.min_field / V_PER_CM)}
            for t in result.tumours]


def _solver(result: "Result") -> dict:
    sc, tr = result.scenario, result.train
    return {
        "engine": result.engine, "degree": sc.solver.degree, "model": sc.solver.model,
        "conductivity_models": {name: m.conductivity_model for name, m in sorted(sc.materials.items())},
        "idle_contacts": sc.solver.idle_contacts,
        "dofs": result.dofs, "cells": result.mesh.num_cells, "mesh_order": result.mesh.order,
        "nonlinear_iterations": tr.nonlinear_iterations, "linear_iterations": tr.linear_iterations,
        "distinct_configurations": tr.distinct_configurations,
        "converged": tr.converged, "rtol": sc.solver.rtol, "mesh_from_cache": result.mesh_from_cache,
    }


def coverage_report(result: "Result") -> dict:
    """The part of :func:`build_report` a study keeps of each run (``epsim robustness``
    rows): ``coverage``, ``tumours`` and ``solver``, the same keys and values; nothing else
    is computed (no volumes, zones, diagnosis or thermal figures: a run made with
    ``run(..., coverage_only=True)`` has none)."""
    from simulator.output.finite import finite_report
    out = {"report_version": REPORT_VERSION, "name": result.scenario.name, "coverage": _coverage(result),
           "solver": _solver(result)}
    if result.tumours:
        out["tumours"] = _tumours(result)
    return finite_report(out)


def build_report(result: "Result") -> dict:
    sc = result.scenario
    tr = result.train
    coverage = _coverage(result)
    pulses = []
    for g in tr.groups:
        pg = g.group
        pulses.append({
            "anode": pg.label_anode or "+".join(pg.anode), "cathode": pg.label_cathode or "+".join(pg.cathode),
            "voltage_V": _r(pg.voltage), "current_A": _r(g.current), "count": pg.count,
            "duration_us": _r(pg.duration * 1e6), "frequency_Hz": _r(pg.frequency),
            "energy_J": _r(pg.voltage * (sum(g.currents) / len(g.currents) if g.currents else g.current)
                           * pg.on_time),
            "currents_A": [_r(c) for c in (g.currents or (g.current,) * pg.count)],
            "floating_potentials_V": {k: _r(v) for k, v in g.floating_potentials.items()},
        })
    v = result.volumes
    by_material, assumed = assumptions_of(result)
    fig = thermal_figures(result)
    report = {
        "report_version": REPORT_VERSION,
        "name": sc.name,
        "coverage": coverage,
        "volumes_mm3": {
            "tumour": _r(v["tumour"] / MM3) if result.tumours else None,
            "reversible": _r(v["reversible"] / MM3),
            "irreversible": _r(v["irreversible"] / MM3),
            "healthy_irreversible": _r(v["healthy_irreversible"] / MM3),
            "tissue": _r(v["tissue"] / MM3),
            "kill_probability_0_9": _r(v["kill_probability_0_9"] / MM3) if "kill_probability_0_9" in v else None,
        },
        "healthy_irreversible_by_material_mm3": {k: _r(x / MM3) for k, x in sorted(by_material.items())},
        "assumed_values": {k: {"rests_on": f["rests_on"], "assumed_share": _r(f["assumed_share"])}
                           for k, f in assumed.items()},
        "pulses": pulses,
        "total_pulses": sc.protocol.total_pulses,
        "delivered_energy_J": _r(sum(p["energy_J"] for p in pulses)),
        "max_current_A": _r(max(max(abs(c) for c in g.currents or (g.current,)) for g in tr.groups)),
        "max_temperature_rise_K": _r(float(tr.temperature_rise.max())),
        "max_field_V_per_cm": _r(float(tr.E_max.max()) / V_PER_CM),
        "electrode": {"type": sc.electrode.type, "distance_mm": _r(sc.electrode.distance / MM),
                      "contacts": list(sc.electrode.contact_names)},
        "protocol": {"preset": sc.protocol.preset or None, "groups": len(sc.protocol.groups),
                     "treatment_time_s": _r(sc.protocol.train_time), "effects": protocol_effects(sc)},
        "generator": {"max_voltage_V": sc.generator.max_voltage, "max_current_A": sc.generator.max_current},
        "thermal": thermal_section(result, fig),
        "warnings": warnings_of(result) + thermal_warnings(fig),
        "solver": _solver(result),
        "accuracy": accuracy_block(result),
        "timings_s": {k: round(t, 4) for k, t in result.timings.items()},
        "versions": versions(),
    }
    if sc.cell_kill is not None:
        report["cell_kill"] = {"model": sc.cell_kill.model, "pulse_count": "pulses at E >= E_rev of the tissue",
                               "constants": {m: cell_kill_constants(sc.cell_kill.for_material(m))
                                             for m in sorted(sc.materials)}}
    report["zones"] = [{
        "name": z.name, "threshold_V_per_cm": None if z.threshold is None else _r(z.threshold / V_PER_CM),
        **({"threshold_by_tissue_V_per_cm": {k: _r(v / V_PER_CM) for k, v in z.threshold_by_tissue.items()}}
           if z.threshold_by_tissue else {}),
        "volume_mm3": _r(z.volume / MM3), "extent_mm": [_r(e / MM, 4) for e in z.extent],
    } for z in result.zones]
    report["diagnosis"] = diagnosis_of(result)
    if sc.applications:
        report["applications"] = applications_of(result)
    if result.tumours:
        report["tumours"] = _tumours(result)
    add_no_go(report, result)
    from simulator.output.summary import registry_summary
    report["summary"] = registry_summary(result, report)
    from simulator.output.finite import finite_report
    return finite_report(report)         # strict JSON: never NaN / Infinity


def add_no_go(report: dict, result: "Result") -> None:
    """``no_go[]``: field reaching each named no-go region, with a warning where tissue there
    is above its E_rev."""
    from simulator.post.no_go import no_go_exposure
    sc, tr = result.scenario, result.train
    rows = no_go_exposure(result.mesh, sc.no_go, tr.E_max, tr.weights, result.E_rev, result.E_irr,
                          result.recovered_field() if sc.no_go else None)
    if not rows:
        return
    report["no_go"] = [{
        "name": r.name, "volume_mm3": _r(r.volume / MM3), "max_field_V_per_cm": _r(r.max_field / V_PER_CM),
        "volume_above_E_rev_mm3": _r(r.volume_above_rev / MM3),
        "volume_above_E_irr_mm3": _r(r.volume_above_irr / MM3)} for r in rows]
    for r in rows:
        if r.volume == 0:
            report["warnings"].append(f"no-go region {r.name!r} contains no tissue cell (outside the tissue?)")
        elif r.volume_above_rev > 0:
            report["warnings"].append(f"no-go region {r.name!r}: {r.volume_above_rev / MM3:.3g} mm3 above E_rev "
                                      f"(max field {r.max_field / V_PER_CM:.0f} V/cm)")


def cell_kill_constants(c) -> dict:
    """Peleg-Fermi constants in scenario units (V/cm)."""
    return {"E_c0_V_per_cm": _r(c.E_c0 / V_PER_CM), "A0_V_per_cm": _r(c.A0 / V_PER_CM), "k1": c.k1, "k2": c.k2}


def summary_table(report: dict) -> str:
    """A short plain-text summary for the terminal."""
    c, v, s = report["coverage"], report["volumes_mm3"], report["solver"]

    def pct(x):
        return "n/a" if x is None else f"{100 * x:.1f} %"

    def num(x, spec):                   # None: a non-finite value (see the report's warnings)
        return "n/a" if x is None else format(x, spec)

    curved = " on curved cells" if s.get("mesh_order") == 2 else ""
    lines = [f"scenario {report['name']}: engine {s['engine']} P{s['degree']}{curved}, {s['model']} model, "
             f"{s['dofs']} DOFs, {s['cells']} cells, {s['nonlinear_iterations']} "
             f"{'Newton iterations' if s['model'] == 'stationary' else 'sequential steps'}"]
    sm = report.get("summary")
    if sm:
        volts = "/".join(f"{v:g}" for v in sm["voltage_V"])
        lines.append(f"applied: {volts} V ({sm['voltage_to_distance_ratio_V_per_cm']:g} V/cm over "
                     f"{sm['electrode_distance_mm']:g} mm), {sm['pulses']} x "
                     f"{'/'.join(f'{d:g}' for d in sm['pulse_duration_us'])} us at "
                     f"{'/'.join(f'{f:g}' for f in sm['frequency_Hz'])} Hz, protocol "
                     f"{sm['protocol_preset'] or 'custom'}, electrode {sm['electrode_catalogue'] or sm['electrode_type']}, "
                     f"{s['model']} model")
    if "tumours" in report:
        lines.append(f"{'tumour':<10}{'reversible':>12}{'irreversible':>14}{'+margin':>10}{'min E V/cm':>12}  covered")
        for t in report["tumours"]:
            lines.append(f"{t['name']:<10}{pct(t['tumour_reversible_fraction']):>12}"
                         f"{pct(t['tumour_irreversible_fraction']):>14}{pct(t['margin_reversible_fraction']):>10}"
                         f"{num(t['min_field_V_per_cm'], '.0f'):>12}  {'yes' if t['covered'] else 'NO'}")
    else:
        lines.append("no tumour: field study (coverage n/a)")
    lines.append(f"volumes: reversible {num(v['reversible'], '.1f')} mm3, irreversible "
                 f"{num(v['irreversible'], '.1f')} mm3, healthy irreversible {num(v['healthy_irreversible'], '.1f')} mm3")
    lines.append(f"pulses: {report['total_pulses']} in {len(report['pulses'])} group{'s' * (len(report['pulses']) != 1)}, max current "
                 f"{num(report['max_current_A'], '.3g')} A")
    lines.append(thermal_line(report))
    lines.append(accuracy_line(report))
    lines.append(effects_line(report["protocol"]["effects"]))
    if v.get("kill_probability_0_9") is not None:
        lines.append(f"cell kill ({report['cell_kill']['model']}): {num(v['kill_probability_0_9'], '.1f')} mm3 with "
                     "kill probability >= 0.9")
    for z in report.get("zones", []):
        w, d, h = (num(e, ".1f") for e in z["extent_mm"])
        lines.append(f"zone {z['name']}: {num(z['volume_mm3'], '.1f')} mm3, {w} x {d} x {h} mm "
                     "(width x depth x height along the electrode axes)")
    if "tumours" in report and "diagnosis" in report:
        from simulator.post.diagnosis import diagnosis_line
        lines.append(diagnosis_line(report["diagnosis"]))
    for w in report["warnings"]:
        lines.append(f"WARNING: {w}")
    verdict = c["covered"]
    lines.append("verdict: " + ("no tumour" if verdict is None else "COVERED" if verdict else "NOT COVERED"))
    return "\n".join(lines)
