"""A curved body surface (a chest wall): the skin is a cylinder (axis along x or y) or a
sphere of radius R whose top touches z = 0 at x = y = 0, its centre at (0, 0, -R); the
layers are shells of constant thickness under it. Lengths in m; pure geometry, no I/O.

A point "``depth`` below the skin at (x, y)" lies on the inward normal through the skin
point above (x, y), at distance ``depth`` from it (for a sphere or a cylinder the normal
passes through the centre, so that point is at distance R - depth from the centre/axis).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from electrodes.contacts import Electrode, Needle

CURVATURE_SHAPES = ("cylinder", "sphere")
AXES = ("x", "y")


@dataclass(frozen=True)
class Curvature:
    """``shape`` cylinder (its axis along ``axis``) or sphere, radius ``radius`` (m)."""

    shape: str
    radius: float
    axis: str = "y"

    @property
    def centre(self) -> np.ndarray:
        return np.array([0.0, 0.0, -self.radius])

    def _mask(self) -> np.ndarray:
        """Coordinates that vary across the surface's curved directions (1) or not (0)."""
        if self.shape == "sphere":
            return np.array([1.0, 1.0, 1.0])
        return np.array([0.0, 1.0, 1.0]) if self.axis == "x" else np.array([1.0, 0.0, 1.0])

    def rho2(self, x, y):
        """Squared distance from the symmetry axis (sphere: the z axis) in the xy plane."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        if self.shape == "sphere":
            return x * x + y * y
        return y * y if self.axis == "x" else x * x

    def surface_z(self, x, y):
        """z of the skin above (x, y) (m, <= 0); NaN where the surface does not reach."""
        r2 = self.radius ** 2 - self.rho2(x, y)
        return np.where(r2 >= 0, np.sqrt(np.maximum(r2, 0.0)), np.nan) - self.radius

    def normal(self, x: float, y: float) -> np.ndarray:
        """Outward unit normal of the skin at the point above (x, y)."""
        p = np.array([x, y, float(self.surface_z(x, y))]) - self.centre
        p *= self._mask()
        return p / np.linalg.norm(p)

    def point(self, x: float, y: float, depth: float) -> np.ndarray:
        """The point ``depth`` (m) below the skin point above (x, y), along the inward normal."""
        s = np.array([x, y, float(self.surface_z(x, y))])
        return s - depth * self.normal(x, y)

    def depth_of(self, points: np.ndarray) -> np.ndarray:
        """Distance (m) of each point below the skin (negative above it)."""
        d = (np.asarray(points, float) - self.centre) * self._mask()
        return self.radius - np.linalg.norm(d, axis=-1)

    def entry_distance(self, p: np.ndarray, a: np.ndarray) -> float:
        """Distance t >= 0 along the unit direction ``a`` from ``p`` (on or above the skin) to
        the skin: the first root of |(p + t a - centre) masked| = R (a quadratic)."""
        m = self._mask()
        d, u = (p - self.centre) * m, a * m
        A, B, C = float(u @ u), float(2 * d @ u), float(d @ d) - self.radius ** 2
        if A == 0 or C <= 0:
            return 0.0
        return float((-B - math.sqrt(max(B * B - 4 * A * C, 0.0))) / (2 * A))

    def tilt(self, x: float, y: float) -> tuple[float, float]:
        """(tilt from -z, azimuth from +x) in degrees of the inward normal at the skin above
        (x, y): the direction of a needle inserted perpendicular to the skin there."""
        n = -self.normal(x, y)
        tilt = math.degrees(math.acos(max(-1.0, min(1.0, -n[2]))))
        az = math.degrees(math.atan2(n[1], n[0])) if tilt > 1e-12 else 0.0
        return tilt, az % 360.0

    def shell_volume(self, d_top: float, d_bottom: float, half_x: float, half_y: float) -> float:
        """Exact volume (m^3) of the shell from ``d_top`` to ``d_bottom`` below the skin over
        |x| <= half_x, |y| <= half_y (the upper half of the shell; the block must hold it).
        Cylinder: the integral of sqrt(r^2 - u^2) over |u| <= a is a sqrt(r^2 - a^2) +
        r^2 asin(a / r); sphere: the same over the rectangle, by quadrature (scipy)."""
        R = self.radius

        def under(r: float) -> float:            # volume under the surface of radius r, above its centre plane
            if self.shape == "cylinder":
                a, L = (half_y, 2 * half_x) if self.axis == "x" else (half_x, 2 * half_y)
                return L * (a * math.sqrt(r * r - a * a) + r * r * math.asin(a / r))
            from scipy.integrate import dblquad
            v, _ = dblquad(lambda y, x: math.sqrt(max(r * r - x * x - y * y, 0.0)), -half_x, half_x,
                           -half_y, half_y, epsabs=1e-16, epsrel=1e-10)
            return v
        return under(R - d_top) - under(R - d_bottom)


def on_skin(e: Electrode, c: Curvature, along_normal: bool = True) -> Electrode:
    """The electrode on the curved skin. Custom needles (``type = "needles"``) enter above
    their (x, y) positions, each along the local inward normal (``along_normal``) or with its
    own tilt from -z. A rigid array (every other type) stays rigid: its needles are parallel
    to the inward normal at its centre (the mean of its needle positions), their offsets laid
    in the tangent plane there, each entering where its line meets the skin."""
    from dataclasses import replace
    needles = [n for n in e.contacts if isinstance(n, Needle)]
    rigid = e.type != "needles" and along_normal and len(needles) > 1
    if rigid:
        cx, cy = (float(np.mean([n.position[k] for n in needles])) for k in range(2))
        s0 = np.array([cx, cy, float(c.surface_z(cx, cy))])
        a = -c.normal(cx, cy)
        rot = _rotation_from_z(-a)
        tilt, az = c.tilt(cx, cy)
    contacts = []
    for n in e.contacts:
        if isinstance(n, Needle):
            x, y = n.position
            if rigid:
                p = s0 + rot @ np.array([x - cx, y - cy, 0.0])      # on the tangent plane
                q = p + c.entry_distance(p, a) * a
                n = replace(n, position=(float(q[0]), float(q[1])), entry_z=float(q[2]), tilt_deg=tilt,
                            tilt_azimuth_deg=az)
            else:
                tl, azl = c.tilt(x, y) if along_normal else (n.tilt_deg, n.tilt_azimuth_deg)
                n = replace(n, entry_z=float(c.surface_z(x, y)), tilt_deg=tl, tilt_azimuth_deg=azl)
        contacts.append(n)
    return replace(e, contacts=tuple(contacts))


def _rotation_from_z(n: np.ndarray) -> np.ndarray:
    """The rotation (3 x 3) taking +z to the unit vector ``n`` about their common normal."""
    z = np.array([0.0, 0.0, 1.0])
    v, cos = np.cross(z, n), float(z @ n)
    if np.linalg.norm(v) < 1e-15:
        return np.eye(3)
    k = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.eye(3) + k + k @ k / (1.0 + cos)
