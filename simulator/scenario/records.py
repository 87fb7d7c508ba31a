"""Scenario records: immutable, validated, SI units (m, V, V/m, S/m, s).

Built only by the reader (:mod:`simulator.scenario.loader`); changed through copies
(``Scenario.with_voltage``). No I/O here.
"""
from __future__ import annotations
import math
from dataclasses import dataclass, field, replace
import numpy as np
from electrodes.contacts import Electrode
from protocols.pulses import Protocol
from simulator.physics.materials import Material



NL_MODELS = ("stationary", "monotone")
SHAPES = ("sphere", "ellipsoid")
MAX_TUMOURS = 10                    # "<= 10 lesions", Solari 2014 [C] (domain.md 4.2)
MAX_BLOCK = 0.5                     # m: a block larger than 50 cm is not a skin model
MAX_VOLTAGE = 10_000.0              # V: absurd above this for ECT generators (3000 V [C])


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True)
class Layer:
    material: str
    thickness: float | None          # m; None: fills the rest of the block


@dataclass(frozen=True)
class Tissue:
    """Block spanning x in [-X/2, X/2], y in [-Y/2, Y/2], z in [-depth, 0] (m)."""

    size: tuple[float, float, float]
    layers: tuple[Layer, ...]

    def layer_bounds(self) -> list[tuple[float, float]]:
        """(z_top, z_bottom) of each layer, m (z_top > z_bottom)."""
        out, z = [], 0.0
        for layer in self.layers:
            bottom = -self.size[2] if layer.thickness is None else max(z - layer.thickness, -self.size[2])
            out.append((z, bottom))
            z = bottom
        return out


@dataclass(frozen=True)
class Tumour:
    name: str
    shape: str
    semi_axes: tuple[float, float, float]   # m
    centre: tuple[float, float, float]      # m (z = -depth)
    material: str
    margin: float                           # m

    @property
    def volume(self) -> float:
        a, b, c = self.semi_axes
        return 4.0 / 3.0 * math.pi * a * b * c

    def contains(self, points: np.ndarray, grow: float = 0.0) -> np.ndarray:
        """Points inside the ellipsoid with semi-axes grown by ``grow`` (m).

        For a sphere this is the exact offset surface; for an ellipsoid it approximates it."""
        a = np.asarray(self.semi_axes) + grow
        d = (np.asarray(points) - np.asarray(self.centre)) / a
        return (d * d).sum(axis=1) <= 1.0


@dataclass(frozen=True)
class MeshOptions:
    size: float = 1.0e-3              # m, element size in the tumour and between electrodes
    contact_size: float | None = None  # m, at the contacts (default from the electrode)
    far_size: float | None = None      # m, far from contacts and tumours (default 5 x size)
    cache: bool = True


@dataclass(frozen=True)
class SolverOptions:
    engine: str = "embedded"
    degree: int = 1
    model: str = "stationary"          # stationary | monotone
    rtol: float = 1e-8
    max_iterations: int = 50
    idle_contacts: str = "floating"    # floating | insulating


@dataclass(frozen=True)
class Generator:
    max_voltage: float = 3000.0        # V  (Bertacchini 2007 [C], domain.md 1.4)
    max_current: float = 50.0          # A  (same source)


@dataclass(frozen=True)
class Scenario:
    name: str
    tissue: Tissue
    tumours: tuple[Tumour, ...]
    electrode: Electrode
    protocol: Protocol
    materials: dict[str, Material] = field(compare=False)
    mesh: MeshOptions = MeshOptions()
    solver: SolverOptions = SolverOptions()
    generator: Generator = Generator()
    coverage_tolerance: float = 1e-3   # covered if margin fraction >= 1 - tolerance
    margin_threshold: str = "tumour"   # margin cells judged at the tumour's E_rev | their tissue's

    def with_voltage(self, voltage: float) -> "Scenario":
        return replace(self, protocol=self.protocol.with_voltage(voltage))
