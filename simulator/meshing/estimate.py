"""How many tetrahedra a mesh input will give, from its size field, before gmsh runs.

gmsh fills a region of local size h with about ``CELLS_PER_H3`` tetrahedra per h^3, so the
count is ``CELLS_PER_H3 x integral dV / h(x)^3`` over the tissue. :func:`size_at` evaluates
the size field that :func:`simulator.meshing.size_field.apply_size_fields` gives gmsh (the
same boxes, needle thresholds and plate ramps, in NumPy); :func:`estimate_cells`
integrates it on an adaptive octree (cells split until they are smaller than half the
local size), and stops early once the count is certainly above a limit, so that even a
contact size of 1 um is judged in a fraction of a second.

A size map (the refinement loop's, :class:`simulator.scenario.records.SizeMap`) is evaluated
as gmsh's PostView field is: linear in the tets of its mesh; it replaces the size field
(``replace``, the error-equidistributing map) or is min-ed with it.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from electrodes.contacts import Needle
from simulator.meshing.inputs import MeshInput
from simulator.meshing.model import S
from simulator.meshing.size_field import ANGULAR_GROWTH, GROWTH, hull, rib_size

# tets per h^3 fitted to gmsh 4 meshes (tests/test_mesh_estimate.py: needle pair, hexagonal,
# plates, clamped plates, fine contacts; estimate / actual within 0.6-1.6)
CELLS_PER_H3 = 4.6
ACCEPT = 2.0               # an octree cell up to ACCEPT x the local size is integrated by its centre
CHUNK = 200_000            # octree cells evaluated at once (bounds the memory of the estimate)


def _box_distance(p: np.ndarray, lo, hi) -> np.ndarray:
    d = np.maximum(np.maximum(np.asarray(lo) - p, p - np.asarray(hi)), 0.0)
    return np.sqrt((d * d).sum(axis=1))


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1)


def _plate_distance(p: np.ndarray, plate) -> np.ndarray:
    c, s = math.cos(math.radians(plate.normal_deg)), math.sin(math.radians(plate.normal_deg))
    x, y = p[:, 0] - plate.centre[0], p[:, 1] - plate.centre[1]
    du = np.maximum(np.abs(c * x + s * y) - plate.thickness / 2, 0)
    dv = np.maximum(np.abs(-s * x + c * y) - plate.length / 2, 0)
    dw = np.maximum(-p[:, 2] - plate.depth, 0)
    return np.sqrt(du * du + dv * dv + dw * dw)


def size_at(mi: MeshInput, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Element size (m) of the size field at points ``p`` (N, 3) in m, and whether each
    point is tissue (not inside a needle)."""
    sz = mi.sizes
    h, far = sz.size, sz.far
    out = np.full(len(p), far)
    tissue = np.ones(len(p), dtype=bool)

    def box(lo, hi, vin):
        ramp = (far - vin) / GROWTH
        d = _box_distance(p, lo, hi)
        np.minimum(out, vin + (far - vin) * np.minimum(d / ramp, 1.0), out=out)

    X, Y, Z = mi.tissue.size
    hb = hull(mi)
    if mi.clamped:
        box((-X, -Y, -2 * Z), (X, Y, Z), h)
    elif hb is not None:
        pad = max(2.0 * h, 0.5 * mi.electrode_distance)
        box(hb[0] / S - pad, hb[1] / S + pad, h)                  # hull() is in model units (mm)
    for t, ht in zip(mi.tumours, sz.tumour or [h] * len(mi.tumours)):
        c, ax = np.asarray(t.centre), np.asarray(t.semi_axes)
        pad = max(t.margin, ht)
        box(c - ax - pad, c + ax + pad, ht)
    ribs = mi.tissue.ribs
    if ribs is not None:
        hr = rib_size(ribs, far)
        for x in ribs.centres_x(X):
            d = np.abs(np.hypot(p[:, 0] - x, p[:, 2] + ribs.depth) - ribs.radius)
            np.minimum(out, np.minimum(far, hr + GROWTH * d), out=out)
    if not mi.clamped:
        for c in mi.contacts:
            hc = sz.contact[c.name]
            if isinstance(c, Needle):
                r = c.radius
                L = min(c.insertion_depth, Z / max(-c.axis[2], 1e-9) + r)
                d = _segment_distance(p, c.entry, c.entry + L * c.axis)
                g = min(GROWTH, ANGULAR_GROWTH * hc / r)
                np.minimum(out, np.clip(hc + g * (d - r), hc, far), out=out)
                tissue &= d >= r
            else:
                np.minimum(out, np.minimum(far, hc + GROWTH * _plate_distance(p, c)), out=out)
    lo = 0.5 * min([h, *sz.contact.values(), *sz.tumour])
    out = np.clip(out, lo, far)
    sm = mi.size_map
    if sm is not None:
        mapped = _locator(sm).interpolate(sm.size, p)
        out = mapped if sm.replace else np.minimum(out, mapped)
    return out, tissue


@functools.lru_cache(maxsize=2)
def _locator(size_map):
    """Point location in the size map's mesh (kept: the octree asks for many points)."""
    from simulator.meshing.locate import PointLocator
    return PointLocator(size_map)


def needle_cells(mi: MeshInput) -> float:
    """Elements around the needles from their Threshold fields alone, in closed form:
    CELLS_PER_H3 x L x integral_r^R 2 pi rho / (hc + g (rho - r))^3 drho (the other fields
    only add to it). This is the count a fine contact size explodes."""
    if mi.clamped:
        return 0.0
    far, total = mi.sizes.far, 0.0
    for n in mi.needles:
        hc, r = mi.sizes.contact[n.name], n.radius
        if hc >= far:
            continue
        g = min(GROWTH, ANGULAR_GROWTH * hc / r)
        L = min(n.insertion_depth, mi.tissue.size[2] / max(-n.axis[2], 1e-9))
        per_length = 2 * math.pi / g**2 * ((1 / hc - 1 / far) - (hc - g * r) / 2 * (1 / hc**2 - 1 / far**2))
        total += CELLS_PER_H3 * L * per_length
    return total


def estimate_cells(mi: MeshInput, limit: float = math.inf) -> float:
    """Estimated tetrahedron count of the mesh (see module docstring). Once the count is
    certainly above ``limit``, a lower bound above it is returned at once.

    Octree cells are accepted when they are no larger than the local size h at their centre
    (midpoint rule); a cell still to split, of size s > h, holds at least
    CELLS_PER_H3 s^3 / (h + GROWTH s sqrt(3)/2)^3 elements, since no size field grows faster
    than GROWTH: the sum of those bounds is what "certainly above" means."""
    # the needles' closed form is that of the scenario's contact sizes, not of a map replacing them
    near = 0.0 if mi.size_map is not None and mi.size_map.replace else needle_cells(mi)
    if near > 2 * limit:            # certainly above, even if the near fields of close needles overlap
        return near
    X, Y, Z = mi.tissue.size
    n = np.maximum(np.ceil(np.array([X, Y, Z]) / mi.sizes.far).astype(int), 1)
    step = np.array([X, Y, Z]) / n
    grid = np.stack(np.meshgrid(*[(np.arange(k) + 0.5) for k in n], indexing="ij"), axis=-1).reshape(-1, 3)
    offsets = np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], dtype=float)
    stack = [(grid * step + np.array([-X / 2, -Y / 2, -Z]), step / 2, 0.0)]
    count, pending = 0.0, 0.0
    while stack:
        centres, half, bound = stack.pop()
        pending -= bound
        for a in range(0, len(centres), CHUNK):
            c = centres[a:a + CHUNK]
            h, tissue = size_at(mi, c)
            side = 2 * float(half.max())
            vol = float(np.prod(2 * half))
            done = side <= ACCEPT * h
            count += CELLS_PER_H3 * vol * float((tissue[done] / h[done] ** 3).sum())
            rest = c[~done]
            if len(rest):
                hr = h[~done]
                lower = CELLS_PER_H3 * vol * float((1.0 / (hr + GROWTH * float(np.linalg.norm(half))) ** 3).sum())
                pending += lower
                children = (rest[:, None, :] + offsets[None, :, :] * (half / 2)).reshape(-1, 3)
                stack.append((children, half / 2, lower))
            if count + pending > limit:
                return count + pending
    return count
