"""Discretisation error of a scalar from its values on a sequence of meshes (Richardson).

A figure Q computed on meshes of size h_0 > h_1 > ... behaves as Q(h) = Q* + C h^p in the
asymptotic range. With the last two levels, the error of the finest value is

    e_k = |Q_k - Q_{k-1}| / ((h_{k-1} / h_k)^p - 1)

(Richardson extrapolation, Roache 1998, "Verification and Validation in Computational
Science and Engineering", the grid-convergence estimate). The order p is observed from the
last three levels when their differences shrink with one sign; otherwise (two levels, or
differences that grow or change sign: outside the asymptotic range or mesh noise of
non-nested meshes) the lowest plausible order is used, which gives the larger error.
With three levels or more the estimate is also kept at least at the previous level's
estimate decayed at order p, (h_k / h_{k-1})^p e_{k-1}: two levels whose values agree by
accident (non-nested meshes: a figure may cross its limit between two levels) do not claim
a small error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

ASSUMED_ORDER = 1.5     # [A] P1 on needle meshes: observed order of the current ~1.5 (issue 11)


@dataclass(frozen=True)
class Estimate:
    """Error estimate of the finest value (same unit as the values)."""

    error: float
    order: float            # the p used
    observed: bool          # p from three levels (else assumed or bounded)


def observed_order(h: tuple[float, float, float], q: tuple[float, float, float]) -> float | None:
    """p with (Q1 - Q0) / (Q2 - Q1) = (h1^p - h0^p) / (h2^p - h1^p) for any ratios, or None
    when the differences do not shrink with one sign (bisection on p in [0.05, 12])."""
    d1, d2 = q[1] - q[0], q[2] - q[1]
    if d1 == 0.0 or d2 == 0.0 or (d1 > 0) != (d2 > 0) or abs(d2) >= abs(d1):
        return None
    target = d1 / d2

    def ratio(p: float) -> float:
        return (h[1] ** p - h[0] ** p) / (h[2] ** p - h[1] ** p)

    lo, hi = 0.05, 12.0             # ratio(p) grows with p (h decreasing)
    if not ratio(lo) <= target <= ratio(hi):
        return None
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if ratio(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def richardson_error(h: list[float], q: list[float], order_bounds: tuple[float, float] = (1.0, 2.0),
                     assumed: float = ASSUMED_ORDER) -> Estimate | None:
    """Error of ``q[-1]`` from the values ``q`` on meshes of sizes ``h`` (decreasing); None
    with a single level. The observed order is clamped to ``order_bounds`` (a noisy
    difference that happens to be tiny must not claim a huge order, hence a tiny error)."""
    if len(q) < 2:
        return None
    diff = abs(q[-1] - q[-2])
    r = h[-2] / h[-1]
    p, observed = None, False
    if len(q) >= 3:
        p = observed_order((h[-3], h[-2], h[-1]), (q[-3], q[-2], q[-1]))
        observed = p is not None
    if p is None:
        p = min(assumed, order_bounds[1]) if len(q) < 3 else order_bounds[0]
    p = min(max(p, order_bounds[0]), order_bounds[1])
    error = diff / (r ** p - 1.0)
    if len(q) >= 3:
        # guard against two levels that agree by accident (pre-asymptotic, non-nested meshes):
        # the error is not taken below the previous level's estimate decayed at order p
        r_prev = h[-3] / h[-2]
        error = max(error, abs(q[-2] - q[-3]) / (r_prev ** p - 1.0) * (h[-1] / h[-2]) ** p)
    return Estimate(error, p, observed)


def order_fit(h: list[float], q: list[float], exact: float) -> float:
    """Least-squares slope of log|Q - exact| against log h (the convergence order)."""
    x = [math.log(v) for v in h]
    y = [math.log(abs(v - exact)) for v in q]
    mx, my = sum(x) / len(x), sum(y) / len(y)
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / sum((a - mx) ** 2 for a in x)
