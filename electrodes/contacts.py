"""Conducting parts that touch the tissue (SI units, metres and degrees).

Coordinates: skin at z = 0, tissue below (z < 0). Every contact has a unique name; the
geometry cuts it out of the tissue so that its surface becomes a named contact surface.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Needle:
    """A straight cylindrical needle entering the skin at ``position`` (x, y) in m.

    ``insertion_depth`` is the length (m) inside the tissue along its axis; the axis is
    tilted by ``tilt_deg`` from the inward normal -z towards azimuth ``tilt_azimuth_deg``
    (measured from +x).  ``insulated_length`` (m) from the skin down is insulated (not a
    contact). ``entry_z`` (m) is the height of the skin at the entry point (0 on a flat skin,
    < 0 off the top of a curved one).
    """

    name: str
    position: tuple[float, float]
    diameter: float
    insertion_depth: float
    tilt_deg: float = 0.0
    tilt_azimuth_deg: float = 0.0
    insulated_length: float = 0.0
    entry_z: float = 0.0

    @property
    def radius(self) -> float:
        return 0.5 * self.diameter

    @property
    def axis(self) -> np.ndarray:
        """Unit vector from the skin entry point towards the tip."""
        t, a = math.radians(self.tilt_deg), math.radians(self.tilt_azimuth_deg)
        return np.array([math.sin(t) * math.cos(a), math.sin(t) * math.sin(a), -math.cos(t)])

    @property
    def entry(self) -> np.ndarray:
        return np.array([self.position[0], self.position[1], self.entry_z])

    @property
    def tip(self) -> np.ndarray:
        return self.entry + self.insertion_depth * self.axis


@dataclass(frozen=True)
class Plate:
    """A flat rectangular plate electrode standing in the tissue, normal to ``normal``.

    ``centre`` is the (x, y) of the plate's mid-plane at the skin, ``normal_deg`` the
    direction of its normal in the xy plane (0 = +x), ``length`` its extent along the skin
    (m), ``depth`` how deep it reaches (m), ``thickness`` (m).
    """

    name: str
    centre: tuple[float, float]
    normal_deg: float
    length: float
    depth: float
    thickness: float

    def corners(self) -> np.ndarray:
        """(4, 2) corners (x, y) in m of the plate's footprint at the skin, in order around it."""
        c, s = math.cos(math.radians(self.normal_deg)), math.sin(math.radians(self.normal_deg))
        u = 0.5 * self.thickness * np.array([-1.0, 1.0, 1.0, -1.0])     # along the normal
        v = 0.5 * self.length * np.array([-1.0, -1.0, 1.0, 1.0])        # along the plate
        return np.column_stack([self.centre[0] + c * u - s * v, self.centre[1] + s * u + c * v])


Contact = Needle | Plate


@dataclass(frozen=True)
class Electrode:
    """An electrode: its contacts, named groups of contacts and its default firing order.

    ``distance`` (m) is the electrode distance d used for the voltage-to-distance ratio
    (V = ratio x d). ``groups`` maps a group name (e.g. a needle row) to contact names; a
    pulse's anode or cathode may name a contact or a group. ``default_sequence`` lists
    (anode, cathode) pairs fired in order. ``clamped`` marks plates whose tissue block is
    clamped between them (the block faces at x = +-gap/2 are the contacts).
    """

    type: str
    contacts: tuple[Contact, ...]
    distance: float
    default_sequence: tuple[tuple[str, str], ...]
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    clamped: bool = False
    source: str = field(default="", compare=False)
    # the scenario keys it was built from, in scenario units (mm, deg), defaults filled in
    parameters: dict = field(default_factory=dict, compare=False)

    @property
    def contact_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.contacts)

    def resolve(self, name: str) -> tuple[str, ...]:
        """Contact names for a contact or group name; ``KeyError`` lists the valid names."""
        if name in self.groups:
            return self.groups[name]
        if name in self.contact_names:
            return (name,)
        valid = ", ".join(list(self.contact_names) + list(self.groups))
        raise KeyError(f"unknown contact {name!r}; valid: {valid}")

    @property
    def needles(self) -> tuple[Needle, ...]:
        return needles_of(self.contacts)

    @property
    def plates(self) -> tuple[Plate, ...]:
        return plates_of(self.contacts)


def needles_of(contacts) -> tuple[Needle, ...]:
    """The needles among contacts."""
    return tuple(c for c in contacts if isinstance(c, Needle))


def plates_of(contacts) -> tuple[Plate, ...]:
    """The plates among contacts."""
    return tuple(c for c in contacts if isinstance(c, Plate))
