"""Everything a run writes (report, field, coverage table and figures), atomically.
"""
from __future__ import annotations
from pathlib import Path
from typing import TYPE_CHECKING
from simulator.output.atomic import atomic_directory
from simulator.output.fields import write_field
from simulator.output.atomic import write_json
from simulator.output.report import build_report


if TYPE_CHECKING:
    from simulator.solve.pipeline import Result


def write_outputs(result: "Result", out_dir: Path, *, force: bool = False, figures: bool = True) -> list[Path]:
    """report.json, report.html, scenario.resolved.toml, field.vtu, coverage.csv/png (with tumours) and
    slice PNGs, atomically."""
    report = build_report(result)
    with atomic_directory(out_dir, force) as tmp:
        write_json(tmp / "report.json", report)
        write_field(result, tmp / ("field.xdmf" if result.engine == "dolfinx" else "field.vtu"))
        from simulator.output import figures as plot
        if result.tumours:
            plot.write_coverage_csv(result, tmp / "coverage.csv")
        if figures:
            if result.tumours:
                plot.plot_coverage_curves(result, tmp / "coverage.png")
            plot.plot_slices(result, tmp)
            if result.kill_probability is not None:
                from simulator.output.kill_figure import plot_kill_probability
                plot_kill_probability(result, tmp / "kill_probability.png")
            if result.thermal is not None:
                from simulator.output.thermal_figure import plot_pulse_temperatures
                plot_pulse_temperatures({result.scenario.name: result.thermal}, tmp / "thermal.png")
        from simulator.scenario.resolve import resolved_toml
        resolved = resolved_toml(result.scenario)
        (tmp / "scenario.resolved.toml").write_text(resolved, encoding="utf-8")
        from simulator.output.html_report import build_html
        view = None
        if figures:
            from simulator.output.view3d import view_html
            view = view_html(result)
        (tmp / "report.html").write_text(build_html(result, report, tmp, resolved, view), encoding="utf-8")
        names = sorted(p.name for p in tmp.iterdir())
    return [Path(out_dir) / n for n in names]
