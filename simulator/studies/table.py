"""Reports collected into table rows (one flat dict per run) and written as CSV.

A row takes its values from the run's report (:func:`simulator.build_report`), so a table
and the individual reports agree exactly. Keys keep the report's dotted names and unit
suffixes (``volumes_mm3.reversible``); per-tumour coverage is ``tumours.<name>.<key>``.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Iterable

COVERAGE_KEYS = ("tumour_reversible_fraction", "tumour_irreversible_fraction", "margin_reversible_fraction",
                 "covered")
VOLUME_KEYS = ("tumour", "reversible", "irreversible", "healthy_irreversible")
SCALARS = ("total_pulses", "max_voltage_V", "max_current_A", "delivered_energy_J", "max_temperature_rise_K",
           "max_field_V_per_cm", "treatment_time_s")
# the figures sweep.png plots and compare prints first: (row key, label)
HEADLINES = (
    ("coverage.margin_reversible_fraction", "tumour + margin >= E_rev (fraction)"),
    ("coverage.tumour_irreversible_fraction", "tumour >= E_irr (fraction)"),
    ("volumes_mm3.reversible", "reversible volume (mm3)"),
    ("volumes_mm3.healthy_irreversible", "healthy irreversible (mm3)"),
    ("max_current_A", "max current (A)"),
    ("delivered_energy_J", "delivered energy (J)"),
    ("max_temperature_rise_K", "max adiabatic dT (K)"),
    ("treatment_time_s", "treatment time (s)"),
)


def report_row(report: dict, varied: dict[str, Any] | None = None) -> dict[str, Any]:
    """One flat row of a report: varied values first, then the figures (see module doc)."""
    row: dict[str, Any] = dict(varied or {})
    row["name"] = report["name"]
    row["electrode"] = report["electrode"]["type"]
    row["electrode_distance_mm"] = report["electrode"]["distance_mm"]
    for k in COVERAGE_KEYS:
        row[f"coverage.{k}"] = report["coverage"][k]
    for t in report.get("tumours", []):
        for k in COVERAGE_KEYS:
            row[f"tumours.{t['name']}.{k}"] = t[k]
        row[f"tumours.{t['name']}.min_field_V_per_cm"] = t["min_field_V_per_cm"]
    for k in VOLUME_KEYS:
        row[f"volumes_mm3.{k}"] = report["volumes_mm3"][k]
    extra = {"max_voltage_V": max(p["voltage_V"] for p in report["pulses"]),
             "treatment_time_s": report["protocol"]["treatment_time_s"]}
    for k in SCALARS:
        row[k] = report[k] if k in report else extra[k]
    for section in ("thermal", "accuracy"):             # added by other issues; numbers only
        for k, v in flatten(report.get(section, {}), section).items():
            row[k] = v
    s = report["solver"]
    row["solver.engine"] = s["engine"]
    row["solver.model"] = s["model"]
    row["solver.conductivity_models"] = ";".join(f"{k}:{v}" for k, v in s["conductivity_models"].items())
    row["solver.dofs"] = s["dofs"]
    row["solver.nonlinear_iterations"] = s["nonlinear_iterations"]
    row["warnings"] = " | ".join(report.get("warnings", []))       # the run's own, as its report has them
    row["run_time_s"] = report["timings_s"].get("total")
    return row


def flatten(d: Any, prefix: str) -> dict[str, Any]:
    """Dotted keys of the numbers, booleans and strings of a nested dict (lists skipped)."""
    if not isinstance(d, dict):
        return {prefix: d} if isinstance(d, (int, float, str, bool)) or d is None else {}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(flatten(v, f"{prefix}.{k}"))
    return out


def columns(rows: Iterable[dict]) -> list[str]:
    """The union of the rows' keys, in first-seen order."""
    return list(dict.fromkeys(k for row in rows for k in row))


def rows_csv(rows: list[dict]) -> str:
    """CSV text of the rows (empty cells where a row lacks a column; floats as %.10g)."""
    buf = io.StringIO()
    cols = columns(rows)
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for row in rows:
        w.writerow([_cell(row.get(c)) for c in cols])
    return buf.getvalue()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)
