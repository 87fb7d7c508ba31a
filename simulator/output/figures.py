"""Figures and tables of a run: field slices, coverage curves (the output edge: files).

* :func:`plot_slices` writes ``field_xz.png`` (vertical slice) and ``field_xy.png``
  (horizontal slice) through the first tumour's centre (or the electrode's centre):
  max |E| over the pulse train in V/cm, contours at E_rev / E_irr of the tumour's
  material, tumour and margin outlines, tissue layers and electrodes.
* :func:`plot_coverage_curves` / :func:`write_coverage_csv`: fraction of each tumour's
  volume with max field >= threshold, 0..2000 V/cm.

The field shown is the piecewise-constant cell field (for P2, a cell shows the max over
its sample points), sampled exactly: every pixel takes the value of the tetrahedron
that contains it (:func:`sample_plane`); pixels in no cell (inside needles, outside the
block, above the skin) are blank. No smoothing, so contours follow what coverage counts.

matplotlib is used through ``matplotlib.figure.Figure`` (Agg canvas, no pyplot state).
Lengths are SI (m) in the records; figures are labelled in mm and V/cm.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simulator.post.coverage import CURVE_THRESHOLDS_V_PER_M
from simulator.units import MM, V_PER_CM

if TYPE_CHECKING:                                   # pragma: no cover
    from simulator.meshing.mesh import Mesh
    from simulator.solve.pipeline import Result

def literal(text: str) -> str:
    """A name as matplotlib text shown literally: ``$`` would start mathtext (and an unpaired
    or malformed one raise after the whole solve), so it is escaped as ``\\$``."""
    return text.replace("$", "\\$")


FIGSIZE = (6.4, 4.8)                # inches
DPI = 200                           # -> 1280 x 960 px
SLICE_PIXELS = 480                  # samples along the longer side of a slice
ASPECT = 1.4                        # width / height the slice windows are widened towards
SKY = 0.06                          # strip above the skin in vertical slices (fraction of depth)
FIELD_CMAP = "viridis"
ELECTRODE_FACE, ELECTRODE_EDGE, INSULATION_FACE = "0.80", "0.15", "0.35"
TUMOUR_COLOUR = "#e8336d"
REV_COLOUR, IRR_COLOUR = "white", "black"


# ----------------------------------------------------------------------------- sampling
_EDGES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
PAIRS_PER_BATCH = 1 << 21           # (cell, pixel) candidate pairs per batch (bounds memory)


@dataclass(frozen=True)
class PlaneSample:
    """Cells under a regular grid of pixel centres on the plane ``axis`` = ``value``.

    u, v: pixel-centre coordinates (m) along the in-plane axes ``axes`` (the other two, in
    increasing order); cell: (nv, nu) index of the containing tetrahedron per pixel, -1
    where there is none; bary: (nv, nu, 4) barycentric coordinates of the pixel centre in
    that cell (zeros where there is none).
    """

    axis: int
    value: float
    axes: tuple[int, int]
    u: np.ndarray
    v: np.ndarray
    cell: np.ndarray
    bary: np.ndarray

    def values(self, per_cell: np.ndarray) -> np.ma.MaskedArray:
        """(nv, nu) masked array of a per-cell quantity (masked where no cell)."""
        out = np.asarray(per_cell)[np.maximum(self.cell, 0)]
        return np.ma.masked_array(out, mask=self.cell < 0)

    def interpolate(self, mesh: "Mesh", nodal: np.ndarray) -> np.ma.MaskedArray:
        """(nv, nu) masked P1 interpolation of nodal values: (N,), or (N, R) one set per region
        (each pixel uses its cell's region, so fields jumping at interfaces stay sharp)."""
        ok = self.cell >= 0
        c = self.cell[ok]
        tets = mesh.tets[c]
        vals = nodal[tets] if nodal.ndim == 1 else nodal[tets, mesh.cell_region[c][:, None]]
        out = np.zeros(self.cell.shape)
        out[ok] = (self.bary[ok] * vals).sum(axis=1)
        return np.ma.masked_array(out, mask=~ok)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """Pixel-edge extent (m), as ``imshow`` wants it."""
        hu = (self.u[1] - self.u[0]) / 2 if len(self.u) > 1 else 0.0
        hv = (self.v[1] - self.v[0]) / 2 if len(self.v) > 1 else 0.0
        return (self.u[0] - hu, self.u[-1] + hu, self.v[0] - hv, self.v[-1] + hv)


def sample_plane(mesh: "Mesh", axis: int, value: float, u_range: tuple[float, float],
                 v_range: tuple[float, float], pixels: int = SLICE_PIXELS, tol: float = 1e-9) -> PlaneSample:
    """Locate the tetrahedron under each pixel centre of a slice (exact, vectorised).

    axis: normal of the plane (0, 1, 2); u/v: the other two axes; square-ish pixels,
    ``pixels`` along the longer side. Only the cells crossing the plane can hold a pixel:
    each is cut by the plane, the pixels inside the bounding box of its cross-section are
    its candidates, and a barycentric test (tolerance ``tol``) keeps those it contains. A
    pixel on a face shared by several cells takes the lowest cell index (deterministic);
    pixels in no cell (holes of needles, outside the block) get -1.
    """
    axes = tuple(a for a in range(3) if a != axis)
    (u0, u1), (v0, v1) = u_range, v_range
    h = max(u1 - u0, v1 - v0) / pixels
    nu, nv = max(1, round((u1 - u0) / h)), max(1, round((v1 - v0) / h))
    du, dv = (u1 - u0) / nu, (v1 - v0) / nv
    u = u0 + (np.arange(nu) + 0.5) * du
    v = v0 + (np.arange(nv) + 0.5) * dv
    out = np.full(nu * nv, -1, dtype=np.int64)
    bary = np.zeros((nu * nv, 4))
    s_all = mesh.points[:, axis][mesh.tets] - value                  # (M, 4) signed offsets
    scale = float(np.ptp(mesh.points, axis=0).max()) or 1.0
    eps = 1e-9 * scale
    crossing = np.flatnonzero((s_all.min(axis=1) <= eps) & (s_all.max(axis=1) >= -eps))
    if crossing.size == 0:
        return PlaneSample(axis, float(value), axes, u, v, out.reshape(nv, nu), bary.reshape(nv, nu, 4))
    P = mesh.points[mesh.tets[crossing]]                             # (C, 4, 3)
    s = s_all[crossing]
    uv = P[:, :, list(axes)]                                         # (C, 4, 2)
    lo = np.full((len(P), 2), np.inf)
    hi = np.full((len(P), 2), -np.inf)
    for i, j in _EDGES:                                              # cross-section bounding box
        si, sj = s[:, i], s[:, j]
        cut = si * sj <= 0
        den = si - sj
        t = np.divide(si, den, out=np.zeros_like(si), where=den != 0)
        q = uv[:, i] + t[:, None] * (uv[:, j] - uv[:, i])
        lo = np.where(cut[:, None], np.minimum(lo, q), lo)
        hi = np.where(cut[:, None], np.maximum(hi, q), hi)
    # pixel index ranges (centres u0 + (i + 1/2) du inside [lo, hi])
    slack = 1e-6
    iu0 = np.clip(np.ceil((lo[:, 0] - u0) / du - 0.5 - slack), 0, nu).astype(np.int64)
    iu1 = np.clip(np.floor((hi[:, 0] - u0) / du - 0.5 + slack), -1, nu - 1).astype(np.int64)
    iv0 = np.clip(np.ceil((lo[:, 1] - v0) / dv - 0.5 - slack), 0, nv).astype(np.int64)
    iv1 = np.clip(np.floor((hi[:, 1] - v0) / dv - 0.5 + slack), -1, nv - 1).astype(np.int64)
    wu, wv = np.maximum(iu1 - iu0 + 1, 0), np.maximum(iv1 - iv0 + 1, 0)
    count = wu * wv
    keep = np.flatnonzero(count)
    if keep.size == 0:
        return PlaneSample(axis, float(value), axes, u, v, out.reshape(nv, nu), bary.reshape(nv, nu, 4))
    # affine maps [x, 1] -> (lambda_1, lambda_2, lambda_3) of the cells that have candidates
    Pk = P[keep]
    T = np.transpose(Pk[:, 1:] - Pk[:, :1], (0, 2, 1))
    Tinv = np.linalg.inv(T)
    A = np.concatenate([Tinv, -np.einsum("cij,cj->ci", Tinv, Pk[:, 0])[:, :, None]], axis=2)
    cnt, wu, iu0, iv0 = count[keep], wu[keep], iu0[keep], iv0[keep]
    ends = np.cumsum(cnt)
    start = 0
    while start < len(keep):                                         # batches of whole cells
        stop = max(start + 1, int(np.searchsorted(ends, (ends[start - 1] if start else 0) + PAIRS_PER_BATCH)))
        c = np.arange(start, stop)
        n_c = cnt[c]
        rep = np.repeat(c, n_c)
        off = np.arange(int(n_c.sum())) - np.repeat(np.cumsum(n_c) - n_c, n_c)
        iu = iu0[rep] + off % wu[rep]
        iv = iv0[rep] + off // wu[rep]
        x = np.empty((len(rep), 4))
        x[:, axis], x[:, axes[0]], x[:, axes[1]], x[:, 3] = value, u[iu], v[iv], 1.0
        lam = np.einsum("pij,pj->pi", A[rep], x)
        inside = (lam >= -tol).all(axis=1) & (lam.sum(axis=1) <= 1.0 + tol)
        pix = (iv * nu + iu)[inside]
        cells = crossing[keep[rep[inside]]]
        first_pix, first = np.unique(pix, return_index=True)        # lowest cell index per pixel
        free = out[first_pix] < 0
        out[first_pix[free]] = cells[first][free]
        lam_in = lam[inside][first][free]
        bary[first_pix[free]] = np.column_stack([1.0 - lam_in.sum(axis=1), lam_in])
        start = stop
    return PlaneSample(axis, float(value), axes, u, v, out.reshape(nv, nu), bary.reshape(nv, nu, 4))


def recover_nodal(mesh: "Mesh", per_cell: np.ndarray) -> np.ndarray:
    """(N, R) volume-weighted nodal averages of a per-cell quantity, one set per region
    (NaN where a node touches no cell of that region): the smooth field contours are drawn on."""
    R = len(mesh.regions)
    p = mesh.points[mesh.tets]
    vol = np.abs(np.einsum("ij,ij->i", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), p[:, 3] - p[:, 0])) / 6
    idx = (mesh.tets.astype(np.int64) * R + mesh.cell_region[:, None]).ravel()
    n = mesh.num_points * R
    num = np.bincount(idx, weights=np.repeat(vol * per_cell, 4), minlength=n)
    den = np.bincount(idx, weights=np.repeat(vol, 4), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (num / den).reshape(mesh.num_points, R)


# ----------------------------------------------------------------------------- geometry
def _ellipse_section(tumour, axis: int, value: float, grow: float = 0.0):
    """(centre_u, centre_v, semi_u, semi_v) of an axis-aligned ellipsoid cut by a plane, or None."""
    a = np.asarray(tumour.semi_axes) + grow
    c = np.asarray(tumour.centre)
    s = 1.0 - ((value - c[axis]) / a[axis]) ** 2
    if s <= 0:
        return None
    iu, iv = (i for i in range(3) if i != axis)
    return c[iu], c[iv], a[iu] * math.sqrt(s), a[iv] * math.sqrt(s)


def _needle_xz(n, y0: float, z_top: float, samples: int = 200) -> list[tuple[np.ndarray, bool]]:
    """Outline polygons (x, z) of a needle cut by the plane y = y0: (polygon, insulated).

    Each horizontal section of the (tilted) cylinder is an ellipse; its chord on y = y0
    gives the needle's x-interval at that height (exact for the cylinder; flat tip)."""
    t, az = math.radians(n.tilt_deg), math.radians(n.tilt_azimuth_deg)
    ct = math.cos(t)
    z_tip = float(n.tip[2])
    z_ins = -n.insulated_length * ct
    A, B = n.radius / ct, n.radius                      # semi-axes along/across the azimuth
    ca, sa = math.cos(az), math.sin(az)
    out = []
    if n.insulated_length > 0:
        parts = [(z_tip, z_ins, False), (z_ins, z_top, True)]
    else:
        parts = [(z_tip, z_top, False)]
    for lo, hi, ins in parts:
        if hi <= lo:
            continue
        z = np.linspace(lo, hi, samples)
        s = -z / ct
        cx = n.entry[0] + s * n.axis[0]
        cy = n.entry[1] + s * n.axis[1]
        dy = y0 - cy
        p2 = ca * ca / A ** 2 + sa * sa / B ** 2
        p1 = 2 * dy * sa * ca * (1 / A ** 2 - 1 / B ** 2)
        p0 = dy * dy * (sa * sa / A ** 2 + ca * ca / B ** 2) - 1
        disc = p1 * p1 - 4 * p2 * p0
        ok = disc > 0
        if ok.sum() < 2:
            continue
        r = np.sqrt(disc[ok])
        xl = cx[ok] + (-p1[ok] - r) / (2 * p2)
        xr = cx[ok] + (-p1[ok] + r) / (2 * p2)
        zz = z[ok]
        out.append((np.column_stack([np.r_[xl, xr[::-1]], np.r_[zz, zz[::-1]]]), ins))
    return out


def _plate_x_interval(p, y0: float) -> tuple[float, float] | None:
    """x-interval of a plate's footprint on the line y = y0."""
    c, s = math.cos(math.radians(p.normal_deg)), math.sin(math.radians(p.normal_deg))
    lo, hi = -math.inf, math.inf
    dy = y0 - p.centre[1]
    # u = X c + dy s in [-t/2, t/2];  v = -X s + dy c in [-L/2, L/2];  X = x - centre_x
    for coef, off, half in ((c, dy * s, p.thickness / 2), (-s, dy * c, p.length / 2)):
        if abs(coef) < 1e-12:
            if abs(off) > half:
                return None
            continue
        a, b = sorted(((-half - off) / coef, (half - off) / coef))
        lo, hi = max(lo, a), min(hi, b)
    return (p.centre[0] + lo, p.centre[0] + hi) if hi > lo else None


def _centre(result: "Result") -> np.ndarray:
    """Slice centre (m): the first tumour's centre, else the electrode's mid-depth centre."""
    sc = result.scenario
    if sc.tumours:
        return np.asarray(sc.tumours[0].centre, dtype=float)
    e = sc.electrode
    xy = [n.position for n in e.needles] + [p.centre for p in e.plates]
    depth = [n.insertion_depth * 0.5 for n in e.needles] + [p.depth * 0.5 for p in e.plates]
    x, y = np.mean(xy, axis=0) if xy else (0.0, 0.0)
    z = -min(float(np.mean(depth)) if depth else sc.tissue.size[2] / 2, sc.tissue.size[2] / 2)
    return np.array([x, y, z])


def _window(result: "Result") -> tuple[tuple[float, float], tuple[float, float], tuple[float, float],
                                      tuple[float, float]]:
    """Plot ranges (m): x, y and z (bottom .. a little above the skin) around the tumours and
    electrodes, clipped to the block, and the x limits the view may widen to."""
    sc = result.scenario
    X, Y, Z = sc.tissue.size
    pts = []
    for t in sc.tumours:
        a = np.asarray(t.semi_axes) + t.margin
        pts += [np.asarray(t.centre) - a, np.asarray(t.centre) + a]
    for n in sc.electrode.needles:
        for q in (n.entry, n.tip):
            pts += [q - n.radius, q + n.radius]
    for p in sc.electrode.plates:
        for cx, cy in p.corners():
            pts += [np.array([cx, cy, -p.depth]), np.array([cx, cy, 0.0])]
    if not pts:
        pts = [np.array([-X / 2, -Y / 2, -Z]), np.array([X / 2, Y / 2, 0.0])]
    pts = np.array(pts)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = max(2 * MM, 0.25 * float((hi - lo)[:2].max()))
    lo, hi = lo - pad, hi + pad
    x_lim = (-X / 2, X / 2)
    if sc.electrode.clamped:                            # show the plates outside the block
        t = max(p.thickness for p in sc.electrode.plates)
        x_lim = (-X / 2 - 1.5 * t, X / 2 + 1.5 * t)
        lo[0], hi[0] = x_lim
    xr = (max(lo[0], x_lim[0]), min(hi[0], x_lim[1]))
    yr = (max(lo[1], -Y / 2), min(hi[1], Y / 2))
    bottom = max(lo[2], -Z)
    return xr, yr, (bottom, 0.0), x_lim


def _fit(r: tuple[float, float], length: float, lim: tuple[float, float]) -> tuple[float, float]:
    """Grow the range r about its centre to ``length`` (shifting to stay within lim)."""
    if length <= r[1] - r[0]:
        return r
    length = min(length, lim[1] - lim[0])
    c = 0.5 * (r[0] + r[1])
    lo = min(max(c - length / 2, lim[0]), lim[1] - length)
    return (lo, lo + length)


def _slice_ranges(result: "Result", axis: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """In-plane (u, v) ranges (m) of a slice, widened towards the aspect ratio of the axes."""
    X, Y, Z = result.scenario.tissue.size
    xr, yr, zr, x_lim = _window(result)
    if axis == 1:                                       # x-z: widen x, or deepen z
        xr = _fit(xr, ASPECT * (zr[1] - zr[0]), x_lim)
        top = result.scenario.tissue_top                # > 0 over a protruding nodule
        zr = _fit((zr[0], top), (xr[1] - xr[0]) / ASPECT, (-Z, top))
        zr = (zr[0], top + SKY * (top - zr[0]))         # a strip above the skin
        return xr, zr
    xr = _fit(xr, ASPECT * (yr[1] - yr[0]), x_lim)
    yr = _fit(yr, (xr[1] - xr[0]) / ASPECT, (-Y / 2, Y / 2))
    return xr, yr


def _reference_material(result: "Result", z: float):
    """Material whose thresholds are drawn: the first tumour's, else the layer at depth z."""
    sc = result.scenario
    if sc.tumours:
        return sc.materials[sc.tumours[0].material]
    for layer, (top, bottom) in zip(sc.tissue.layers, sc.tissue.layer_bounds()):
        if sc.tissue.layout == "depth" and bottom <= z <= top:
            return sc.materials[layer.material]
    return sc.materials[sc.tissue.layers[-1].material]


def _coverage_line(result: "Result") -> str:
    if not result.tumours:
        return "no tumour"
    parts = [f"{literal(t.name)}: {100 * t.reversible_fraction:.1f} % $\\geq E_\\mathrm{{rev}}$, "
             f"{100 * t.irreversible_fraction:.1f} % $\\geq E_\\mathrm{{irr}}$, margin "
             f"{100 * t.margin_reversible_fraction:.1f} %" for t in result.tumours[:2]]
    if len(result.tumours) > 2:
        parts.append(f"+{len(result.tumours) - 2} more")
    covered = "covered" if result.covered else "NOT covered"
    return "; ".join(parts) + f" ({covered})"


# ----------------------------------------------------------------------------- figures
def _figure(figsize=FIGSIZE):
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    return fig


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    return path


def plot_slices(result: "Result", out_dir: Path) -> list[Path]:
    """Write ``field_xz.png`` and ``field_xy.png`` (max |E| over the train) into ``out_dir``.

    Colours: the cell field as computed (V/cm); contour lines: the E_rev / E_irr levels of
    the field recovered at the nodes (volume-weighted per region), which smooths the
    cell-to-cell scatter of a P1 field without blurring tissue interfaces."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    centre = _centre(result)
    field = result.train.E_max.max(axis=1) / V_PER_CM            # V/cm per cell
    nodal = recover_nodal(result.mesh, field)
    mat = _reference_material(result, float(centre[2]))
    paths = []
    for axis, name in ((1, "field_xz.png"), (2, "field_xy.png")):
        ur, vr = _slice_ranges(result, axis)
        sample = sample_plane(result.mesh, axis, float(centre[axis]), ur, vr)
        fig = _slice_figure(result, sample, sample.values(field), sample.interpolate(result.mesh, nodal), mat)
        paths.append(_save(fig, out_dir / name))
    return paths


def _slice_figure(result: "Result", sample: PlaneSample, F: np.ma.MaskedArray, S: np.ma.MaskedArray, mat):
    import matplotlib
    from matplotlib import patheffects
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    sc = result.scenario
    E_rev, E_irr = mat.E_rev / V_PER_CM, mat.E_irr / V_PER_CM
    vmax = 2.0 * E_irr
    fig = _figure()
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps[FIELD_CMAP].with_extremes(bad="white")
    ext = tuple(e / MM for e in sample.extent)
    im = ax.imshow(F, origin="lower", extent=ext, cmap=cmap, norm=Normalize(0.0, vmax),
                   interpolation="nearest", rasterized=True)
    U, V = sample.u / MM, sample.v / MM
    halo = [patheffects.withStroke(linewidth=2.0, foreground="0.25")]
    for level, colour in ((E_rev, REV_COLOUR), (E_irr, IRR_COLOUR)):
        if S.count() and S.min() < level < S.max():
            cs = ax.contour(U, V, S, levels=[level], colors=colour, linewidths=1.0, zorder=2)
            if colour == REV_COLOUR:
                cs.set_path_effects(halo)
            labels = ax.clabel(cs, fmt={level: f"{level:g}"}, fontsize=6.5, inline_spacing=3)
            for lab in labels:
                lab.set_color(colour)
                if colour == REV_COLOUR:
                    lab.set_path_effects([patheffects.withStroke(linewidth=1.5, foreground="0.25")])
    vertical = sample.axis == 1
    iu, iv = sample.axes
    if vertical:
        _draw_layers(ax, sc.tissue, ext)
    _draw_tumours(ax, sc.tumours, sample)
    _draw_electrodes(ax, sc.electrode, sample, ext[3] * MM)
    ax.set_xlim(ext[0], ext[1])
    ax.set_ylim(ext[2], ext[3])
    ax.set_aspect("equal")
    names = "xyz"
    ax.set_xlabel(f"{names[iu]} (mm)")
    ax.set_ylabel(f"{names[iv]} (mm)")
    ax.tick_params(labelsize=8, direction="out")
    where = f"{names[sample.axis]} = {sample.value / MM:.1f} mm"
    ax.set_title(f"{literal(sc.name)} \u2014 {'vertical' if vertical else 'horizontal'} slice, {where}\n"
                 f"{_coverage_line(result)}", fontsize=8.5)
    cb = fig.colorbar(im, ax=ax, extend="max", shrink=0.9, pad=0.02)
    cb.set_label("max |E| over the pulse train (V/cm)", fontsize=8)
    cb.ax.tick_params(labelsize=7.5)
    for level, colour in ((E_rev, REV_COLOUR), (E_irr, IRR_COLOUR)):
        cb.ax.axhline(level, color=colour, lw=1.2)
    handles = [Line2D([], [], color=REV_COLOUR, lw=1.0, path_effects=halo),
               Line2D([], [], color=IRR_COLOUR, lw=1.0),
               Line2D([], [], color=TUMOUR_COLOUR, lw=1.3),
               Line2D([], [], color=TUMOUR_COLOUR, lw=1.0, ls=(0, (3, 2))),
               Patch(fc=ELECTRODE_FACE, ec=ELECTRODE_EDGE, lw=0.6)]
    labels = [f"$E_\\mathrm{{rev}}$ ({literal(mat.name)}) = {E_rev:g} V/cm",
              f"$E_\\mathrm{{irr}}$ ({literal(mat.name)}) = {E_irr:g} V/cm",
              "tumour", "margin", "electrode"]
    if not sc.tumours:
        handles, labels = handles[:2] + handles[4:], labels[:2] + labels[4:]
    leg = fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=7,
                     frameon=False, handlelength=1.8, columnspacing=1.2)
    leg.get_frame().set_facecolor("0.85")
    return fig


def _draw_layers(ax, tissue, ext) -> None:
    """Skin line, layer boundaries (dashed) and layer names on a vertical slice (mm axes)."""
    from matplotlib import patheffects

    bounds = tissue.layer_bounds()
    half = tissue.size[0] / 2 / MM
    ax.plot([-half, half], [0.0, 0.0], color="black", lw=0.9, zorder=3)
    if tissue.layout == "fold":                       # layers side by side across x
        for i, (layer, (hi, lo)) in enumerate(zip(tissue.layers, bounds)):
            if i < len(bounds) - 1:
                ax.plot([hi / MM] * 2, [ext[2], 0.0], color="0.9", lw=0.7, ls=(0, (4, 3)), zorder=3)
            t = ax.text((lo + hi) / 2 / MM, ext[2] + 0.03 * (ext[3] - ext[2]), layer.material,
                        ha="center", va="bottom", fontsize=7, color="white", zorder=6)
            t.set_path_effects([patheffects.withStroke(linewidth=1.8, foreground="0.2")])
        return
    for i, (layer, (top, bottom)) in enumerate(zip(tissue.layers, bounds)):
        if i < len(bounds) - 1 and bottom / MM > ext[2]:
            ax.plot([-half, half], [bottom / MM] * 2, color="0.9", lw=0.7, ls=(0, (4, 3)), zorder=3)
        lo_v, hi_v = max(bottom / MM, ext[2]), min(top / MM, ext[3])
        if hi_v - lo_v > 0.04 * (ext[3] - ext[2]):
            t = ax.text(ext[1] - 0.01 * (ext[1] - ext[0]), (lo_v + hi_v) / 2, literal(layer.material),
                        ha="right", va="center", fontsize=7, color="white", zorder=6)
            t.set_path_effects([patheffects.withStroke(linewidth=1.8, foreground="0.2")])


def _draw_tumours(ax, tumours, sample: PlaneSample) -> None:
    """Tumour outlines (solid) and margins (dashed) where the plane cuts them."""
    from matplotlib.patches import Ellipse

    for t in tumours:
        for grow, ls in ((0.0, "-"), (t.margin, (0, (3, 2)))):
            if grow > 0.0 or ls == "-":
                sec = _ellipse_section(t, sample.axis, sample.value, grow)
                if sec is None:
                    continue
                cu, cv, su, sv = (q / MM for q in sec)
                if t.base_z is not None and sample.axis != 2:      # a dome: cut at its base plane
                    th = np.linspace(0.0, 2 * math.pi, 181)
                    u, v = cu + su * np.cos(th), cv + sv * np.sin(th)
                    v = np.maximum(v, (t.base_z - grow) / MM)
                    ax.plot(u, v, color=TUMOUR_COLOUR, lw=1.3 if grow == 0 else 1.0, ls=ls, zorder=4)
                elif t.base_z is None or sample.value >= t.base_z - grow:
                    ax.add_patch(Ellipse((cu, cv), 2 * su, 2 * sv, fill=False, ec=TUMOUR_COLOUR,
                                         lw=1.3 if grow == 0 else 1.0, ls=ls, zorder=4))
                if len(tumours) > 1 and grow == 0:
                    ax.text(cu, cv + sv, literal(t.name), ha="center", va="bottom", fontsize=7,
                            color=TUMOUR_COLOUR, zorder=6)


def _draw_electrodes(ax, e, sample: PlaneSample, z_top: float) -> None:
    """Needles and plates cut by the plane; on vertical slices they rise to z_top (m)."""
    from matplotlib.patches import Ellipse, Polygon

    style = dict(ec=ELECTRODE_EDGE, lw=0.6, zorder=5)
    vertical = sample.axis == 1
    for n in e.needles:
        if vertical:
            for poly, ins in _needle_xz(n, sample.value, z_top):
                ax.add_patch(Polygon(poly / MM, closed=True, fc=INSULATION_FACE if ins else ELECTRODE_FACE,
                                     **style))
        elif n.tip[2] <= sample.value <= 0.0:
            ct = math.cos(math.radians(n.tilt_deg))
            s = -sample.value / ct
            c = n.entry + s * n.axis
            ax.add_patch(Ellipse((c[0] / MM, c[1] / MM), 2 * n.radius / ct / MM, 2 * n.radius / MM,
                                 angle=n.tilt_azimuth_deg,
                                 fc=INSULATION_FACE if s < n.insulated_length else ELECTRODE_FACE, **style))
    for p in e.plates:
        if vertical:
            span = _plate_x_interval(p, sample.value)
            if span is not None:
                x0, x1 = span
                poly = np.array([[x0, -p.depth], [x1, -p.depth], [x1, z_top], [x0, z_top]])
                ax.add_patch(Polygon(poly / MM, closed=True, fc=ELECTRODE_FACE, **style))
        elif -p.depth <= sample.value <= 0.0:
            ax.add_patch(Polygon(p.corners() / MM, closed=True, fc=ELECTRODE_FACE, **style))


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
