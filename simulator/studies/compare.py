"""Side-by-side comparison of scenarios: each run on its own mesh, one row per scenario
(the sweep's row: coverage, volumes, current, energy, heating, electrode, voltage, pulses,
treatment time), ``compare.csv`` / ``compare.json`` and ``compare.png`` (field slices of
every scenario on one colour scale)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from simulator.output.atomic import atomic_directory, write_json
from simulator.studies.table import rows_csv, report_row

COMPARE_VERSION = 1
# the rows of the terminal table: (row key, label)
TABLE = (
    ("electrode", "electrode"), ("electrode_distance_mm", "distance (mm)"), ("max_voltage_V", "voltage (V)"),
    ("total_pulses", "pulses"), ("treatment_time_s", "treatment time (s)"),
    ("coverage.tumour_reversible_fraction", "tumour >= E_rev"),
    ("coverage.tumour_irreversible_fraction", "tumour >= E_irr"),
    ("coverage.margin_reversible_fraction", "tumour+margin >= E_rev"), ("coverage.covered", "covered"),
    ("volumes_mm3.reversible", "reversible (mm3)"), ("volumes_mm3.irreversible", "irreversible (mm3)"),
    ("volumes_mm3.healthy_irreversible", "healthy irrev. (mm3)"), ("max_current_A", "max current (A)"),
    ("delivered_energy_J", "energy (J)"), ("max_temperature_rise_K", "max dT (K)"),
    ("solver.dofs", "DOFs"), ("run_time_s", "run time (s)"),
)


def run_compare(scenarios: list, *, engine: str | None = None,
                progress: Callable[[str], None] | None = None) -> tuple[list, list[dict]]:
    """Run every scenario; (results, reports) in the given order."""
    from simulator.output.report import build_report
    from simulator.solve.pipeline import run
    say = progress or (lambda _m: None)
    results, reports = [], []
    for k, sc in enumerate(scenarios):
        say(f"scenario {k + 1}/{len(scenarios)}: {sc.name}")
        res = run(sc, engine=engine)
        results.append(res)
        reports.append(build_report(res))
    return results, reports


def compare_rows(reports: list[dict], files: list[str] | None = None) -> list[dict]:
    """One row per report (the scenario file first when given)."""
    return [report_row(r, {"scenario_file": f} if files else None) for r, f in
            zip(reports, files or [None] * len(reports))]


def compare_text(rows: list[dict]) -> str:
    """Figures as lines, scenarios as columns."""
    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "NO"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)
    names = [r["name"] for r in rows]
    body = [[label] + [cell(r.get(k)) for r in rows] for k, label in TABLE]
    head = [""] + names
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
                     for line in [head] + body)


def write_compare(results: list, rows: list[dict], out_dir: Path, *, force: bool = False,
                  figures: bool = True, inputs: dict[str, str] | None = None) -> list[Path]:
    """compare.csv, compare.json, compare.png and report.html (``inputs`` shown on it), atomically."""
    doc = {"compare_version": COMPARE_VERSION, "scenarios": [r["name"] for r in rows], "rows": rows}
    with atomic_directory(out_dir, force) as tmp:
        (tmp / "compare.csv").write_text(rows_csv(rows), encoding="utf-8")
        write_json(tmp / "compare.json", doc)
        if figures:
            from simulator.studies.figures import plot_compare_slices
            plot_compare_slices(results, tmp / "compare.png")
        from simulator.output.html_report import study_html
        (tmp / "report.html").write_text(study_html("epsim compare: " + " vs ".join(doc["scenarios"]), doc, tmp,
                                                    table_key="rows", inputs=inputs), encoding="utf-8")
        names = sorted(p.name for p in tmp.iterdir())
    return [Path(out_dir) / n for n in names]
