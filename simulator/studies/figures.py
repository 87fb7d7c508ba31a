"""Figures of studies: ``sweep.png`` (headline figures against the first varied key, one
curve per value of the others), ``coverage_curves.png`` (coverage curves of all runs
overlaid) and ``compare.png`` (vertical field slices of several scenarios on one shared
colour scale). matplotlib through ``matplotlib.figure.Figure`` (no pyplot state).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from simulator.output.views import electrode_centre
from simulator.post.coverage import CURVE_THRESHOLDS_V_PER_M
from simulator.studies.table import HEADLINES
from simulator.units import V_PER_CM

DPI = 150


def _figure(figsize):
    from matplotlib.figure import Figure
    return Figure(figsize=figsize, dpi=DPI, layout="constrained")


def _label(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


UNIT_SUFFIXES = (("_V_per_cm", "V/cm"), ("_S_per_m", "S/m"), ("_mm", "mm"), ("_us", "us"), ("_Hz", "Hz"),
                 ("_V", "V"), ("_A", "A"), ("_K", "K"), ("_s", "s"))


def key_label(key: str) -> str:
    """An axis label for a dotted scenario key: 'protocol.voltage_V' -> 'voltage (V)',
    'tumours.0.diameter_mm' -> 'tumour 0 diameter (mm)', 'materials.tumour.sigma0_S_per_m'
    -> 'tumour sigma0 (S/m)'."""
    parts = key.split(".")
    leaf, unit = parts[-1], ""
    for suffix, u in UNIT_SUFFIXES:
        if leaf.endswith(suffix) and len(leaf) > len(suffix):
            leaf, unit = leaf[:-len(suffix)], f" ({u})"
            break
    head = parts[:-1]
    if head[:1] == ["protocol"] or head[:1] == ["solver"]:
        head = head[1:]
    elif head[:1] == ["tumours"]:
        head = ["tumour"] + head[1:]
    elif head[:1] == ["materials"]:
        head = head[1:]
    return " ".join(head + [leaf.replace("_", " ")]) + unit


def _numeric(values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def plot_sweep(rows: list[dict], keys: list[str], path: Path, title: str) -> Path:
    """One panel per headline figure against ``keys[0]``; one curve per combination of the
    other keys' values (a categorical first key is spaced evenly)."""
    first, rest = keys[0], keys[1:]
    xs = list({repr(r[first]): r[first] for r in rows}.values())      # values may be lists
    numeric = _numeric(xs)
    pos = {repr(x): (x if numeric else k) for k, x in enumerate(xs)}
    series: dict[str, tuple[tuple, list[dict]]] = {}
    for r in rows:
        combo = tuple(r[k] for k in rest)
        series.setdefault(repr(combo), (combo, []))[1].append(r)
    varying = {k for k in rest if len({repr(r[k]) for r in rows}) > 1}
    heads = [(k, lab) for k, lab in HEADLINES if any(isinstance(r.get(k), (int, float)) for r in rows)
             and ("fraction" in k or len({r.get(k) for r in rows}) > 1)]     # a constant says nothing
    ncol = 4 if len(heads) > 4 else len(heads)
    nrow = -(-len(heads) // ncol)
    fig = _figure((3.1 * ncol, 2.5 * nrow + 0.6))
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for ax, (key, label) in zip(axes, heads):
        for s, (combo, rs) in enumerate(series.values()):
            pts = [(pos[repr(r[first])], r[key]) for r in rs if isinstance(r.get(key), (int, float))]
            if not pts:
                continue
            x, y = zip(*pts)
            name = ", ".join(f"{k.rsplit('.', 1)[-1]}={_label(v)}" for k, v in zip(rest, combo)
                             if k in varying) or None
            ax.plot(x, y, marker="o", ms=3.5, lw=1.4, color=f"C{s % 10}", label=name)
        ax.set_title(label, fontsize=8.5)
        ax.tick_params(labelsize=7.5)
        ax.grid(True, color="0.9", lw=0.6)
        ax.set_xlabel(key_label(first), fontsize=8)
        if not numeric:
            ax.set_xticks(range(len(xs)), [_label(x) for x in xs], rotation=20, fontsize=7)
        if "fraction" in key:
            ax.set_ylim(-0.03, 1.03)
    for ax in axes[len(heads):]:
        ax.set_visible(False)
    if varying:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6), fontsize=7.5,
                   frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    return Path(path)


def plot_coverage_overlay(runs: list[tuple[str, dict[str, list[float]]]], path: Path, title: str,
                          thresholds: dict[str, float] | None = None,
                          styles: list[tuple[int, int]] | None = None) -> Path:
    """Fraction of tumour volume with max |E| >= E against E for every run (and tumour).

    runs: (label, {tumour name: fractions on the coverage threshold grid}); thresholds:
    vertical reference lines {label: V/cm}; styles: (colour index, line-style index) per
    run (a sweep colours by the first key's value and dashes by the others'), default one
    colour per run. With several tumours per run: a colour per run, a dash per tumour."""
    import matplotlib
    from matplotlib.ticker import PercentFormatter

    th = CURVE_THRESHOLDS_V_PER_M / V_PER_CM
    several = any(len(c) > 1 for _, c in runs)
    if several or not styles:               # several tumours: a colour per run, a dash per tumour
        styles = [(i, 0) for i in range(len(runs))]
    ncolours = max(c for c, _ in styles) + 1
    cmap = matplotlib.colormaps["viridis"] if ncolours > 10 else None
    fig = _figure((8.2, 4.4))
    ax = fig.add_subplot()
    for (label, curves), (c, d) in zip(runs, styles):
        colour = cmap(0.92 * c / max(ncolours - 1, 1)) if cmap else f"C{c}"
        for k, (tumour, frac) in enumerate(curves.items()):
            ax.plot(th, 100 * np.asarray(frac), color=colour, lw=1.4,
                    ls=LINESTYLES[(k if several else d) % len(LINESTYLES)],
                    label=(f"{label} ({tumour})" if len(curves) > 1 else label) or tumour)
    for name, value in (thresholds or {}).items():         # in the legend: no label over the curves
        ax.axvline(value, color="0.35", lw=0.9, ls="--" if "rev" in name else ":",
                   label=f"{name} = {value:g} V/cm")
    ax.set_xlim(0, th[-1])
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_formatter(PercentFormatter(100))
    ax.grid(True, color="0.9", lw=0.6)
    ax.set_xlabel("field threshold E (V/cm)", fontsize=9)
    ax.set_ylabel("tumour volume with max |E| \u2265 E", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.01, 0.5),
              ncols=2 if len(runs) > 16 else 1)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    return Path(path)


LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))


def _wrapped(text: str, width: int = 34) -> str:
    """``text`` on lines of at most ``width`` visible characters (a column title; mathtext
    such as ``$E_\\mathrm{rev}$`` counted as the characters it shows; a parenthesis stays
    on one line)."""
    import re

    def visible(s: str) -> int:
        return len(re.sub(r"\\mathrm\{([^}]*)\}|[$_{}]", lambda m: m.group(1) or "", s))
    words: list[str] = []
    for piece in text.split(" "):           # spaces inside $...$ or (...) do not break
        if words and (words[-1].count("$") % 2 or words[-1].count("(") > words[-1].count(")")):
            words[-1] += " " + piece
        else:
            words.append(piece)
    lines, line = [], ""
    for word in words:
        if line and visible(line + " " + word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join(lines + [line])


def compare_scale(results: list, materials: list) -> float:
    """Top of the compare page's shared colour scale (V/cm): the highest of the scales the
    runs' own slice figures use (output.slice_figures.field_scale over the window the two
    slices show, with each run's reference material's E_irr)."""
    from simulator.output import figures as f
    from simulator.output.slice_figures import field_scale

    def window(r):                          # the 3-D box (m) the x-z and x-y slices show
        (x0, x1), (z0, z1) = f._slice_ranges(r, 1)
        _, (y0, y1) = f._slice_ranges(r, 2)
        return (x0, y0, z0), (x1, y1, z1)
    return max(field_scale(r, r.train.E_max.max(axis=1) / V_PER_CM, window(r), m.E_irr / V_PER_CM)
               for r, m in zip(results, materials))


def plot_compare_slices(results: list, path: Path) -> Path:
    """Vertical (x-z) and horizontal (x-y) slices of max |E| through each scenario's first
    tumour (or electrode) centre, one column per scenario, one colour scale for all that
    follows the runs (the highest of the scales each run's own figures use: the 99th
    percentile of the field in the window, at least 1.25 E_irr); contours at each scenario's
    own E_rev (white) / E_irr (black)."""
    import matplotlib
    from matplotlib.colors import Normalize
    from simulator.output import figures as f

    n = len(results)

    def slice_centre(r):                    # as field_xz/xy.png: the first tumour's, else the electrode's
        return np.asarray(r.scenario.tumours[0].centre, dtype=float) if r.scenario.tumours else electrode_centre(r)
    mats = [f._reference_material(r, float(slice_centre(r)[2])) for r in results]
    fields = [r.train.E_max.max(axis=1) / V_PER_CM for r in results]
    vmax = compare_scale(results, mats)
    norm = Normalize(0.0, vmax)
    cmap = matplotlib.colormaps[f.FIELD_CMAP].with_extremes(bad="white")
    fig = _figure((3.3 * n + 1.0, 6.4))
    axes = fig.subplots(2, n, squeeze=False)
    im = None
    for col, (res, mat) in enumerate(zip(results, mats)):
        centre = slice_centre(res)
        field = fields[col]
        nodal = f.recover_nodal(res.mesh, field)
        for row, axis in enumerate((1, 2)):
            ax = axes[row, col]
            ur, vr = f._slice_ranges(res, axis)
            sample = f.sample_plane(res.mesh, axis, float(centre[axis]), ur, vr)
            F, S = sample.values(field), sample.interpolate(res.mesh, nodal)
            ext = tuple(e / f.MM for e in sample.extent)
            im = ax.imshow(F, origin="lower", extent=ext, cmap=cmap, norm=norm, interpolation="nearest",
                           rasterized=True)
            for level, colour in ((mat.E_rev / V_PER_CM, f.REV_COLOUR), (mat.E_irr / V_PER_CM, f.IRR_COLOUR)):
                if S.count() and S.min() < level < S.max():
                    ax.contour(sample.u / f.MM, sample.v / f.MM, S, levels=[level], colors=colour, linewidths=0.9)
            if axis == 1:
                f._draw_layers(ax, res.scenario.tissue, ext)
            f._draw_tumours(ax, res.scenario.tumours, sample)
            f._draw_electrodes(ax, res.scenario.electrode, sample, ext[3] * f.MM)
            ax.set_xlim(ext[0], ext[1])
            ax.set_ylim(ext[2], ext[3])
            ax.set_aspect("equal")
            ax.tick_params(labelsize=7)
            names = "xyz"
            iu, iv = sample.axes
            ax.set_xlabel(f"{names[iu]} (mm)", fontsize=7.5)
            ax.set_ylabel(f"{names[iv]} (mm)", fontsize=7.5)
            cov = _wrapped(f._coverage_line(res)) if row == 0 else f"{names[axis]} = {sample.value / f.MM:.1f} mm"
            ax.set_title((f"{res.scenario.name}\n" if row == 0 else "") + cov, fontsize=7)
    over = any(float(F.max()) > vmax for F in fields)
    cb = fig.colorbar(im, ax=axes, extend="max" if over else "neither", shrink=0.8, pad=0.01)
    cb.ax.set_gid(f"colorbar:{vmax:g}")
    cb.set_label("max |E| over the pulse train (V/cm), one scale for all", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    fig.suptitle("field slices; contours: E_rev (white) and E_irr (black) of each tumour's material", fontsize=9)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    return Path(path)
