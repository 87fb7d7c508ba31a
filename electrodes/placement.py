"""Placement on the skin: translate by a centre and rotate about the skin normal (z)."""
from __future__ import annotations

import math


def place(local_xy: tuple[float, float], centre: tuple[float, float], rotation_deg: float) -> tuple[float, float]:
    """Map electrode-local (x, y) (m) to tissue coordinates: rotate, then translate."""
    c, s = math.cos(math.radians(rotation_deg)), math.sin(math.radians(rotation_deg))
    x, y = local_xy
    return (centre[0] + c * x - s * y, centre[1] + s * x + c * y)
