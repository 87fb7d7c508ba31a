"""Firing sequences by name: which (anode, cathode) pairs fire, in which order.

The Cliniporator's switching sequence for the hexagonal array is NOT CONFIRMED
(domain.md 1.3): the usual description [R] is that pulses go between adjacent needles in
sequence, 12 nearest-neighbour pairs x 8 pulses = 96 pulses [R]. Whether each pair gets
8 pulses of one polarity, 4 per polarity, or another split could not be verified; so
the sequence and the pulses per pair are scenario settings, and the named sequences below
cover the readings we know of.

A sequence is a tuple of ``(anode, cathode, share)``: ``share`` is the fraction of the
per-pair pulse count that this step delivers (1.0, or 0.5 for the two halves of an
alternating pair).
"""
from __future__ import annotations

import math
from typing import Callable

from electrodes.contacts import Electrode

Step = tuple[str, str, float]


def default(e: Electrode) -> tuple[Step, ...]:
    """The electrode's own firing order (e.g. row_A -> row_B; the hexagon's 12 pairs)."""
    return tuple((a, c, 1.0) for a, c in e.default_sequence)


def nearest_neighbour_pairs(e: Electrode, rtol: float = 1e-6) -> tuple[tuple[str, str], ...]:
    """Every pair of needles at the smallest centre distance, in contact order."""
    needles = e.needles
    if len(needles) < 2:
        return tuple(e.default_sequence)
    d = {(a.name, b.name): math.dist(a.position, b.position)
         for i, a in enumerate(needles) for b in needles[i + 1:]}
    dmin = min(d.values())
    return tuple(p for p, v in d.items() if v <= dmin * (1 + rtol))


def nearest_neighbour(e: Electrode) -> tuple[Step, ...]:
    """All nearest-neighbour needle pairs, each at full count (hexagon: 12 pairs)."""
    return tuple((a, c, 1.0) for a, c in nearest_neighbour_pairs(e))


def alternating(e: Electrode) -> tuple[Step, ...]:
    """The default pairs, each fired half the count one way and half the other way."""
    out: list[Step] = []
    for a, c in e.default_sequence:
        out += [(a, c, 0.5), (c, a, 0.5)]
    return tuple(out)


def all_pairs(e: Electrode) -> tuple[Step, ...]:
    """Every pair of contacts (custom multi-needle arrangements)."""
    names = e.contact_names
    return tuple((a, b, 1.0) for i, a in enumerate(names) for b in names[i + 1:])


SEQUENCES: dict[str, tuple[Callable[[Electrode], tuple[Step, ...]], str]] = {
    "default": (default, "the electrode's own order (rows: row_A -> row_B; hexagon: C-H1..C-H6, "
                         "H1-H2..H6-H1)"),
    "nearest-neighbour": (nearest_neighbour, "every needle pair at the smallest distance"),
    "alternating": (alternating, "default pairs, half the pulses each polarity (the '4 per polarity' reading)"),
    "all-pairs": (all_pairs, "every pair of contacts"),
}


def named_sequence(name: str, e: Electrode) -> tuple[Step, ...]:
    """A sequence by name; ``KeyError`` lists the valid names."""
    try:
        fn = SEQUENCES[name][0]
    except KeyError:
        raise KeyError(f"unknown sequence {name!r}; valid: {', '.join(SEQUENCES)}") from None
    return fn(e)
