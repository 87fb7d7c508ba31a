"""Outlines drawn over slices: tumour ellipses, needle and plate sections, tissue layers (m)."""
from __future__ import annotations

import math

import numpy as np

from simulator.units import MM

ELECTRODE_FACE, ELECTRODE_EDGE, INSULATION_FACE = "0.80", "0.15", "0.35"


def literal(text: str) -> str:
    """A name as matplotlib text shown literally: ``$`` would start mathtext (and an unpaired
    or malformed one raise after the whole solve), so it is escaped as ``\\$``."""
    return text.replace("$", "\\$")
TUMOUR_COLOUR = "#e8336d"


def ellipse_section(tumour, axis: int, value: float, grow: float = 0.0):
    """(centre_u, centre_v, semi_u, semi_v) of an axis-aligned ellipsoid cut by a plane, or None."""
    a = np.asarray(tumour.semi_axes) + grow
    c = np.asarray(tumour.centre)
    s = 1.0 - ((value - c[axis]) / a[axis]) ** 2
    if s <= 0:
        return None
    iu, iv = (i for i in range(3) if i != axis)
    return c[iu], c[iv], a[iu] * math.sqrt(s), a[iv] * math.sqrt(s)


def needle_xz(n, y0: float, z_top: float, samples: int = 200) -> list[tuple[np.ndarray, bool]]:
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


def plate_x_interval(p, y0: float) -> tuple[float, float] | None:
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



# ----------------------------------------------------------------------------- drawing (mm axes)
def draw_layers(ax, tissue, ext, text_colour: str = "white", y: float = 0.0) -> None:
    """Skin line, layer boundaries (dashed) and layer names on a vertical slice y = ``y`` (m)
    (mm axes); under a curved skin the lines follow it.

    Names sit inside the tissue at its left edge (never on a plate outside the block)."""
    from matplotlib import patheffects

    bounds = tissue.layer_bounds()
    half = tissue.size[0] / 2 / MM
    x0, x1 = max(-half, ext[0]), min(half, ext[1])
    c = getattr(tissue, "curvature", None)
    if c is not None and tissue.image is None:
        _draw_curved_layers(ax, tissue, c, x0, x1, y, ext, text_colour)
        return
    ax.plot([x0, x1], [0.0, 0.0], color="black", lw=0.9, zorder=3)
    if tissue.image is not None:                      # regions from a label image: no layer planes
        return
    if tissue.layout == "fold":                       # layers side by side across x
        for i, (layer, (hi, lo)) in enumerate(zip(tissue.layers, bounds)):
            if i < len(bounds) - 1:
                ax.plot([hi / MM] * 2, [ext[2], 0.0], color="0.9", lw=0.7, ls=(0, (4, 3)), zorder=3)
            t = ax.text((lo + hi) / 2 / MM, ext[2] + 0.03 * (ext[3] - ext[2]), literal(layer.material),
                        ha="center", va="bottom", fontsize=6.5, color=text_colour, zorder=6,
                        gid=f"layer:{layer.material}")
            t.set_path_effects([patheffects.withStroke(linewidth=1.6, foreground="0.2")])
        return
    for i, (layer, (top, bottom)) in enumerate(zip(tissue.layers, bounds)):
        if i < len(bounds) - 1 and bottom / MM > ext[2]:
            ax.plot([x0, x1], [bottom / MM] * 2, color="0.9", lw=0.7, ls=(0, (4, 3)), zorder=3)
        lo_v, hi_v = max(bottom / MM, ext[2]), min(top / MM, ext[3])
        if hi_v - lo_v > 0.04 * (ext[3] - ext[2]):
            t = ax.text(x0 + 0.015 * (ext[1] - ext[0]), hi_v - 0.01 * (ext[3] - ext[2]), literal(layer.material),
                        ha="left", va="top", fontsize=6.5, color=text_colour, zorder=6, gid=f"layer:{layer.material}")
            t.set_path_effects([patheffects.withStroke(linewidth=1.6, foreground="0.2")])


def _draw_curved_layers(ax, tissue, c, x0: float, x1: float, y: float, ext, text_colour: str) -> None:
    """The skin and the layer boundaries under a curved skin, on the slice y = ``y``."""
    from matplotlib import patheffects
    xs = np.linspace(x0, x1, 121) * MM
    depth = 0.0
    for i, layer in enumerate(tissue.layers):
        p = np.array([c.point(x, y, depth) for x in xs]) / MM
        keep = (np.abs(p[:, 0]) <= tissue.size[0] / 2 / MM) & (p[:, 2] > ext[2])
        ax.plot(p[keep, 0], p[keep, 2], color="black" if i == 0 else "0.9", lw=0.9 if i == 0 else 0.7,
                ls="-" if i == 0 else (0, (4, 3)), zorder=3)
        if i == 0 or (layer.thickness or 0) > 0.04 * (ext[3] - ext[2]) * MM or layer.thickness is None:
            top = float(c.point(x0 * MM, y, depth)[2]) / MM
            if ext[2] < top < ext[3]:
                t = ax.text(x0 + 0.015 * (ext[1] - ext[0]), top - 0.01 * (ext[3] - ext[2]), literal(layer.material),
                            ha="left", va="top", fontsize=6.5, color=text_colour, zorder=6,
                            gid=f"layer:{layer.material}")
                t.set_path_effects([patheffects.withStroke(linewidth=1.6, foreground="0.2")])
        if layer.thickness is None:
            break
        depth += layer.thickness


def draw_tumours(ax, tumours, axis: int, value: float) -> list[str]:
    """Tumour outlines (solid) and margins (dashed) where the plane ``axis`` = ``value`` (m)
    cuts them; each outline's gid is ``tumour:<name>``. Returns the names drawn."""
    from matplotlib.patches import Ellipse

    drawn = []
    for t in tumours:
        for grow, ls in ((0.0, "-"), (t.margin, (0, (3, 2)))):
            if grow > 0.0 or ls == "-":
                sec = ellipse_section(t, axis, value, grow)
                if sec is None:
                    continue
                cu, cv, su, sv = (q / MM for q in sec)
                gid = f"{'tumour' if grow == 0 else 'margin'}:{t.name}"
                lw = 1.3 if grow == 0 else 1.0
                if t.base_z is not None and axis != 2:      # a dome: cut at its base plane
                    th = np.linspace(0.0, 2 * math.pi, 181)
                    u, v = cu + su * np.cos(th), cv + sv * np.sin(th)
                    v = np.maximum(v, (t.base_z - grow) / MM)
                    ax.plot(u, v, color=TUMOUR_COLOUR, lw=lw, ls=ls, zorder=4, gid=gid)
                elif t.base_z is None or value >= t.base_z - grow:
                    ax.add_patch(Ellipse((cu, cv), 2 * su, 2 * sv, fill=False, ec=TUMOUR_COLOUR, lw=lw, ls=ls,
                                         zorder=4, gid=gid))
                else:
                    continue
                if grow == 0:
                    drawn.append(t.name)
                    if len(tumours) > 1:
                        ax.text(cu, cv + sv, literal(t.name), ha="center", va="bottom", fontsize=6.5,
                                color=TUMOUR_COLOUR, zorder=6)
    return drawn


def draw_electrodes(ax, e, axis: int, value: float, z_top: float) -> None:
    """Needles and plates cut by the plane ``axis`` = ``value`` (m; 1 = vertical x-z, 2 =
    horizontal x-y); on vertical slices they rise to z_top (m)."""
    from matplotlib.patches import Ellipse, Polygon

    style = dict(ec=ELECTRODE_EDGE, lw=0.6, zorder=5)
    vertical = axis == 1
    for n in e.needles:
        if vertical:
            for poly, ins in needle_xz(n, value, z_top):
                ax.add_patch(Polygon(poly / MM, closed=True, fc=INSULATION_FACE if ins else ELECTRODE_FACE,
                                     gid=f"electrode:{n.name}", **style))
        elif n.tip[2] <= value <= 0.0:
            ct = math.cos(math.radians(n.tilt_deg))
            s = -value / ct
            c = n.entry + s * n.axis
            ax.add_patch(Ellipse((c[0] / MM, c[1] / MM), 2 * n.radius / ct / MM, 2 * n.radius / MM,
                                 angle=n.tilt_azimuth_deg, gid=f"electrode:{n.name}",
                                 fc=INSULATION_FACE if s < n.insulated_length else ELECTRODE_FACE, **style))
    for p in e.plates:
        if vertical:
            span = plate_x_interval(p, value)
            if span is not None:
                x0, x1 = span
                poly = np.array([[x0, -p.depth], [x1, -p.depth], [x1, z_top], [x0, z_top]])
                ax.add_patch(Polygon(poly / MM, closed=True, fc=ELECTRODE_FACE, gid=f"electrode:{p.name}", **style))
        elif -p.depth <= value <= 0.0:
            ax.add_patch(Polygon(p.corners() / MM, closed=True, fc=ELECTRODE_FACE, gid=f"electrode:{p.name}",
                                 **style))
