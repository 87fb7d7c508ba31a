"""Geometric checks across scenario sections: tumours that overlap, needles and plates
that leave the tissue block or cross each other. Raise :class:`GeometryError` naming the field.
"""
from __future__ import annotations
import math
from dataclasses import replace

import numpy as np
from electrodes.contacts import Electrode
from simulator.errors import GeometryError
from simulator.units import MM
from simulator.scenario.records import Tissue
from simulator.scenario.records import Tumour
from simulator.scenario.limits import MIN_NEEDLE_DIAMETER, MIN_PLATE_THICKNESS, at_least


def ellipsoids_overlap(a: Tumour, b: Tumour, n: int = 4000) -> bool:
    """Whether two ellipsoids intersect: sample one's surface (deterministic Fibonacci points)."""
    k = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * k / n)
    theta = math.pi * (1 + 5 ** 0.5) * k
    unit = np.stack([np.sin(phi) * np.cos(theta), np.sin(phi) * np.sin(theta), np.cos(phi)], axis=1)
    for p, q in ((a, b), (b, a)):
        pts = np.asarray(p.centre) + unit * np.asarray(p.semi_axes)
        if q.contains(pts).any() or q.contains(np.asarray([p.centre])).any():
            return True
    return False


def clamp_to_block(e: Electrode, tissue: Tissue) -> Electrode:
    """The electrode with ``clamped`` set when its plates are at least as far apart as the
    tissue block is wide in x (the block is then clamped between them); otherwise ``e``."""
    if e.plates and tissue.size[0] <= e.distance + 1e-12:
        return replace(e, clamped=True)
    return e


def check_electrode(e: Electrode, tissue: Tissue) -> None:
    X, Y, Z = tissue.size
    for i, n in enumerate(e.needles):
        field_name = f"electrode.needles[{i}]" if e.type == "needles" else "electrode"
        at_least(f"{field_name}.diameter_mm" if e.type == "needles" else "electrode.needle_diameter_mm",
                 n.diameter, MIN_NEEDLE_DIAMETER, "the thinnest needles made are 0.12 mm (acupuncture) [A]")
        if not 0 <= n.tilt_deg < 80:
            raise GeometryError(f"{field_name}.tilt_deg", f"must be in [0, 80) degrees, got {n.tilt_deg:g}")
        if n.insulated_length >= n.insertion_depth:
            raise GeometryError(f"{field_name}.insulated_length_mm",
                                f"must be shorter than the insertion depth ({n.insertion_depth / MM:g} mm), "
                                f"got {n.insulated_length / MM:g}")
        for p in (n.entry, n.tip):
            lim_x, lim_y = X / 2 - n.radius, Y / 2 - n.radius
            if abs(p[0]) >= lim_x or abs(p[1]) >= lim_y:
                raise GeometryError(field_name, f"needle {n.name!r} at ({p[0] / MM:g}, {p[1] / MM:g}) mm "
                                    f"is outside the tissue block ({X / MM:g} x {Y / MM:g} mm)")
        for m in e.needles[:i]:
            # the shafts, not only the entry points: tilted needles can cross below the skin
            axes = segment_distance(n.entry, n.tip, m.entry, m.tip)
            gap = axes - n.radius - m.radius
            if gap <= 0:
                size = f"{axes / MM:.3g} mm apart, needle diameter {n.diameter / MM:g} mm"
                if math.dist(n.position, m.position) <= axes + 1e-12:
                    raise GeometryError(field_name, f"needles {m.name!r} and {n.name!r} overlap at the skin (axes {size})")
                raise GeometryError(field_name, f"needles {m.name!r} and {n.name!r} overlap below the skin (axes {size})")
    for p in e.plates:
        at_least("electrode.thickness_mm", p.thickness, MIN_PLATE_THICKNESS,
                 "a plate thinner than foil would not stand in tissue [A]")
    if e.plates:
        gap = e.distance
        a, b = e.plates
        if gap <= 0:
            raise GeometryError("electrode.gap_mm", f"must be > 0, got {gap / MM:g}")
        if a.length > 2 * max(X, Y) or a.depth > Z + 1e-12:
            raise GeometryError("electrode.depth_mm" if a.depth > Z else "electrode.length_mm",
                                f"plates ({a.length / MM:g} mm long, {a.depth / MM:g} mm deep) do not fit "
                                f"the block ({X / MM:g} x {Y / MM:g} x {Z / MM:g} mm)")
        if e.clamped:
            if abs(a.normal_deg) > 1e-9 or abs(a.centre[1] + b.centre[1]) > 1e-12:
                raise GeometryError("electrode.rotation_deg", "a clamped block needs unrotated, centred plates")
            if abs(X - gap) > 1e-9:
                raise GeometryError("tissue.size_mm[0]", f"a block narrower than the plate gap "
                                    f"({gap / MM:g} mm) would not touch the plates; make it {gap / MM:g} mm wide")
        else:
            for p in (a, b):
                corners = p.corners()
                if (np.abs(corners[:, 0]) >= X / 2).any() or (np.abs(corners[:, 1]) >= Y / 2).any():
                    raise GeometryError("electrode", f"plate {p.name!r} is outside or crosses the tissue block "
                                        f"({X / MM:g} x {Y / MM:g} mm); enlarge tissue.size_mm")


def segment_distance(p0, p1, q0, q1) -> float:
    """Shortest distance between segments p0-p1 and q0-q1 (closest points clamped to both;
    Ericson, Real-Time Collision Detection, 5.1.9)."""
    p0, q0 = np.asarray(p0, float), np.asarray(q0, float)
    d1, d2, r = np.asarray(p1, float) - p0, np.asarray(q1, float) - q0, p0 - q0
    a, e, f = d1 @ d1, d2 @ d2, d2 @ r
    c, b = d1 @ r, d1 @ d2
    denom = a * e - b * b
    s = float(np.clip((b * f - c * e) / denom, 0.0, 1.0)) if denom > 1e-30 * a * e else 0.0
    t = (b * s + f) / e
    if t < 0.0:
        t, s = 0.0, float(np.clip(-c / a, 0.0, 1.0))
    elif t > 1.0:
        t, s = 1.0, float(np.clip((b - c) / a, 0.0, 1.0))
    return float(np.linalg.norm(p0 + s * d1 - (q0 + t * d2)))
