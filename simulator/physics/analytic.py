"""Closed-form and semi-analytic fields for verification and validation (SI units).

All for a homogeneous, linear medium of conductivity ``sigma`` (S/m) unless said otherwise;
lengths in m, potentials in V, fields in V/m. Sources: domain.md section 5 (two-wire line
5.1, multi-wire line sources 5.1, layered plates 5.2, sphere in a uniform field 5.5).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


# ----------------------------------------------------------------------------- two wires
def two_wire_field(x: np.ndarray, y: np.ndarray, d: float, a: float, U: float) -> np.ndarray:
    """|E| (V/m) at (x, y) of two parallel cylinders of radius ``a`` whose axes are at
    (-+d/2, 0), held at potential difference ``U`` (exact, bipolar coordinates, 5.1)."""
    b = math.sqrt((d / 2) ** 2 - a * a)
    lam = math.acosh(d / (2 * a))
    x, y = np.asarray(x, float), np.asarray(y, float)
    r1 = (x - b) ** 2 + y ** 2
    r2 = (x + b) ** 2 + y ** 2
    gx = (x + b) / r2 - (x - b) / r1
    gy = y / r2 - y / r1
    return U / (2 * lam) * np.hypot(gx, gy)


def two_wire_mid_field(d: float, a: float, U: float) -> float:
    """Field at the midpoint between the needles, U / (Lambda b) (V/m)."""
    b = math.sqrt((d / 2) ** 2 - a * a)
    return U / (math.acosh(d / (2 * a)) * b)


def two_wire_current(d: float, a: float, U: float, sigma: float, length: float) -> float:
    """Current (A) between two needles of active length ``length`` (2D, no end effects)."""
    return math.pi * sigma * length * U / math.acosh(d / (2 * a))


# ----------------------------------------------------------------------------- many wires
@dataclass(frozen=True)
class LineSources:
    """A 2D potential phi = C + sum_i [-q_i ln r_i + sum_k (A_ik cos k t_i + B_ik sin k t_i)
    (a_i / r_i)^k] / (2 pi sigma): line sources plus multipoles at the needle centres.

    With ``order = 0`` it is the thin-wire superposition of domain.md 5.1 (accurate to
    O((a/d)^2)); each multipole order adds the next terms of the cylinders' mutual
    perturbation (the exact two-wire solution is matched to 1e-6 with order 6).
    """

    centres: np.ndarray       # (N, 2) m
    radii: np.ndarray         # (N,) m
    q: np.ndarray             # (N,) line-source strengths (V after the 1/(2 pi sigma) scaling)
    A: np.ndarray             # (N, K)
    B: np.ndarray             # (N, K)
    C: float

    def _terms(self, x: np.ndarray, y: np.ndarray):
        dx = x[:, None] - self.centres[None, :, 0]
        dy = y[:, None] - self.centres[None, :, 1]
        return dx, dy, dx * dx + dy * dy

    def potential(self, x, y) -> np.ndarray:
        x, y = np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))
        dx, dy, r2 = self._terms(x, y)
        phi = self.C - 0.5 * (self.q[None] * np.log(r2)).sum(axis=1)
        z = (dx + 1j * dy) / self.radii[None]                   # (P, N)
        for k in range(self.A.shape[1]):
            w = z ** -(k + 1)                                   # (a/r)^k e^{-ikt}
            phi += (self.A[None, :, k] * w.real - self.B[None, :, k] * w.imag).sum(axis=1)
        return phi

    def field(self, x, y) -> np.ndarray:
        """(P, 2) E = -grad phi (V/m)."""
        x, y = np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))
        dx, dy, r2 = self._terms(x, y)
        gx = -(self.q[None] * dx / r2).sum(axis=1)
        gy = -(self.q[None] * dy / r2).sum(axis=1)
        z = (dx + 1j * dy) / self.radii[None]
        for k in range(self.A.shape[1]):
            # d/dz of z^-(k+1) = -(k+1) z^-(k+2) / a ; phi_k = Re(c z^-(k+1)) with c = A + iB
            c = self.A[None, :, k] + 1j * self.B[None, :, k]
            dw = -(k + 1) * z ** -(k + 2) / self.radii[None]
            g = c * dw                                         # d(phi)/dx - i d(phi)/dy
            gx += g.real.sum(axis=1)
            gy += -g.imag.sum(axis=1)
        return -np.stack([gx, gy], axis=1)


def line_sources(centres, radii, potentials, order: int = 6, points: int = 48) -> LineSources:
    """Cylinders at ``centres`` (N, 2) m, radii (N,) m, held at ``potentials`` (N,) V, in an
    unbounded 2D medium (net source zero). ``order = 0``: thin wires (one collocation point
    per needle at its surface, P_ij = -ln r_ij); otherwise least-squares collocation of
    ``points`` points per cylinder with multipoles up to ``order``.
    """
    c = np.asarray(centres, float).reshape(-1, 2)
    a = np.broadcast_to(np.asarray(radii, float), (len(c),)).copy()
    V = np.asarray(potentials, float)
    n = len(c)
    K = order
    if K == 0:
        # P_ii = -ln a_i, P_ij = -ln r_ij, sum q = 0, unknown constant C
        r = np.hypot(*(c[:, None, :] - c[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(r, a)
        M = np.zeros((n + 1, n + 1))
        M[:n, :n] = -np.log(r)
        M[:n, n] = 1.0
        M[n, :n] = 1.0
        sol = np.linalg.solve(M, np.concatenate([V, [0.0]]))
        return LineSources(c, a, sol[:n], np.zeros((n, 0)), np.zeros((n, 0)), float(sol[n]))
    t = 2 * np.pi * (np.arange(points) + 0.5) / points
    px = (c[:, 0:1] + a[:, None] * np.cos(t)[None]).ravel()
    py = (c[:, 1:2] + a[:, None] * np.sin(t)[None]).ravel()
    rhs = np.repeat(V, points)
    ncol = n + 2 * n * K + 1
    cols = np.zeros((len(px), ncol))
    dx = px[:, None] - c[None, :, 0]
    dy = py[:, None] - c[None, :, 1]
    cols[:, :n] = -0.5 * np.log(dx * dx + dy * dy)
    z = (dx + 1j * dy) / a[None]
    for k in range(K):
        w = z ** -(k + 1)
        cols[:, n + k * n:n + (k + 1) * n] = w.real
        cols[:, n + (K + k) * n:n + (K + k + 1) * n] = -w.imag
    cols[:, -1] = 1.0
    # constraint sum q = 0 (bounded potential), weighted strongly
    row = np.zeros(ncol)
    row[:n] = 1.0
    Mat = np.vstack([cols, 1e6 * row])
    sol, *_ = np.linalg.lstsq(Mat, np.concatenate([rhs, [0.0]]), rcond=None)
    q = sol[:n]
    A = np.stack([sol[n + k * n:n + (k + 1) * n] for k in range(K)], axis=1)
    B = np.stack([sol[n + (K + k) * n:n + (K + k + 1) * n] for k in range(K)], axis=1)
    return LineSources(c, a, q, A, B, float(sol[-1]))


def line_sources_current(ls: LineSources, sigma: float, length: float, which) -> float:
    """Current (A) leaving the needles ``which`` (indices), from their line-source strengths:
    I = 2 pi sigma L sum q_i (the multipoles carry no net current)."""
    return float(2 * math.pi * sigma * length * ls.q[list(which)].sum())


def box_image_factor(centres, strengths, half_x: float, half_y: float, images: int = 20):
    """Potentials/fields of 2D line sources inside the insulating rectangle |x| <= half_x,
    |y| <= half_y (method of images: same-sign images across every wall).

    Returns a function (x, y) -> (phi, Ex, Ey) up to the 1/(2 pi sigma) scale; used to
    estimate how much a finite tissue block changes the unbounded reference.
    """
    c = np.asarray(centres, float).reshape(-1, 2)
    s = np.asarray(strengths, float)
    k = np.arange(-images, images + 1)
    X = np.concatenate([4 * k[None] * half_x + c[:, :1], 4 * k[None] * half_x + 2 * half_x - c[:, :1]], axis=1)
    Y = np.concatenate([4 * k[None] * half_y + c[:, 1:], 4 * k[None] * half_y + 2 * half_y - c[:, 1:]], axis=1)
    sx = np.repeat(X[:, :, None], Y.shape[1], axis=2).reshape(len(c), -1)
    sy = np.repeat(Y[:, None, :], X.shape[1], axis=1).reshape(len(c), -1)

    def evaluate(x, y):
        x, y = np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))
        phi = np.zeros(len(x))
        ex = np.zeros(len(x))
        ey = np.zeros(len(x))
        for i in range(len(c)):
            dx = x[:, None] - sx[i][None]
            dy = y[:, None] - sy[i][None]
            r2 = dx * dx + dy * dy
            phi -= 0.5 * s[i] * np.log(r2).sum(axis=1)
            ex += s[i] * (dx / r2).sum(axis=1)
            ey += s[i] * (dy / r2).sum(axis=1)
        return phi, ex, ey
    return evaluate


# ----------------------------------------------------------------------------- plates
def layered_fields(U: float, thicknesses, sigmas) -> np.ndarray:
    """Field (V/m) in each of layers in series between plates: E_k = U / (sigma_k sum d_j/sigma_j)."""
    d = np.asarray(thicknesses, float)
    s = np.asarray(sigmas, float)
    return U / (s * (d / s).sum())


def layered_current(U: float, area: float, thicknesses, sigmas) -> float:
    """Current (A) through layers in series of cross-section ``area`` (m^2)."""
    d = np.asarray(thicknesses, float)
    s = np.asarray(sigmas, float)
    return U * area / (d / s).sum()


def palmer_factor(w: float, d: float) -> float:
    """Palmer's (1937) fringing factor for a strip of width w at gap d (domain.md 5.2, [R]):
    G'/G'_ideal = 1 + (d / (pi w)) (1 + ln(2 pi w / d))."""
    return 1.0 + d / (math.pi * w) * (1.0 + math.log(2 * math.pi * w / d))


# ----------------------------------------------------------------------------- spheres
def sphere_interior_ratio(sigma_in: float, sigma_out: float) -> float:
    """E_in / E0 for a sphere in a uniform field: 3 sigma_e / (sigma_i + 2 sigma_e) (5.5)."""
    return 3 * sigma_out / (sigma_in + 2 * sigma_out)
