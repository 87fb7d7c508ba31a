"""The report's ``accuracy`` block, ``coverage.verdict_certain`` and the terminal line with
the error bars (from :class:`simulator.solve.accuracy.Accuracy`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.units import MM

if TYPE_CHECKING:
    from simulator.solve.result import Result

MM3 = MM**3
VOLUMES = ("reversible", "irreversible", "healthy_irreversible")


def _r(x, nd: int = 4):
    return None if x is None else float(f"{float(x):.{nd}g}")


def _rel(fig) -> float | None:
    """Relative error of a figure (None when its value is 0 but its error is not)."""
    if fig.error is None:
        return None
    if fig.value == 0:
        return 0.0 if fig.error == 0 else None
    return _r(fig.error / abs(fig.value))


def _levels(acc) -> str:
    """How the levels were sized, for the method line."""
    sizes = ', '.join(f'{lv.refinement:.3g}' for lv in acc.levels)
    if getattr(acc, "mode", "uniform") == "indicator":
        return (f"levels >= 1 meshed from an error-equidistributing size map (ZZ indicator weighted by the "
                f"figures' tolerances), h from the DOFs: h/h0 = {sizes}")
    return f"all element sizes x {sizes}"


def accuracy_block(result: "Result") -> dict:
    acc = result.accuracy
    if acc is None:
        return {"method": "none: one fixed mesh ([mesh] accuracy = 0 or a given mesh), no error estimate",
                "target": None, "met": None, "current_rel": None, "volumes_rel": None, "coverage_abs": None,
                "tumours": [], "levels": []}
    figs = acc.figures
    n = len(acc.levels)
    groups = [_rel(figs[f"current[{i}]"]) for i in range(len(result.train.groups))]
    known = [g for g in groups if g is not None]
    names = [t.name for t in result.tumours]

    def cov(name: str, part: str):
        return _r(figs[f"coverage.{name}.{part}"].error)

    def worst(part: str):
        vals = [cov(n_, part) for n_ in names]
        return None if not vals or any(v is None for v in vals) else max(vals)

    return {
        "method": (f"Richardson extrapolation over {n} mesh levels ({_levels(acc)}), the order observed from the "
                   "last three levels per figure (clamped to [1, 2]; 1.5 assumed with two levels, 1 when the "
                   "differences do not shrink); the figures reported are the finest level's"),
        "target": {"relative": acc.target, "coverage_absolute": acc.coverage_target},
        "met": acc.met, "stopped_by": acc.stopped_by, "next_level_dofs": acc.next_dofs,
        "current_rel": {"groups": groups, "max": max(known) if len(known) == len(groups) and known else None},
        "volumes_rel": {k: _rel(figs[f"volumes.{k}"]) for k in VOLUMES},
        "volumes_abs_mm3": {k: _r(None if figs[f"volumes.{k}"].error is None else figs[f"volumes.{k}"].error / MM3)
                            for k in VOLUMES},
        "coverage_abs": {"tumour": worst("tumour"), "margin": worst("margin")},
        "tumours": [{"name": n_, "tumour": cov(n_, "tumour"), "margin": cov(n_, "margin")} for n_ in names],
        "orders": {k: _r(f.order, 3) for k, f in figs.items() if f.order is not None},
        "levels": [{
            "refinement": _r(lv.refinement), "size_mm": _r(lv.size / MM), "dofs": lv.dofs, "cells": lv.cells,
            "time_s": round(lv.time, 3), "currents_A": [_r(c, 6) for c in lv.currents],
            "volumes_mm3": {k: _r(v / MM3, 6) for k, v in lv.volumes.items()},
            "coverage": {k: {"tumour": _r(a, 6), "margin": _r(b, 6)} for k, (a, b) in lv.tumours.items()},
            "newton_iterations": lv.newton_iterations, "cg_iterations": lv.cg_iterations,
        } for lv in acc.levels],
    }


def verdict_certain(result: "Result") -> bool | None:
    """True when every tumour's margin coverage +- its error lies wholly on one side of the
    ``covered`` threshold (1 - tolerance); None without a tumour or an estimate."""
    acc = result.accuracy
    if acc is None or not result.tumours:
        return None
    line = 1.0 - result.scenario.coverage_tolerance
    for t in result.tumours:
        e = acc.figures[f"coverage.{t.name}.margin"].error
        if e is None:
            return None
        m = t.margin_reversible_fraction
        if not (m - e >= line or m + e < line):
            return False
    return True


def accuracy_line(report: dict) -> str:
    """One terminal line with the error bars (or a note that there are none)."""
    a = report.get("accuracy") or {}
    if not a.get("levels"):
        return "accuracy: one fixed mesh, no error estimate (set [mesh] accuracy > 0)"

    def pct(x):
        return "n/a" if x is None else f"+-{100 * x:.2g} %"

    v, vol = a["volumes_rel"], report["volumes_mm3"]
    parts = [f"current {pct(a['current_rel']['max'])}"] + [
        f"{k.replace('_', ' ')} {pct(v[k]) if vol[k] else 'none'}" for k in VOLUMES]
    c = a["coverage_abs"]
    if c["margin"] is not None:
        parts.append(f"coverage tumour +-{c['tumour']:.2g}, margin +-{c['margin']:.2g}")
    certain = report["coverage"].get("verdict_certain")
    tail = "" if certain is None else "; verdict certain" if certain else "; verdict UNCERTAIN within the error bar"
    last = a["levels"][-1]
    return (f"accuracy (Richardson, {len(a['levels'])} levels, finest {last['dofs']} DOFs, target "
            f"{100 * a['target']['relative']:g} %{'' if a['met'] else ', NOT MET'}): " + ", ".join(parts) + tail)
