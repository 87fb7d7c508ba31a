"""What ``epsim plan`` writes: plan.json, planned.toml (the best plan as a scenario) and
plan.png (the best plan's reversible footprint over the lesion: top view at the tumour's
centre depth, depth view through its centre; cold tumour + margin cells shaded red).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from simulator.output.atomic import atomic_directory, write_json
from simulator.units import MM, V_PER_CM


def write_plan(plan, out_dir: Path, *, force: bool = False, figures: bool = True,
               inputs: dict[str, str] | None = None) -> list[Path]:
    """Write the plan's files atomically into ``out_dir`` (``inputs``: shown on report.html)."""
    import tomli_w
    with atomic_directory(out_dir, force) as tmp:
        write_json(tmp / "plan.json", plan.report)
        if plan.best_data is not None:
            header = ("# epsim plan: the best plan (rank 1 of plan.json) as a scenario; "
                      "`epsim run` on it reproduces the plan\n")
            (tmp / "planned.toml").write_text(header + tomli_w.dumps(plan.best_data), encoding="utf-8")
            if figures and plan.best_result is not None:
                plot_plan(plan.best_result, plan.report["best"], tmp / "plan.png")
        from simulator.output.html_report import study_html
        (tmp / "report.html").write_text(study_html("epsim plan", plan.report, tmp, table_key="candidates",
                                                                 inputs=inputs), encoding="utf-8")
        names = sorted(p.name for p in tmp.iterdir())
    return [Path(out_dir) / n for n in names]


def plot_plan(result, best: dict, path: Path) -> Path:
    """Two panels (top view, depth view) of the best plan's max field with its E_rev contour."""
    import matplotlib
    from matplotlib.colors import ListedColormap, Normalize
    from matplotlib.figure import Figure
    from simulator.output import figures as fg
    from simulator.output.report import cold_regions_of

    sc = result.scenario
    centre = np.asarray(sc.tumours[0].centre, dtype=float)
    field = result.train.E_max.max(axis=1) / V_PER_CM
    nodal = fg.recover_nodal(result.mesh, field)
    mat = fg._reference_material(result, float(centre[2]))
    E_rev = mat.E_rev / V_PER_CM
    cold = np.zeros(len(result.mesh.cell_region))          # the report's cold regions (post.diagnosis)
    threshold = np.asarray(result.E_rev, dtype=float) / V_PER_CM   # V/cm, each cell's, as the diagnosis judges
    materials = {t.name: t.material for t in sc.tumours}
    for r in cold_regions_of(result):
        cold[r.cells] = 1.0
        if sc.margin_threshold == "tumour" and r.tumour in materials:   # tumour + margin at the tumour's E_rev
            threshold[r.cells] = sc.materials[materials[r.tumour]].E_rev / V_PER_CM
    fig = Figure(figsize=(11.0, 4.8))
    cmap = matplotlib.colormaps[fg.FIELD_CMAP].with_extremes(bad="white")
    app = best["applications"][0]
    for k, (axis, title) in enumerate(((2, "top view"), (1, "depth view"))):
        ax = fig.add_subplot(1, 2, k + 1)
        ur, vr = fg._slice_ranges(result, axis)
        sample = fg.sample_plane(result.mesh, axis, float(centre[axis]), ur, vr, pixels=360)
        ext = tuple(e / MM for e in sample.extent)
        im = ax.imshow(sample.values(field), origin="lower", extent=ext, cmap=cmap,
                       norm=Normalize(0.0, 2.0 * mat.E_irr / V_PER_CM), interpolation="nearest")
        S = sample.interpolate(result.mesh, nodal)
        U, V = sample.u / MM, sample.v / MM
        if S.count() and S.min() < E_rev < S.max():
            ax.contour(U, V, S, levels=[E_rev], colors="white", linewidths=1.2)
        # red: the part of a cold cell where the recovered field on this plane is below the
        # cell's threshold
        # (whole cells exaggerated tiny cold regions: 0.057 mm3 showed as two 1.5 mm triangles
        # on the covered side of the E_rev line)
        C = sample.values(cold)
        below = np.ma.filled(S < sample.values(threshold), False) if S.count() else np.zeros(C.shape, bool)
        shade = np.ma.masked_where(~(np.ma.filled(C >= 0.5, False) & below), C)
        if shade.count():
            ax.imshow(shade, origin="lower", extent=ext, interpolation="nearest",
                      cmap=ListedColormap(["red"]), alpha=0.6)
        if axis == 1:
            fg._draw_layers(ax, sc.tissue, ext)
        fg._draw_tumours(ax, sc.tumours, sample)
        fg._draw_electrodes(ax, sc.electrode, sample, ext[3] * MM)
        ax.set_xlim(ext[0], ext[1])
        ax.set_ylim(ext[2], ext[3])
        ax.set_aspect("equal")
        names = "xyz"
        ax.set_xlabel(f"{names[sample.axes[0]]} (mm)")
        ax.set_ylabel(f"{names[sample.axes[1]]} (mm)")
        ax.set_title(f"{title}, {names[axis]} = {sample.value / MM:.1f} mm", fontsize=9)
        ax.tick_params(labelsize=8)
    cb = fig.colorbar(im, ax=fig.axes, shrink=0.85, pad=0.02)
    cb.set_label("max |E| (V/cm); white line: E_rev; red: cold tumour + margin", fontsize=8)
    cov = best["coverage"]["margin_reversible_fraction"]
    n = len(best["applications"])
    fig.suptitle(f"plan: {best['electrode']}{f' x {n}' if n > 1 else ''} ({best['amplitude']}) at "
                 f"{app['voltage_V']:g} V, insertion "
                 f"{app['insertion_depth_mm']} mm; tumour + margin {100 * cov:.1f} % "
                 f"{'covered' if best['coverage']['covered'] else 'NOT covered'}", fontsize=10)
    fig.savefig(path, dpi=150, metadata={"Software": None})
    return path


def plan_table(report: dict, limit: int = 12) -> str:
    """The terminal table of ranked entries."""
    lines = [f"{'rank':>4}  {'electrode':<14}{'amplitude':<10}{'apps':>5}{'V':>8}{'depth mm':>9}{'+margin':>9}"
             f"{'healthy irr mm3':>16}{'pulses':>7}{'I max A':>8}{'time s':>8}  covered"]
    for e in report["candidates"][:limit]:
        a = e["applications"][0]
        depth = "-" if a["insertion_depth_mm"] is None else f"{a['insertion_depth_mm']:g}"
        cov = e["coverage"]["margin_reversible_fraction"]
        lines.append(f"{e['rank']:>4}  {e['electrode']:<14}{e['amplitude']:<10}{len(e['applications']):>5}"
                     f"{a['voltage_V']:>8.1f}{depth:>9}"
                     f"{100 * cov:>8.1f}%{e['healthy_irreversible_mm3']:>16.1f}{e['total_pulses']:>7}"
                     f"{e['max_current_A']:>8.2f}{e['treatment_time_s']:>8.0f}  "
                     f"{'yes' if e['feasible'] else 'no'}")
    if len(report["candidates"]) > limit:
        lines.append(f"      ... {len(report['candidates']) - limit} more in plan.json")
    mv = report["minimum_voltage_V"]
    lines.append(f"minimum voltage of the scenario's own electrode: "
                 f"{'none up to the generator maximum' if mv is None else f'{mv:g} V'}")
    if report["diagnosis"]:
        from simulator.post.diagnosis import diagnosis_line
        lines.append("as given: " + diagnosis_line(report["diagnosis"]))
    for s in report["skipped"]:
        lines.append(f"skipped {s['electrode']}: {s['reason']}")
    for w in report["warnings"]:
        lines.append(f"WARNING: {w}")
    b = report["best"]
    if b is not None:
        n = len(b["applications"])
        lines.append(f"plan: {b['electrode']}{f' x {n} applications' if n > 1 else ''} at "
                     f"{b['applications'][0]['voltage_V']:g} V, {b['treatment_time_s']:.0f} s "
                     f"({'feasible' if report['feasible'] else 'NOT feasible'}); at least "
                     f"{report['applications_lower_bound']} application(s) needed")
    return "\n".join(lines)
