"""Needle electrode layouts: pair, two parallel rows, hexagonal array, custom list (SI units)."""
from __future__ import annotations

import math
from typing import Sequence

from .contacts import Electrode, Needle
from .placement import place


def _needle(name, local, centre, rotation_deg, diameter, insertion_depth, tilt_deg,
            tilt_azimuth_deg, insulated_length) -> Needle:
    return Needle(name, place(local, centre, rotation_deg), diameter, insertion_depth,
                  tilt_deg, (tilt_azimuth_deg + rotation_deg) % 360.0, insulated_length)


def needle_pair(spacing: float, diameter: float, insertion_depth: float,
                centre=(0.0, 0.0), rotation_deg: float = 0.0, tilt_deg: float = 0.0,
                tilt_azimuth_deg: float = 0.0, insulated_length: float = 0.0) -> Electrode:
    """Two needles "A" (at -spacing/2) and "B" (at +spacing/2) on the local x axis."""
    kw = dict(centre=centre, rotation_deg=rotation_deg, diameter=diameter,
              insertion_depth=insertion_depth, tilt_deg=tilt_deg,
              tilt_azimuth_deg=tilt_azimuth_deg, insulated_length=insulated_length)
    needles = (_needle("A", (-spacing / 2, 0.0), **kw), _needle("B", (spacing / 2, 0.0), **kw))
    return Electrode("needle-pair", needles, spacing, (("A", "B"),))


def needle_rows(row_gap: float, needles_per_row: int, pitch: float, diameter: float,
                insertion_depth: float, centre=(0.0, 0.0), rotation_deg: float = 0.0,
                tilt_deg: float = 0.0, tilt_azimuth_deg: float = 0.0,
                insulated_length: float = 0.0, type_name: str = "needle-rows") -> Electrode:
    """Two parallel rows at x = -+row_gap/2: needles A1..An (group "row_A") and B1..Bn
    (group "row_B"), ``pitch`` apart along y; the rows fire against each other."""
    kw = dict(centre=centre, rotation_deg=rotation_deg, diameter=diameter,
              insertion_depth=insertion_depth, tilt_deg=tilt_deg,
              tilt_azimuth_deg=tilt_azimuth_deg, insulated_length=insulated_length)
    ys = [(i - (needles_per_row - 1) / 2) * pitch for i in range(needles_per_row)]
    row_a = tuple(_needle(f"A{i + 1}", (-row_gap / 2, y), **kw) for i, y in enumerate(ys))
    row_b = tuple(_needle(f"B{i + 1}", (row_gap / 2, y), **kw) for i, y in enumerate(ys))
    groups = {"row_A": tuple(n.name for n in row_a), "row_B": tuple(n.name for n in row_b)}
    return Electrode(type_name, row_a + row_b, row_gap, (("row_A", "row_B"),), groups)


def hexagonal_pairs() -> tuple[tuple[str, str], ...]:
    """The 12 nearest-neighbour pairs of a centred hexagon: C-Hi (6) then Hi-Hi+1 (6).

    The order in which the Cliniporator fires them is unconfirmed (domain.md 1.3)."""
    spokes = tuple(("C", f"H{i}") for i in range(1, 7))
    rim = tuple((f"H{i}", f"H{i % 6 + 1}") for i in range(1, 7))
    return spokes + rim


def hexagonal(side: float, diameter: float, insertion_depth: float, centre=(0.0, 0.0),
              rotation_deg: float = 0.0, tilt_deg: float = 0.0, tilt_azimuth_deg: float = 0.0,
              insulated_length: float = 0.0) -> Electrode:
    """Seven needles: "C" at the centre and "H1".."H6" on a regular hexagon of ``side``."""
    kw = dict(centre=centre, rotation_deg=rotation_deg, diameter=diameter,
              insertion_depth=insertion_depth, tilt_deg=tilt_deg,
              tilt_azimuth_deg=tilt_azimuth_deg, insulated_length=insulated_length)
    needles = [_needle("C", (0.0, 0.0), **kw)]
    for i in range(6):
        a = math.radians(60.0 * i)
        needles.append(_needle(f"H{i + 1}", (side * math.cos(a), side * math.sin(a)), **kw))
    return Electrode("hexagonal", tuple(needles), side, hexagonal_pairs())


def custom_needles(needles: Sequence[Needle], sequence: Sequence[tuple[str, str]] | None = None) -> Electrode:
    """Needles placed one by one. Distance for V/d: the smallest centre-to-centre spacing.
    Default sequence: each needle against the next one."""
    needles = tuple(needles)
    d = min(math.dist(a.position, b.position) for i, a in enumerate(needles) for b in needles[i + 1:]) \
        if len(needles) > 1 else 0.0
    seq = tuple(sequence) if sequence else tuple(
        (needles[i].name, needles[i + 1].name) for i in range(len(needles) - 1))
    return Electrode("needles", needles, d, seq)
