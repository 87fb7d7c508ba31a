"""Parallel plate electrodes (SI units)."""
from __future__ import annotations

from .contacts import Electrode, Plate
from .placement import place


def plates(gap: float, length: float, depth: float, thickness: float, centre=(0.0, 0.0),
           rotation_deg: float = 0.0, clamped: bool = False) -> Electrode:
    """Two plates "A" (at local -x) and "B" (at +x) whose inner faces are ``gap`` apart.

    With ``clamped`` the tissue block is squeezed between them: the block faces normal to x
    are the contact surfaces (the block's x size equals the gap).
    """
    off = gap / 2 + thickness / 2
    a = Plate("A", place((-off, 0.0), centre, rotation_deg), rotation_deg, length, depth, thickness)
    b = Plate("B", place((off, 0.0), centre, rotation_deg), rotation_deg, length, depth, thickness)
    return Electrode("plates", (a, b), gap, (("A", "B"),), clamped=clamped)
