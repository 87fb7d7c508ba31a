"""Files of a sweep, all or nothing: ``sweep.csv``, ``sweep.json``, ``sweep.png``,
``coverage_curves.png`` and ``report.html`` (the page of them all); an interrupted sweep
writes only ``sweep.partial.csv`` and ``sweep.partial.json`` (``"complete": false``), never
a file named like a finished one.
"""
from __future__ import annotations

from pathlib import Path

from simulator.output.atomic import atomic_directory, write_json
from simulator.post.coverage import CURVE_THRESHOLDS_V_PER_M
from simulator.studies.table import rows_csv
from simulator.units import V_PER_CM

SWEEP_VERSION = 1


def sweep_document(sweep, rows: list[dict]) -> dict:
    """The JSON of a sweep: what was varied, how much work it took, rows and curves."""
    done = [i for i, r in enumerate(sweep.reports) if r is not None]
    return {
        "sweep_version": SWEEP_VERSION,
        "scenario": sweep.base_name,
        "complete": sweep.complete,
        "interrupted": sweep.interrupted,
        "varied": [{"key": v.key, "values": list(v.values)} for v in sweep.variations],
        "points": len(sweep.points),
        "points_done": len(done),
        "distinct_runs": sweep.distinct,
        "mesh_builds": sweep.mesh_builds,
        "tasks": sweep.tasks,
        "field_solves": sum(s for i, s in enumerate(sweep.solves) if s is not None and sweep.same_as[i] == i),
        "timings_s": {k: round(v, 4) for k, v in sweep.timings.items()},
        "warnings": sweep.warnings,
        "rows": rows,
        "coverage_curves": {
            "thresholds_V_per_cm": [float(f"{x:g}") for x in CURVE_THRESHOLDS_V_PER_M / V_PER_CM],
            "runs": [{"row": k, "tumours": {n: [round(f, 6) for f in c] for n, c in sweep.curves[i].items()}}
                     for k, i in enumerate(done)],
        },
    }


def run_labels(sweep) -> tuple[list[str], list[tuple[int, int]]]:
    """Legend label and (colour, dash) index of each point: colour by the first key's value,
    dash by the other keys' combination; keys with a single value are left out."""
    from simulator.studies.figures import _label
    keys = [v.key for v in sweep.variations if len(v.values) > 1] or [sweep.variations[0].key]
    labels = [", ".join(f"{k.rsplit('.', 1)[-1]}={_label(p[k])}" for k in keys) for p in sweep.points]
    firsts = list(dict.fromkeys(repr(p[keys[0]]) for p in sweep.points))
    rests = list(dict.fromkeys(repr([p[k] for k in keys[1:]]) for p in sweep.points))
    styles = [(firsts.index(repr(p[keys[0]])), rests.index(repr([p[k] for k in keys[1:]]))) for p in sweep.points]
    return labels, styles


def write_sweep(sweep, out_dir: Path, *, force: bool = False, figures: bool = True,
                inputs: dict[str, str] | None = None) -> list[Path]:
    """Write the sweep's files atomically (the partial pair when it is not complete);
    ``inputs`` are shown on report.html."""
    rows = sweep.rows()
    doc = sweep_document(sweep, rows)
    stem = "sweep" if sweep.complete else "sweep.partial"
    with atomic_directory(out_dir, force) as tmp:
        (tmp / f"{stem}.csv").write_text(rows_csv(rows), encoding="utf-8")
        write_json(tmp / f"{stem}.json", doc)
        if sweep.complete and figures:
            from simulator.studies.figures import plot_coverage_overlay, plot_sweep
            keys = [v.key for v in sweep.variations]
            plot_sweep(rows, keys, tmp / "sweep.png", f"{sweep.base_name}: sweep of {', '.join(keys)}")
            labels, styles = run_labels(sweep)
            runs = [(lab, c) for lab, c in zip(labels, sweep.curves) if c]
            if runs:
                plot_coverage_overlay(runs, tmp / "coverage_curves.png",
                                      f"{sweep.base_name}: coverage curves of {len(runs)} runs",
                                      tumour_thresholds(sweep.scenarios),
                                      [st for st, c in zip(styles, sweep.curves) if c])
        if sweep.complete:
            from simulator.output.html_report import study_html
            (tmp / "report.html").write_text(study_html(f"epsim sweep: {sweep.base_name}", doc, tmp, table_key="rows",
                                                        inputs=inputs), encoding="utf-8")
        names = sorted(p.name for p in tmp.iterdir())
    return [Path(out_dir) / n for n in names]


def tumour_thresholds(scenarios) -> dict[str, float]:
    """E_rev / E_irr (V/cm) of the first tumour's material, if the same in every scenario."""
    vals = set()
    for sc in scenarios:
        if sc.tumours:
            m = sc.materials[sc.tumours[0].material]
            vals.add((m.name, m.E_rev / V_PER_CM, m.E_irr / V_PER_CM))
    if len(vals) != 1:
        return {}
    name, rev, irr = vals.pop()
    return {f"E_rev {name}": rev, f"E_irr {name}": irr}
