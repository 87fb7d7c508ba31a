"""The exact line search shared by the engines' Newton methods.

The stationary problem minimises a convex energy W(phi) (design.md section 4), so along a
Newton direction delta the slope d(a) = W'(phi + a delta)[delta] = F(phi + a delta) . delta
is increasing in a. The step is a = 1 when d(1) <= 0 (the full step still descends), else
the root of d in (0, 1), found by the Illinois variant of regula falsi.
"""
from __future__ import annotations

from typing import Callable

RTOL = 1e-3          # stop when |d(a)| <= RTOL |d(0)|
MAX_EVALUATIONS = 12


def exact_line_search(d: Callable[[float], float], d0: float, rtol: float = RTOL,
                      max_evaluations: int = MAX_EVALUATIONS) -> tuple[float, int]:
    """Step length a in (0, 1] and the number of evaluations of ``d`` (after d(0) = ``d0``).

    ``d(a)`` evaluates the slope at phi + a delta; an engine may keep the state of its last
    trial to reuse it when the returned ``a`` is the last one evaluated (it always is, except
    when d(1) <= 0, where a = 1 was the first and only trial).
    """
    d1 = d(1.0)
    if d1 <= 0 or d0 >= 0:
        return 1.0, 1
    a, b, fa, fb, side = 0.0, 1.0, d0, d1, 0
    c, evaluations = 1.0, 1
    for _ in range(max_evaluations):
        c = (a * fb - b * fa) / (fb - fa)
        fc = d(c)
        evaluations += 1
        if abs(fc) <= rtol * abs(d0):
            return c, evaluations
        if fc > 0:
            b, fb = c, fc
            if side == -1:
                fa *= 0.5
            side = -1
        else:
            a, fa = c, fc
            if side == 1:
                fb *= 0.5
            side = 1
    return c, evaluations
