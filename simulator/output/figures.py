"""Figures and tables of a run (the output edge: files).

* :func:`plot_slices` writes, for every slice of :func:`~simulator.output.views.slice_views`
  (through each tumour's centre and the largest cold region), ``field_<view>.png``:
  max |E| over the pulse train (V/cm) with the tumour's E_rev / E_irr contours; and, for
  the first pair of slices and the cold region's, ``state_<view>.png``: each tissue's state
  against its own thresholds (:mod:`~simulator.output.slice_figures`). ``field_xz.png`` and
  ``field_xy.png`` pass through the first tumour's centre (or the electrode's centre).
* :func:`plot_coverage_curves` / :func:`write_coverage_csv`: fraction of each tumour's
  volume with max field >= threshold, 0..2000 V/cm.

The field shown is the piecewise-constant cell field (for P2, a cell shows the max over
its sample points), sampled exactly (:mod:`~simulator.output.sampling`); contour lines are
drawn on the field recovered at the nodes per region, so they follow what coverage counts
without blurring tissue interfaces. matplotlib is used through ``matplotlib.figure.Figure``
(Agg canvas, no pyplot state). Lengths are SI (m) in the records; figures are in mm, V/cm.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simulator.output.outlines import ellipse_section as _ellipse_section  # noqa: F401  (re-exported)
from simulator.output.outlines import literal
from simulator.output.outlines import needle_xz as _needle_xz  # noqa: F401
from simulator.output.outlines import plate_x_interval as _plate_x_interval  # noqa: F401
from simulator.output.sampling import PlaneSample, recover_nodal, sample_plane  # noqa: F401
from simulator.output.slice_figures import DPI, field_figure, field_scale, state_codes, state_figure
from simulator.output.views import slice_ranges, slice_views, window
from simulator.post.coverage import CURVE_THRESHOLDS_V_PER_M
from simulator.units import V_PER_CM

if TYPE_CHECKING:                                   # pragma: no cover
    from simulator.solve.pipeline import Result


def _figure(figsize):
    from matplotlib.figure import Figure
    return Figure(figsize=figsize, dpi=DPI, layout="constrained")


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    return path


def reference_material(result: "Result", view_tumour: str | None, z: float):
    """Material whose thresholds the field map contours: the slice's tumour's (else the first
    tumour's), else the layer at depth z (m)."""
    sc = result.scenario
    if sc.tumours:
        t = next((t for t in sc.tumours if t.name == view_tumour), sc.tumours[0])
        return sc.materials[t.material]
    for layer, (top, bottom) in zip(sc.tissue.layers, sc.tissue.layer_bounds()):
        if sc.tissue.layout == "depth" and bottom <= z <= top:
            return sc.materials[layer.material]
    return sc.materials[sc.tissue.layers[-1].material]


# the names the figure helpers had before the split (used by studies.plan_output)
from simulator.output.slice_figures import FIELD_CMAP  # noqa: E402,F401
from simulator.output.outlines import draw_layers as _draw_layers  # noqa: E402,F401
_slice_ranges = slice_ranges


def _reference_material(result: "Result", z: float):
    return reference_material(result, None, z)


def _draw_tumours(ax, tumours, sample: PlaneSample) -> None:
    from simulator.output.outlines import draw_tumours
    draw_tumours(ax, tumours, sample.axis, sample.value)


def _draw_electrodes(ax, e, sample: PlaneSample, z_top: float) -> None:
    from simulator.output.outlines import draw_electrodes
    draw_electrodes(ax, e, sample.axis, sample.value, z_top)


def slice_figures(result: "Result", only: set[str] | None = None) -> list[tuple[str, object]]:
    """(file name, Figure) of every slice figure of the run (or of the file names in
    ``only``), in order."""
    from simulator.output.views import electrode_centre
    field = result.train.E_max.max(axis=1) / V_PER_CM            # V/cm per cell
    nodal = recover_nodal(result.mesh, field)
    codes = state_codes(result)
    from simulator.output.report import cold_regions_of
    cold = cold_regions_of(result)
    views = slice_views(result, cold[0] if cold else None)
    xr, yr, zr, _ = window(result)
    box = ((xr[0], yr[0], zr[0]), (xr[1], yr[1], zr[1]))
    z_ref = float(electrode_centre(result)[2])
    mats = {v.tumour: reference_material(result, v.tumour, z_ref) for v in views}
    vmax = field_scale(result, field, box, max(m.E_irr for m in mats.values()) / V_PER_CM)
    out = []
    for i, view in enumerate(views):
        names = [f"field_{view.stem}.png"] + ([f"state_{view.stem}.png"] if i < 2 or view.stem.endswith("_cold")
                                              else [])
        if only is not None and not set(names) & only:
            continue
        ur, vr = slice_ranges(result, view.axis)
        sample = sample_plane(result.mesh, view.axis, view.value, ur, vr)
        if only is None or names[0] in only:
            out.append((names[0], field_figure(result, view, sample, sample.values(field),
                                               sample.interpolate(result.mesh, nodal), mats[view.tumour], vmax,
                                               cold)))
        if len(names) > 1 and (only is None or names[1] in only):
            out.append((names[1], state_figure(result, view, sample, codes, cold)))
    return out


def plot_slices(result: "Result", out_dir: Path) -> list[Path]:
    """Write every slice figure (:func:`slice_figures`) into ``out_dir``; the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [_save(fig, out_dir / name) for name, fig in slice_figures(result)]


def coverage_table(result: "Result") -> tuple[list[str], np.ndarray]:
    """Header and rows (thresholds in V/cm, then each tumour's fraction) of the coverage curves."""
    header = ["threshold_V_per_cm"] + [t.name for t in result.tumours]
    cols = [CURVE_THRESHOLDS_V_PER_M / V_PER_CM] + [np.asarray(t.curve, dtype=float) for t in result.tumours]
    return header, np.column_stack(cols)


def write_coverage_csv(result: "Result", path: Path) -> Path:
    """CSV: ``threshold_V_per_cm`` then one column per tumour (volume fractions in [0, 1])."""
    header, rows = coverage_table(result)
    path = Path(path)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow([f"{row[0]:g}"] + [f"{v:.6g}" for v in row[1:]])
    return path


def plot_coverage_curves(result: "Result", path: Path) -> Path:
    """Fraction of each tumour's volume with max |E| >= threshold, 0..2000 V/cm."""
    from matplotlib.ticker import MultipleLocator, PercentFormatter

    sc = result.scenario
    fig = _figure((5.6, 3.9))
    ax = fig.add_subplot()
    th = CURVE_THRESHOLDS_V_PER_M / V_PER_CM
    for i, t in enumerate(result.tumours):
        ax.plot(th, 100 * np.asarray(t.curve), color=f"C{i % 10}", lw=1.6, label=literal(t.name), zorder=3)
    seen = set()
    for t in sc.tumours:
        m = sc.materials[t.material]
        for value, ls, tag in ((m.E_rev, "--", "rev"), (m.E_irr, ":", "irr")):
            key = (round(value, 9), tag)
            if key in seen:
                continue
            seen.add(key)
            ax.axvline(value / V_PER_CM, color="0.35", lw=0.9, ls=ls, zorder=2)
            ax.text(value / V_PER_CM, 101.5, f"$E_\\mathrm{{{tag}}}$ {literal(m.name)}", rotation=0, ha="center",
                    va="bottom", fontsize=7, color="0.25")
    if not result.tumours:
        ax.text(0.5, 0.5, "no tumour in this scenario", transform=ax.transAxes, ha="center", va="center",
                color="0.4")
    ax.set_xlim(0, th[-1])
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_formatter(PercentFormatter(100))
    ax.xaxis.set_minor_locator(MultipleLocator(100))
    ax.grid(True, color="0.9", lw=0.6, zorder=0)
    ax.set_xlabel("field threshold E (V/cm)", fontsize=9)
    ax.set_ylabel("tumour volume with max |E| \u2265 E", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.set_title(f"{literal(sc.name)} \u2014 coverage curves", fontsize=9, pad=14)
    if result.tumours:
        ax.legend(fontsize=8, frameon=False, loc="upper right")
    return _save(fig, Path(path))


# names the study and cell-kill figures use (kept with the split of this module)
from simulator.output.slice_figures import IRR_COLOUR, REV_COLOUR  # noqa: E402,F401
from simulator.units import MM  # noqa: E402,F401

FIGSIZE = (6.4, 4.8)                 # inches, single-panel figures


def _coverage_line(result: "Result") -> str:
    """One line of the first tumour's coverage (study figures)."""
    from simulator.output.captions import tumour_line
    return tumour_line(result, result.tumours[0].name if result.tumours else None)
