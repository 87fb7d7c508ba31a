"""Slice figures of a run (matplotlib ``Figure`` objects; files are written by figures.py).

* field map: max |E| over the pulse train (V/cm) on a colour scale that follows the run
  (its top is the volume-weighted 99th percentile of the field in the window, rounded up,
  never below 1.25 E_irr), contours at the tumour's E_rev / E_irr with upright labels
  kept apart, thresholds marked on the colour bar;
* state map: each cell intact / reversible / irreversible against its own tissue's
  thresholds, irreversible healthy tissue in its own colour;
* both: the cold regions of tumour + margin (post.diagnosis, the report's
  ``diagnosis.cold_regions``) that the slice cuts, outlined (dashed yellow), each marked
  at its centroid projected on the slice with its number in the report's list (1 = the
  largest); the legend names the largest one's volume and cause.

Every figure is laid out by hand (inches) from the window's aspect, so tall slices (plates
clamping a fold) get a narrow canvas and the title is fitted to the figure's width.
"""
from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING

import numpy as np

from simulator.output.outlines import (ELECTRODE_EDGE, ELECTRODE_FACE, TUMOUR_COLOUR, draw_electrodes, draw_layers,
                                       draw_tumours, literal)
from simulator.output.captions import run_title, tumour_line, voltages_text  # noqa: F401  (re-exported)
from simulator.output.sampling import PlaneSample
from simulator.units import MM, V_PER_CM

if TYPE_CHECKING:                                   # pragma: no cover
    from simulator.output.views import SliceView
    from simulator.solve.result import Result

DPI = 160
FIELD_CMAP = "viridis"
REV_COLOUR, IRR_COLOUR = "white", "black"
STATE_COLOURS = ("#d9d9d9", "#5b9bd5", "#f0a030", "#c0182a")   # intact, reversible, irreversible, healthy irr.
STATE_NAMES = ("intact", "reversible (\u2265 its tissue's $E_\\mathrm{rev}$)",
               "irreversible (\u2265 $E_\\mathrm{irr}$)", "irreversible healthy tissue")
AXES_HEIGHT = 3.4                   # inches, the default height of the slice axes
MAX_AXES_WIDTH = 6.0
MIN_FIG_WIDTH = 5.2
LEFT, RIGHT_BAR, RIGHT_PLAIN, TOP, BOTTOM = 0.62, 1.25, 0.25, 0.62, 0.85
COLD_COLOUR = "#ffe600"             # yellow with a black halo: cold is dark on viridis, and no state colour
COLD_MARKED = 3                     # cold regions marked per slice (the largest ones it cuts)
NICE = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


# ----------------------------------------------------------------------------- scale
def nice_ceiling(x: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k that is >= x (> 0)."""
    k = math.floor(math.log10(x))
    for n in NICE:
        if n * 10 ** k >= x * (1 - 1e-12):
            return n * 10 ** k
    return 10 ** (k + 1)


def field_scale(result: "Result", field_v_cm: np.ndarray, box: tuple, E_irr_v_cm: float) -> float:
    """Top of the colour scale (V/cm): the volume-weighted 99th percentile of the cell field
    among cells whose centroid lies in ``box`` ((lo, hi) in m), rounded up to a nice number,
    at least 1.25 E_irr so both thresholds sit on the bar."""
    mesh = result.mesh
    c = mesh.centroids()
    lo, hi = (np.asarray(b) for b in box)
    inside = np.all((c >= lo) & (c <= hi), axis=1)
    if not inside.any():
        inside[:] = True
    f = field_v_cm[inside]
    w = result.train.weights[inside].sum(axis=1)
    order = np.argsort(f, kind="stable")
    cw = np.cumsum(w[order])
    p99 = float(f[order][min(np.searchsorted(cw, 0.99 * cw[-1]), len(f) - 1)])
    return nice_ceiling(max(p99, 1.25 * E_irr_v_cm))


# ----------------------------------------------------------------------------- layout
def _canvas(sample: PlaneSample, colorbar: bool, bottom: float = BOTTOM):
    """A Figure sized from the slice's aspect and its axes (manual layout, inches)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ext = sample.extent
    aspect = (ext[1] - ext[0]) / (ext[3] - ext[2])
    ax_h = AXES_HEIGHT
    ax_w = ax_h * aspect
    if ax_w > MAX_AXES_WIDTH:
        ax_w, ax_h = MAX_AXES_WIDTH, MAX_AXES_WIDTH / aspect
    right = RIGHT_BAR if colorbar else RIGHT_PLAIN
    block = LEFT + ax_w + right
    fig_w, fig_h = (round(x * DPI) / DPI for x in (max(block, MIN_FIG_WIDTH), TOP + ax_h + bottom))  # whole pixels
    fig = Figure(figsize=(fig_w, fig_h), dpi=DPI)
    FigureCanvasAgg(fig)
    x0 = (fig_w - block) / 2 + LEFT
    ax = fig.add_axes((x0 / fig_w, bottom / fig_h, ax_w / fig_w, ax_h / fig_h))
    cax = fig.add_axes(((x0 + ax_w + 0.12) / fig_w, bottom / fig_h, 0.13 / fig_w, ax_h / fig_h)) if colorbar else None
    return fig, ax, cax


def fit_title(fig, lines: list[str], fontsize: float = 8.0):
    """The title at the top centre, shrunk (to 6.5 pt) and then wrapped to fit the width."""
    fig_w = fig.get_figwidth() * fig.dpi
    renderer = fig.canvas.get_renderer()
    text = fig.text(0.5, 1 - 0.08 / fig.get_figheight(), "\n".join(lines), ha="center", va="top",
                    fontsize=fontsize, gid="title")
    while text.get_window_extent(renderer).width > 0.97 * fig_w and text.get_fontsize() > 6.5:
        text.set_fontsize(text.get_fontsize() - 0.5)
    if text.get_window_extent(renderer).width > 0.97 * fig_w:
        chars = max(int(len(max(lines, key=len)) * 0.95 * fig_w / text.get_window_extent(renderer).width), 20)
        text.set_text("\n".join(textwrap.fill(line, chars) for line in lines))
    return text


def _finish_axes(ax, sample: PlaneSample, result: "Result") -> None:
    sc = result.scenario
    ext = tuple(e / MM for e in sample.extent)
    if sample.axis == 1:
        draw_layers(ax, sc.tissue, ext, y=sample.value)
    draw_tumours(ax, sc.tumours, sample.axis, sample.value)
    draw_electrodes(ax, sc.electrode, sample.axis, sample.value, ext[3] * MM)
    ax.set_xlim(ext[0], ext[1])
    ax.set_ylim(ext[2], ext[3])
    ax.set_aspect("equal", adjustable="box")
    names = "xyz"
    ax.set_xlabel(f"{names[sample.axes[0]]} (mm)", fontsize=8)
    ax.set_ylabel(f"{names[sample.axes[1]]} (mm)", fontsize=8)
    ax.tick_params(labelsize=7, direction="out")


def _where(view: "SliceView") -> str:
    kind = "vertical" if view.axis == 1 else "horizontal"
    return f"{kind} slice {'xyz'[view.axis]} = {view.value / MM:.1f} mm through {view.through}"


def _legend(fig, handles, labels, ncols: int, lift: float = 0.0):
    """The legend at the bottom centre, ``lift`` inches above the figure's bottom edge."""
    return fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, lift / fig.get_figheight()),
                      ncols=ncols, fontsize=6.5,
                      frameon=False, handlelength=1.8, columnspacing=1.0)


# ----------------------------------------------------------------------------- contour labels
def label_contours(ax, cs_by_level: list[tuple[float, object, str]]) -> list:
    """One upright label per contour level at a point of its line inside the axes, the
    first level at its rightmost point, the others at their leftmost (then lowest) point,
    moved when two labels would overlap."""
    from matplotlib import patheffects

    renderer = ax.figure.canvas.get_renderer()
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    mx, my = 0.06 * (x1 - x0), 0.06 * (y1 - y0)
    texts = []
    for k, (level, cs, colour) in enumerate(cs_by_level):
        verts = np.concatenate([p.vertices for p in cs.get_paths() if len(p.vertices)] or [np.empty((0, 2))])
        ok = (verts[:, 0] > x0 + mx) & (verts[:, 0] < x1 - mx) & (verts[:, 1] > y0 + my) & (verts[:, 1] < y1 - my)
        verts = verts[ok]
        if not len(verts):
            continue
        # (point, ha, va): the text lies outside the line at its extreme point
        picks = [(verts[np.argmax(verts[:, 0])], "left", "center")] if k == 0 else []
        picks += [(verts[np.argmin(verts[:, 0])], "right", "center"), (verts[np.argmin(verts[:, 1])], "center", "top"),
                  (verts[np.argmax(verts[:, 1])], "center", "bottom")]
        text = None
        for p, ha, va in picks:
            cand = ax.text(p[0], p[1], f" {level:g} ", ha=ha, va=va, rotation=0, fontsize=6.5, color=colour,
                           zorder=7, gid=f"contour-label:{level:g}")
            if colour == REV_COLOUR:
                cand.set_path_effects([patheffects.withStroke(linewidth=1.5, foreground="0.25")])
            box = cand.get_window_extent(renderer)
            if not any(box.overlaps(t.get_window_extent(renderer)) for t in texts):
                text = cand
                break
            cand.remove()
        if text is not None:
            texts.append(text)
    return texts


# ----------------------------------------------------------------------------- cold regions
def draw_cold(ax, sample: PlaneSample, regions, num_cells: int) -> tuple[list, list]:
    """Outline the cold regions (post.diagnosis.ColdRegion, largest first) this slice cuts and
    mark each at its centroid projected on the slice (gid ``cold-region:<n>``, n = its rank
    in ``regions`` from 1); the legend handles and labels."""
    from matplotlib.lines import Line2D
    from matplotlib import patheffects
    if not regions:
        return [], []
    label = np.zeros(num_cells, dtype=np.int32)
    for k, r in reversed(list(enumerate(regions))):
        label[r.cells] = k + 1
    L = sample.values(label).filled(0)
    cut = [k for k in np.unique(L) if k > 0]
    if not cut:
        return [], []
    U, V = sample.u / MM, sample.v / MM
    halo = [patheffects.withStroke(linewidth=2.2, foreground="black")]
    cs = ax.contour(U, V, (L > 0).astype(float), levels=[0.5], colors=COLD_COLOUR, linewidths=1.0,
                    linestyles="dashed", zorder=4)
    cs.set_path_effects(halo)
    a, b = sample.axes
    for k in sorted(cut)[:COLD_MARKED]:
        r = regions[k - 1]
        x, y = r.centroid[a] / MM, r.centroid[b] / MM
        ax.plot([x], [y], marker="x", ms=7, mew=1.8, color=COLD_COLOUR, zorder=8, gid=f"cold-region:{k}",
                path_effects=halo)
        ax.annotate(f"{k}", (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7, color=COLD_COLOUR,
                    zorder=8, path_effects=halo, gid=f"cold-label:{k}")
    from simulator.post.diagnosis import CAUSE_TEXT
    first = regions[min(cut) - 1]
    text = (f"cold {min(cut)}: {first.volume * 1e9:.2g} mm$^3$, {CAUSE_TEXT[first.cause]}"
            + (f" (+{len(cut) - 1} more)" if len(cut) > 1 else ""))
    return [Line2D([], [], color=COLD_COLOUR, lw=1.0, ls="--", marker="x", ms=5, path_effects=halo)], [text]


# ----------------------------------------------------------------------------- figures
def field_figure(result: "Result", view: "SliceView", sample: PlaneSample, F, S, mat, vmax: float,
                 cold: list | None = None):
    """Max |E| map of one slice with the contours of ``mat``'s thresholds (V/cm scale to vmax)
    and the ``cold`` regions it cuts (:func:`draw_cold`)."""
    import matplotlib
    from matplotlib import patheffects
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    sc = result.scenario
    E_rev, E_irr = mat.E_rev / V_PER_CM, mat.E_irr / V_PER_CM
    fig, ax, cax = _canvas(sample, colorbar=True)
    cmap = matplotlib.colormaps[FIELD_CMAP].with_extremes(bad="white")
    ext = tuple(e / MM for e in sample.extent)
    im = ax.imshow(F, origin="lower", extent=ext, cmap=cmap, norm=Normalize(0.0, vmax), interpolation="nearest",
                   rasterized=True)
    _finish_axes(ax, sample, result)
    U, V = sample.u / MM, sample.v / MM
    halo = [patheffects.withStroke(linewidth=2.0, foreground="0.25")]
    contours = []
    for level, colour in ((E_rev, REV_COLOUR), (E_irr, IRR_COLOUR)):
        if S.count() and S.min() < level < S.max():
            cs = ax.contour(U, V, S, levels=[level], colors=colour, linewidths=1.0, zorder=2)
            if colour == REV_COLOUR:
                cs.set_path_effects(halo)
            contours.append((level, cs, colour))
    label_contours(ax, contours)
    cold_handles, cold_labels = draw_cold(ax, sample, cold or [], len(result.mesh.cell_region))
    cb = fig.colorbar(im, cax=cax, extend="max" if float(F.max() if F.count() else 0.0) > vmax else "neither")
    cb.set_label("max |E| over the pulse train (V/cm)", fontsize=7)
    ticks = [t for t in cb.get_ticks() if 0 <= t <= vmax and min(abs(t - E_rev), abs(t - E_irr)) > 0.07 * vmax]
    cb.set_ticks(sorted(ticks + [E_rev, E_irr]),
                 labels=[f"$E_\\mathrm{{rev}}$ {t:g}" if t == E_rev else f"$E_\\mathrm{{irr}}$ {t:g}" if t == E_irr
                         else f"{t:g}" for t in sorted(ticks + [E_rev, E_irr])])
    cb.ax.tick_params(labelsize=6.5)
    for level, colour in ((E_rev, REV_COLOUR), (E_irr, IRR_COLOUR)):
        cb.ax.axhline(level, color=colour, lw=1.4)
    cb.ax.set_gid(f"colorbar:{vmax:g}")
    fit_title(fig, [run_title(result), _where(view), tumour_line(result, view.tumour)])
    handles = [Line2D([], [], color=REV_COLOUR, lw=1.0, path_effects=halo), Line2D([], [], color=IRR_COLOUR, lw=1.0),
               Line2D([], [], color=TUMOUR_COLOUR, lw=1.3), Line2D([], [], color=TUMOUR_COLOUR, lw=1.0, ls=(0, (3, 2))),
               Patch(fc=ELECTRODE_FACE, ec=ELECTRODE_EDGE, lw=0.6)]
    labels = [f"$E_\\mathrm{{rev}}$ ({literal(mat.name)}) = {E_rev:g} V/cm",
              f"$E_\\mathrm{{irr}}$ ({literal(mat.name)}) = {E_irr:g} V/cm",
              "tumour", "margin", "electrode"]
    if not sc.tumours:
        handles, labels = handles[:2] + handles[4:], labels[:2] + labels[4:]
    handles, labels = handles + cold_handles, labels + cold_labels
    _legend(fig, handles, labels, ncols=3 if fig.get_figwidth() < 6.5 or cold_labels else len(labels))
    return fig


def state_codes(result: "Result") -> np.ndarray:
    """(M,) 0 intact, 1 reversible, 2 irreversible, 3 irreversible healthy (non-tumour) tissue,
    each cell against its own tissue's thresholds (max field over its points)."""
    from simulator.post.coverage import cell_state

    state = cell_state(result.train.E_max, result.E_rev, result.E_irr).astype(np.int8)
    healthy = np.array([r.kind != "tumour" for r in result.mesh.regions])[result.mesh.cell_region]
    state[(state == 2) & healthy] = 3
    return state


def thresholds_text(result: "Result") -> str:
    """'E_rev / E_irr (V/cm): skin 400 / 900, ...' for the materials of the mesh's regions."""
    seen = []
    for r in result.mesh.regions:
        if r.material not in seen:
            seen.append(r.material)
    mats = result.scenario.materials
    return "own thresholds $E_\\mathrm{rev}$ / $E_\\mathrm{irr}$ (V/cm): " + ", ".join(
        f"{literal(m)} {mats[m].E_rev / V_PER_CM:g} / {mats[m].E_irr / V_PER_CM:g}" for m in seen)


def state_figure(result: "Result", view: "SliceView", sample: PlaneSample, codes: np.ndarray,
                 cold: list | None = None):
    """Tissue state map of one slice (codes from :func:`state_codes`) with the ``cold``
    regions it cuts (:func:`draw_cold`)."""
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    fig, ax, _ = _canvas(sample, colorbar=False, bottom=BOTTOM + 0.15)
    cmap = ListedColormap(STATE_COLOURS).with_extremes(bad="white")
    ext = tuple(e / MM for e in sample.extent)
    ax.imshow(sample.values(codes), origin="lower", extent=ext, cmap=cmap, norm=BoundaryNorm([-0.5, 0.5, 1.5, 2.5, 3.5], 4),
              interpolation="nearest", rasterized=True)
    _finish_axes(ax, sample, result)
    cold_handles, cold_labels = draw_cold(ax, sample, cold or [], len(result.mesh.cell_region))
    fit_title(fig, [run_title(result), "tissue state \u2014 " + _where(view), tumour_line(result, view.tumour)])
    handles = [Patch(fc=c, ec="0.3", lw=0.5) for c in STATE_COLOURS] + [Patch(fc=ELECTRODE_FACE, ec=ELECTRODE_EDGE)]
    _legend(fig, handles + cold_handles, list(STATE_NAMES) + ["electrode"] + cold_labels, ncols=2 if cold_labels else 3,
            lift=0.14)
    note = fig.text(0.5, 0.02 / fig.get_figheight(), thresholds_text(result), ha="center", va="bottom", fontsize=6,
                    color="0.25", gid="thresholds")
    renderer = fig.canvas.get_renderer()
    while note.get_window_extent(renderer).width > 0.97 * fig.get_figwidth() * fig.dpi and note.get_fontsize() > 4.5:
        note.set_fontsize(note.get_fontsize() - 0.25)
    return fig
