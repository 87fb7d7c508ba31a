"""The interactive 3-D view of a run (plotly): tissue block outline, tumours, electrodes and
the E_rev / E_irr iso-surfaces of the tumour's thresholds (mm).

Iso-surfaces: the max-field over the train is resampled on a regular grid (each grid point
takes the field of the nearest cell centroid, so the surfaces follow the cells coverage
counts) and triangulated by marching cubes (scikit-image). The figure is returned as an
HTML fragment with plotly.js embedded inline (no CDN, no network).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from simulator.units import MM, V_PER_CM

if TYPE_CHECKING:                                   # pragma: no cover
    from simulator.solve.result import Result

GRID_POINTS = 44                    # along the longest side of the resampled box
ISO_COLOURS = {"rev": "#f5c542", "irr": "#d62728"}


def resampled_field(result: "Result", lo: np.ndarray, hi: np.ndarray, n: int = GRID_POINTS):
    """(field V/cm on an (nx, ny, nz) grid, grid origin (m), spacing (m)) over the box lo..hi."""
    from scipy.spatial import cKDTree

    h = float((hi - lo).max()) / (n - 1)
    shape = np.maximum(np.ceil((hi - lo) / h).astype(int) + 1, 2)
    axes = [lo[i] + h * np.arange(shape[i]) for i in range(3)]
    X, Y, Z = np.meshgrid(*axes, indexing="ij")
    pts = np.column_stack([X.ravel(), Y.ravel(), Z.ravel()])
    field = result.train.E_max.max(axis=1) / V_PER_CM
    _, idx = cKDTree(result.mesh.centroids()).query(pts)
    values = field[idx]
    tissue = np.zeros(len(pts), bool)               # above the skin only where a nodule protrudes
    tissue[pts[:, 2] <= 0.0] = True
    for t in result.scenario.tumours:
        if t.covered_top > 0:
            tissue |= t.contains(pts, grow=t.cover_thickness if t.cover != "none" else 0.0)
    values[~tissue] = 0.0
    return values.reshape(shape), lo, h


def _isosurface(values: np.ndarray, level: float, origin: np.ndarray, h: float):
    from skimage.measure import marching_cubes

    if not values.min() < level < values.max():
        return None
    verts, faces, _, _ = marching_cubes(values, level=level, spacing=(h, h, h))
    verts = (verts + origin) / MM
    return np.round(verts, 3), faces


def _ellipsoid(t, n: int = 18):
    u, v = np.meshgrid(np.linspace(0, 2 * math.pi, n), np.linspace(0, math.pi, n // 2 + 1))
    a, b, c = (s / MM for s in t.semi_axes)
    x = t.centre[0] / MM + a * np.cos(u) * np.sin(v)
    y = t.centre[1] / MM + b * np.sin(u) * np.sin(v)
    z = t.centre[2] / MM + c * np.cos(v)
    return x, y, z


def _box_edges(lo, hi):
    xs, ys, zs = [], [], []
    for a in ((0, 1), (0, 2), (1, 2)):
        k = 3 - sum(a)
        for s0 in (lo[a[0]], hi[a[0]]):
            for s1 in (lo[a[1]], hi[a[1]]):
                p, q = np.zeros(3), np.zeros(3)
                p[a[0]], p[a[1]], p[k] = s0, s1, lo[k]
                q[a[0]], q[a[1]], q[k] = s0, s1, hi[k]
                xs += [p[0], q[0], None]
                ys += [p[1], q[1], None]
                zs += [p[2], q[2], None]
    return xs, ys, zs


def figure_3d(result: "Result"):
    """The plotly Figure (lengths in mm)."""
    import plotly.graph_objects as go

    sc = result.scenario
    X, Y, Z = sc.tissue.size
    lo, hi = np.array([-X / 2, -Y / 2, -Z]), np.array([X / 2, Y / 2, sc.tissue_top])
    fig = go.Figure()
    ex, ey, ez = _box_edges(lo / MM, hi / MM)
    fig.add_trace(go.Scatter3d(x=ex, y=ey, z=ez, mode="lines", line=dict(color="#555", width=3), name="tissue block"))
    for t in sc.tumours:
        if t.surface is not None:                   # a closed triangulated surface (STL)
            v, f = t.surface.vertices / MM, t.surface.triangles
            fig.add_trace(go.Mesh3d(x=v[:, 0], y=v[:, 1], z=v[:, 2], i=f[:, 0], j=f[:, 1], k=f[:, 2],
                                    color="#e8336d", opacity=0.55, name=f"tumour {t.name}", showlegend=True))
            continue
        x, y, z = _ellipsoid(t)
        if t.base_z is not None:                    # a dome: the sphere cut at its base plane
            z = np.maximum(z, t.base_z / MM)
        fig.add_trace(go.Surface(x=x, y=y, z=z, opacity=0.55, showscale=False, name=f"tumour {t.name}",
                                 colorscale=[[0, "#e8336d"], [1, "#e8336d"]], showlegend=True))
    for n in sc.electrode.needles:
        p, q = n.entry / MM, n.tip / MM
        fig.add_trace(go.Scatter3d(x=[p[0], q[0]], y=[p[1], q[1]], z=[p[2] + 1.0, q[2]], mode="lines",
                                   line=dict(color="#333", width=6), name=f"needle {n.name}"))
    for p in sc.electrode.plates:
        c = p.corners() / MM
        d = p.depth / MM
        xs = np.r_[c[:, 0], c[:, 0]]
        ys = np.r_[c[:, 1], c[:, 1]]
        zs = np.r_[np.zeros(4), -d * np.ones(4)]
        i, j, k = zip(*[(0, 1, 2), (0, 2, 3), (4, 5, 6), (4, 6, 7), (0, 1, 5), (0, 5, 4), (1, 2, 6), (1, 6, 5),
                        (2, 3, 7), (2, 7, 6), (3, 0, 4), (3, 4, 7)])
        fig.add_trace(go.Mesh3d(x=xs, y=ys, z=zs, i=i, j=j, k=k, color="#999", opacity=0.8, name=f"plate {p.name}",
                                showlegend=True))
    mat = sc.materials[sc.tumours[0].material] if sc.tumours else sc.materials[sc.tissue.layers[-1].material]
    values, origin, h = resampled_field(result, lo, hi)
    for tag, level, opacity in (("rev", mat.E_rev / V_PER_CM, 0.25), ("irr", mat.E_irr / V_PER_CM, 0.45)):
        iso = _isosurface(values, level, origin, h)
        if iso is None:
            continue
        v, f = iso
        fig.add_trace(go.Mesh3d(x=v[:, 0], y=v[:, 1], z=v[:, 2], i=f[:, 0], j=f[:, 1], k=f[:, 2],
                                color=ISO_COLOURS[tag], opacity=opacity, showlegend=True,
                                name=f"E_{tag} ({mat.name}) = {level:g} V/cm"))
    fig.update_layout(scene=dict(xaxis_title="x (mm)", yaxis_title="y (mm)", zaxis_title="z (mm)",
                                 aspectmode="data"),
                      margin=dict(l=0, r=0, t=30, b=0), height=560, legend=dict(x=0.0, y=1.0),
                      title=dict(text="3-D view: drag to rotate, scroll to zoom", font=dict(size=13)))
    return fig


def view_html(result: "Result") -> str:
    """The 3-D view as an HTML fragment with plotly.js inline (works offline)."""
    fig = figure_3d(result)
    return fig.to_html(full_html=False, include_plotlyjs=True, div_id="view3d",
                       config={"displaylogo": False, "responsive": True})
