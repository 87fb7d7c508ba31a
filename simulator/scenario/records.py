"""Scenario records: immutable, validated, SI units (m, V, V/m, S/m, s).

Built only by the reader (:mod:`simulator.scenario.loader`); changed through copies
(``Scenario.with_voltage``, ``Scenario.with_changes``: dotted keys read again by the same
section readers, :mod:`simulator.scenario.changes`). No I/O here.
"""
from __future__ import annotations
import math
from dataclasses import dataclass, field, replace
import numpy as np
from electrodes.contacts import Electrode
from protocols.pulses import Protocol
from simulator.physics.cell_kill import PelegFermi
from simulator.physics.materials import Material
from simulator.scenario.closed_surface import ClosedSurface
from simulator.scenario.curvature import Curvature
from simulator.scenario.label_layers import LayerInterfaces



NL_MODELS = ("stationary", "monotone")
SHAPES = ("sphere", "ellipsoid", "dome", "surface")
COVERS = ("skin", "none", "wet")          # what covers the part of a tumour above the skin
LAYOUTS = ("depth", "fold")               # layers stacked in depth, or across x (a pinched skin fold)
MAX_TUMOURS = 10                    # "<= 10 lesions", Solari 2014 [C] (domain.md 4.2)
MAX_BLOCK = 0.5                     # m: a block larger than 50 cm is not a skin model
MAX_VOLTAGE = 10_000.0              # V: absurd above this for ECT generators (3000 V [C])


# The table reader, registered by simulator.scenario.loader when it is imported (a Scenario
# with a source table was made by it, so it is there): with_changes re-reads through it.
READER: list = []


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True)
class Layer:
    material: str
    thickness: float | None          # m; None: fills the rest of the block


@dataclass(frozen=True)
class Ribs:
    """Bone cylinders along y under the chest wall (m): centres at depth ``depth`` below the
    skin, ``pitch`` apart in x starting at ``offset``, as many as fit in the block."""

    material: str
    radius: float
    depth: float
    pitch: float
    offset: float = 0.0

    def centres_x(self, width: float) -> list[float]:
        """x of every rib that lies wholly inside a block of this width (m)."""
        half = width / 2 - self.radius
        k0 = math.ceil((-half - self.offset) / self.pitch - 1e-9)
        k1 = math.floor((half - self.offset) / self.pitch + 1e-9)
        return [self.offset + k * self.pitch for k in range(k0, k1 + 1)]


@dataclass(frozen=True, eq=False)
class LabelImage:
    """A segmented label image laid over the block: voxel (i, j, k) has centre
    x = -X/2 + (i + 1/2) vx, y = -Y/2 + (j + 1/2) vy, z = -(k + 1/2) vz (k = 0 at the skin);
    ``materials[label]`` names each label's material. ``sha256`` identifies the labels.
    ``layers``: the labels are height-field layers, meshed as volumes split by these smooth
    interfaces (:mod:`simulator.scenario.label_layers`); None: applied cell by cell."""

    labels: np.ndarray                     # (nx, ny, nz) int
    voxel: tuple[float, float, float]      # m
    materials: dict[int, str]
    sha256: str
    layers: LayerInterfaces | None = None

    def __eq__(self, other) -> bool:
        return isinstance(other, LabelImage) and (other.sha256, other.voxel, other.materials) == (
            self.sha256, self.voxel, self.materials)

    def __hash__(self) -> int:
        return hash(self.sha256)

    @property
    def size(self) -> tuple[float, float, float]:
        return tuple(n * v for n, v in zip(self.labels.shape, self.voxel))

    def label_at(self, points: np.ndarray) -> np.ndarray:
        """Label of the voxel holding each point (points inside the block)."""
        X, Y, _ = self.size
        p = np.asarray(points, dtype=float)
        u = np.stack([(p[:, 0] + X / 2) / self.voxel[0], (p[:, 1] + Y / 2) / self.voxel[1],
                      -p[:, 2] / self.voxel[2]], axis=1)
        ijk = np.clip(np.floor(u).astype(np.int64), 0, np.array(self.labels.shape) - 1)
        return self.labels[ijk[:, 0], ijk[:, 1], ijk[:, 2]]


@dataclass(frozen=True)
class TissueSurface:
    """A closed surface whose inside is ``material`` (later surfaces win where they nest)."""

    name: str
    material: str
    surface: ClosedSurface
    conformal: bool = False                # meshed as its own solid (a label image's enclosed region);
                                           # False: cells whose centroid is inside take its material


@dataclass(frozen=True)
class Tissue:
    """Block spanning x in [-X/2, X/2], y in [-Y/2, Y/2], z in [-depth, 0] (m).

    ``layout = "depth"``: layers stacked from the skin (z = 0) down; ``"fold"``: layers
    side by side across x from x = -X/2 (a pinched skin fold between plates, Pavselj 2005).
    """

    size: tuple[float, float, float]
    layers: tuple[Layer, ...]
    layout: str = "depth"
    ribs: Ribs | None = None
    image: LabelImage | None = None
    surfaces: tuple[TissueSurface, ...] = ()
    curvature: Curvature | None = None     # a curved skin (layers are shells under it); None: flat

    def rib_centres(self) -> list[tuple[float, float]]:
        """(x, z) of every rib's axis (m): ``ribs.depth`` below the (flat or curved) skin."""
        if self.ribs is None:
            return []
        xs = self.ribs.centres_x(self.size[0])
        if self.curvature is None:
            return [(x, -self.ribs.depth) for x in xs]
        return [(float(p[0]), float(p[2])) for p in (self.curvature.point(x, 0.0, self.ribs.depth) for x in xs)]

    def layer_materials(self) -> list[str]:
        """Materials of the layer regions in mesh order: the layers (or the image's labels in
        label order), then the tissue surfaces."""
        base = ([self.image.materials[k] for k in sorted(self.image.materials)] if self.image is not None
                else [layer.material for layer in self.layers])
        return base + [s.material for s in self.surfaces]

    def layer_bounds(self) -> list[tuple[float, float]]:
        """(top, bottom) of each layer along its stacking axis, m (top > bottom): z for
        ``depth`` (from 0 down), x for ``fold`` (from +X/2 down to -X/2 reversed: first
        layer at -X/2)."""
        if self.layout == "fold":
            out, x = [], -self.size[0] / 2
            for layer in self.layers:
                hi = self.size[0] / 2 if layer.thickness is None else min(x + layer.thickness, self.size[0] / 2)
                out.append((hi, x))
                x = hi
            return out
        out, z = [], 0.0
        for layer in self.layers:
            bottom = -self.size[2] if layer.thickness is None else max(z - layer.thickness, -self.size[2])
            out.append((z, bottom))
            z = bottom
        return out

    def layer_boxes(self) -> list[tuple[tuple[float, float, float], tuple[float, float, float]]]:
        """(lo, hi) corners of every layer's box, m."""
        X, Y, Z = self.size
        if self.layout == "fold":
            return [((lo, -Y / 2, -Z), (hi, Y / 2, 0.0)) for hi, lo in self.layer_bounds()]
        return [((-X / 2, -Y / 2, lo), (X / 2, Y / 2, hi)) for hi, lo in self.layer_bounds()]


@dataclass(frozen=True)
class Tumour:
    """An ellipsoidal (or spherical) tumour; a ``dome`` is a sphere cut by the plane
    z = ``base_z`` (a nodule rising above the skin). Where it rises above the skin (z > 0) it
    is covered by a shell of ``cover_thickness`` of ``cover_material`` (``cover = "skin"``,
    the skin layer's material; ``"wet"``, exudate on an ulcer) or bare (``"none"``, an
    ulcer); the outer surface is insulating (air). Lengths in m."""

    name: str
    shape: str
    semi_axes: tuple[float, float, float]   # m
    centre: tuple[float, float, float]      # m (z = -depth)
    material: str
    margin: float                           # m
    base_z: float | None = None             # m, dome: the cutting plane (cells below are not tumour)
    cover: str = "skin"
    cover_thickness: float = 0.0            # m
    cover_material: str = ""
    surface: ClosedSurface | None = None    # shape = "surface": a closed triangulated surface (m)

    @property
    def top(self) -> float:
        """Highest z of the tumour (m); > 0 when it protrudes above the skin."""
        return self.centre[2] + self.semi_axes[2]

    @property
    def covered_top(self) -> float:
        """Highest z of the tumour and its cover (m)."""
        return self.top + (self.cover_thickness if self.top > 0 and self.cover != "none" else 0.0)

    @property
    def volume(self) -> float:
        if self.surface is not None:
            return self.surface.volume
        a, b, c = self.semi_axes
        if self.base_z is not None:                 # spherical cap of height h (a = b = c)
            h = self.top - self.base_z
            return math.pi * h * h * (3.0 * a - h) / 3.0
        return 4.0 / 3.0 * math.pi * a * b * c

    def contains(self, points: np.ndarray, grow: float = 0.0) -> np.ndarray:
        """Points inside the ellipsoid with semi-axes grown by ``grow`` (m) (and, for a dome,
        above its base plane lowered by ``grow``).

        For a sphere this is the exact offset surface; for an ellipsoid it approximates it."""
        points = np.asarray(points)
        if self.surface is not None:
            return self.surface.contains(points, grow)
        a = np.asarray(self.semi_axes) + grow
        d = (points - np.asarray(self.centre)) / a
        inside = (d * d).sum(axis=1) <= 1.0
        if self.base_z is not None:
            inside &= points[:, 2] >= self.base_z - grow
        return inside

    def level(self, points: np.ndarray, grow: float = 0.0) -> np.ndarray:
        """A signed level (m) of the tumour grown by ``grow``: <= 0 exactly where
        :meth:`contains` holds, continuous, and distance-like near its zero (the exact
        signed distance for a sphere; for an ellipsoid the normalised radius minus one times
        the smallest grown semi-axis; a dome takes the max with the base plane's). Linear
        interpolants of it cut cells smoothly (post.margin)."""
        points = np.asarray(points, dtype=float)
        if self.surface is not None:
            return self.surface.level(points, grow)
        a = np.asarray(self.semi_axes) + grow
        d = points - np.asarray(self.centre)
        if np.all(a == a[0]):
            out = np.sqrt((d * d).sum(axis=1)) - a[0]
        else:
            q = d / a
            out = (np.sqrt((q * q).sum(axis=1)) - 1.0) * a.min()
        if self.base_z is not None:
            out = np.maximum(out, (self.base_z - grow) - points[:, 2])
        return out


@dataclass(frozen=True)
class NoGo:
    """A named region where the field should stay low (e.g. the heart side of the ribs).
    ``shape`` box (``lo``, ``hi`` corners), sphere (``centre``, ``radius``) or cylinder
    (``centre``, unit ``axis``, ``radius``, ``length``); m, z <= 0 below the skin."""

    name: str
    shape: str
    lo: tuple[float, float, float] = (0.0, 0.0, 0.0)
    hi: tuple[float, float, float] = (0.0, 0.0, 0.0)
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0)
    radius: float = 0.0
    axis: tuple[float, float, float] = (0.0, 0.0, 1.0)
    length: float = 0.0

    def contains(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=float)
        if self.shape == "box":
            return np.all((p >= np.asarray(self.lo)) & (p <= np.asarray(self.hi)), axis=1)
        d = p - np.asarray(self.centre)
        if self.shape == "sphere":
            return (d * d).sum(axis=1) <= self.radius ** 2
        s = d @ np.asarray(self.axis)
        radial = d - s[:, None] * np.asarray(self.axis)[None, :]
        return (np.abs(s) <= self.length / 2) & ((radial * radial).sum(axis=1) <= self.radius ** 2)


@dataclass(frozen=True, eq=False)
class SizeMap:
    """Target element size (m) at the vertices of a previous mesh, linear in its tets: the
    refinement loop's local refinement (:mod:`simulator.post.size_target`, min with the
    scenario's size field; :mod:`simulator.post.error_indicator`, ``replace``: instead of
    it), handed to gmsh as a background field. ``sha256`` identifies the arrays (the mesh cache key hashes it)."""

    points: np.ndarray                  # (N, 3) m
    tets: np.ndarray                    # (M, 4)
    size: np.ndarray                    # (N,) m
    sha256: str = ""
    replace: bool = False               # the map alone sets the sizes (else min with the scenario's)

    def __eq__(self, other) -> bool:
        return isinstance(other, SizeMap) and other.sha256 == self.sha256 and other.replace == self.replace

    def __hash__(self) -> int:
        return hash(self.sha256)


@dataclass(frozen=True)
class MeshOptions:
    size: float = 1.0e-3              # m, element size in the tumour and between electrodes
    contact_size: float | None = None  # m, at the contacts (default from the electrode)
    far_size: float | None = None      # m, far from contacts and tumours (default 5 x size)
    cache: bool = True
    accuracy: float = 0.02             # relative target of currents and volumes; 0: one fixed mesh
    max_dofs: int = 500_000          # cap of the refinement loop (simulator.solve.accuracy)
    order: int = 1                     # 2: second-order (curved) tetrahedra, nodes on the CAD surfaces (P2)
    refinement: float = 1.0            # all sizes x this (set by the refinement loop, not read)
    size_map: SizeMap | None = None    # local sizes from the previous level (refinement loop, not read)


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


THERMAL_MODELS = ("adiabatic", "pennes")
SKIN_MODELS = ("insulating", "convective")


@dataclass(frozen=True)
class ThermalOptions:
    """``[thermal]``: adiabatic (default) or Pennes bioheat; temperatures in C, SI otherwise."""

    model: str = "adiabatic"
    initial_C: float = 37.0               # body temperature and T0 of sigma(E, T) [A]
    arterial_C: float = 37.0              # T_a [A]
    blood_density: float = 1060.0         # kg/m^3, rho_b (OpenEP example case [C-code])
    blood_heat_capacity: float = 3600.0   # J/(kg K), c_b (same source)
    steps_per_pulse: int = 4
    max_steps_between: int = 20
    resolve_tolerance: float = 1e-3       # relative sigma change that re-solves the field
    skin: str = "insulating"              # insulating (zero heat flux, default [A]) | convective
    # convective skin: -k dT/dn = h (T - T_amb) on the tissue's top surface. h = 10 W/(m^2 K),
    # the OpenEP example case (domain.md 2.4 [C-code]), within the 2-25 W/(m^2 K) of free
    # convection to a gas (Incropera & DeWitt, Fundamentals of Heat and Mass Transfer, Table 1.1 [R]);
    # T_amb = 25 C room air [A]
    skin_h: float = 10.0                  # W/(m^2 K)
    ambient_C: float = 25.0


@dataclass(frozen=True)
class CellKill:
    """``[cell_kill]``: the cell-kill model and its constants per material (others: defaults)."""

    model: str = "peleg-fermi"
    constants: dict[str, PelegFermi] = field(default_factory=dict)

    def for_material(self, name: str) -> PelegFermi:
        return self.constants.get(name, PelegFermi())


@dataclass(frozen=True)
class Application:
    """One electrode placement of a session (``[[applications]]``): its electrode and pulses,
    contact names prefixed ``a<k>.`` (k = 1, 2, ...) so that applications never share a name."""

    electrode: Electrode
    protocol: Protocol


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
    zone_thresholds: tuple[float, ...] = ()   # V/m, [coverage] thresholds; () = each tissue's E_rev, E_irr
    cell_kill: CellKill | None = field(default=None, compare=False)   # None: no cell-kill model
    thermal: ThermalOptions = ThermalOptions()
    no_go: tuple[NoGo, ...] = ()
    # several applications: ``electrode`` holds every application's contacts and ``protocol``
    # every application's groups, in order; () for a single [electrode]
    applications: tuple[Application, ...] = ()
    margin_threshold: str = "tumour"   # margin cells judged at the tumour's E_rev | their tissue's
    # the table it was read from (file units): with_changes and scenario.resolved.toml re-read it;
    # None if built by hand
    source: dict | None = field(default=None, compare=False, repr=False)
    source_dir: object = field(default=None, compare=False, repr=False)    # Path its files are relative to

    @property
    def tissue_top(self) -> float:
        """Highest z of tissue (m): 0, or the top of a protruding tumour and its cover."""
        return tissue_top(self.tumours)

    def with_voltage(self, voltage: float) -> "Scenario":
        """A copy with every pulse group at ``voltage`` (V)."""
        src = None
        if self.source is not None:
            from simulator.scenario.changes import apply_changes
            src = apply_changes(self.source, {"protocol.voltage_V": voltage})
        apps = tuple(replace(a, protocol=a.protocol.with_voltage(voltage)) for a in self.applications)
        return replace(self, protocol=self.protocol.with_voltage(voltage), applications=apps, source=src)

    def with_changes(self, changes: dict) -> "Scenario":
        """A copy with dotted scenario keys changed, validated like a file:
        ``sc.with_changes({"protocol.voltage_V": 600, "tumours.0.depth_mm": 7.0})``."""
        if self.source is None:
            from simulator.errors import ScenarioError
            raise ScenarioError("scenario", "was not read from a table (load_scenario / scenario_from_dict); "
                                "with_changes needs its source")
        from simulator.scenario.changes import apply_changes
        scenario_from_dict = READER[0]            # the loader (it imports this module, not the reverse)
        read = scenario_from_dict(self.source, default_name=self.name, base_dir=self.source_dir)
        if read != self or read.materials != self.materials:
            from simulator.errors import ScenarioError      # a dataclasses.replace copy: its source is stale
            raise ScenarioError("scenario", "was changed by a copy that did not update its source table "
                                "(dataclasses.replace); change it with with_changes only")
        return scenario_from_dict(apply_changes(self.source, changes), default_name=self.name,
                                  base_dir=self.source_dir)

    def with_conductivity_model(self, model: str) -> "Scenario":
        """A copy with every material on the sigma(E) law ``model`` (constant, linear, ...)."""
        return self.with_changes({"conductivity_model": model})


def tissue_top(tumours) -> float:
    """Highest z of tissue (m) over the skin plane z = 0 and protruding tumours with their cover."""
    return max([0.0] + [t.covered_top for t in tumours])
