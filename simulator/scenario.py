"""Scenario: TOML file -> validated immutable records (SI units inside).

Scenario files use mm, V, V/cm, S/m and us (design.md section 5); the records hold m, V,
V/m, S/m and s. Every problem raises :class:`ScenarioError` naming the dotted field.
"""
from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from electrodes.contacts import Electrode, Needle
from electrodes.needles import custom_needles
from electrodes.registry import TYPES
from protocols.pulses import Protocol, PulseGroup

from .errors import GeometryError, ScenarioError
from .materials import LIBRARY, SCALE_FROM_SCENARIO, SCENARIO_KEYS, Material
from .units import MM, US, V_PER_CM

ENGINES = ("embedded", "dolfinx")
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

    def with_voltage(self, voltage: float) -> "Scenario":
        return replace(self, protocol=self.protocol.with_voltage(voltage))


# ----------------------------------------------------------------------------- helpers
class _Table:
    """A TOML table being read: tracks the dotted path and refuses unknown keys."""

    def __init__(self, data: Any, path: str):
        if not isinstance(data, dict):
            raise ScenarioError(path, f"must be a table, got {_type(data)}")
        self.data, self.path, self.used = data, path, set()

    def key(self, k: str) -> str:
        k = k if isinstance(k, str) and _BARE_KEY.fullmatch(k) else _quote_key(k)
        return f"{self.path}.{k}" if self.path else k

    def has(self, k: str) -> bool:
        return self.data.get(k) is not None          # None (Python callers) counts as absent

    def required(self, k: str) -> None:
        """Raise '<path>.k: is required' (pointing at a likely typo among the given keys)."""
        if self.has(k):
            return
        typo = difflib.get_close_matches(k, [x for x in self.data if isinstance(x, str)], n=1, cutoff=0.8)
        raise ScenarioError(self.key(k), "is required" + (f" (is {typo[0]!r} a typo?)" if typo else ""))

    def get(self, k: str, default: Any = None) -> Any:
        self.used.add(k)
        v = self.data.get(k)
        return default if v is None else v

    def finish(self, allowed: list[str] | None = None) -> None:
        """Refuse keys that were not read (typos), suggesting the closest valid one."""
        valid = sorted(set(allowed or []) | self.used)
        for k in self.data:
            if k not in self.used:
                hint = difflib.get_close_matches(k, valid, n=1)
                tip = f" (did you mean {hint[0]!r}?)" if hint else f"; valid: {', '.join(valid)}"
                raise ScenarioError(self.key(k), f"unknown key{tip}")

    # typed getters --------------------------------------------------------
    def number(self, k: str, default: Any = None, *, positive=True, allow_zero=False,
               maximum: float | None = None, required=False) -> float | None:
        if required:
            self.required(k)
        v = self.get(k, default)
        return None if v is None else _number(self.key(k), v, positive, allow_zero, maximum)

    def integer(self, k: str, default: Any = None, *, minimum=1, maximum=None) -> int | None:
        v = self.get(k, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise ScenarioError(self.key(k), f"must be an integer, got {_show(v)}")
        if v < minimum or (maximum is not None and v > maximum):
            hi = f" and <= {maximum}" if maximum is not None else ""
            raise ScenarioError(self.key(k), f"must be >= {minimum}{hi}, got {v}")
        return v

    def string(self, k: str, default: Any = None, *, choices=None, required=False) -> str | None:
        if required:
            self.required(k)
        v = self.get(k, default)
        if v is None:
            return None
        if not isinstance(v, str):
            raise ScenarioError(self.key(k), f"must be a string, got {_show(v)}")
        if choices is not None and v not in choices:
            raise ScenarioError(self.key(k), f"unknown value {v!r}; valid: {', '.join(choices)}")
        return v

    def vector(self, k: str, n: int, default: Any = None, *, positive=False, required=False,
               maximum: float | None = None):
        if required:
            self.required(k)
        v = self.get(k, default)
        if v is None:
            return None
        if not isinstance(v, list) or len(v) != n:
            raise ScenarioError(self.key(k), f"must be a list of {n} numbers, got {_show(v)}")
        return tuple(_number(f"{self.key(k)}[{i}]", x, positive, False, maximum) for i, x in enumerate(v))

    def boolean(self, k: str, default: bool) -> bool:
        v = self.get(k, default)
        if not isinstance(v, bool):
            raise ScenarioError(self.key(k), f"must be true or false, got {_show(v)}")
        return v


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _quote_key(k: Any) -> str:
    """A TOML quoted key, printable on one line."""
    return '"' + str(k).encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def _type(v: Any) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(v), type(v).__name__)


def _show(v: Any) -> str:
    if isinstance(v, (dict, list)):
        return _type(v)
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(key: str, v: Any, positive: bool, allow_zero: bool, maximum: float | None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ScenarioError(key, f"must be a number, got {_show(v)}")
    v = float(v)
    if not math.isfinite(v):
        raise ScenarioError(key, f"must be finite, got {v}")
    if positive and (v < 0 or (v == 0 and not allow_zero)):
        raise ScenarioError(key, f"must be {'>= 0' if allow_zero else '> 0'}, got {v:g}")
    if maximum is not None and abs(v) > maximum:
        raise ScenarioError(key, f"must be at most {maximum:g}{_unit(key)}, got {v:g}")
    return v


_UNITS = {"_mm": " mm", "_V": " V", "_us": " us", "_Hz": " Hz", "_V_per_cm": " V/cm", "_S_per_m": " S/m",
          "_A": " A", "_deg": " deg"}


def _unit(key: str) -> str:
    """The unit a scenario key carries as its suffix (size_mm[1] -> ' mm'), for messages."""
    base = key.split("[")[0] if key.endswith("]") else key
    return next((u for suffix, u in _UNITS.items() if base.endswith(suffix)), "")


# ----------------------------------------------------------------------------- loading
def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file."""
    p = Path(path)
    if p.is_dir():
        raise ScenarioError("scenario", f"{str(p)!r} is a directory, not a scenario file")
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ScenarioError("scenario", f"file {str(p)!r} does not exist") from None
    except OSError as exc:
        raise ScenarioError("scenario", f"cannot read {str(p)!r}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")          # a BOM (Windows editors) is harmless
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ScenarioError("scenario", f"{str(p)!r} is not UTF-8 text (line {line}, byte {exc.start}); "
                            "save it as UTF-8") from None
    if not text.strip():
        raise ScenarioError("scenario", f"{str(p)!r} is empty")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError("scenario", f"TOML syntax error in {p.name}: {exc}") from None
    return scenario_from_dict(data, default_name=p.stem)


ALLOWED_TOP = ["name", "tissue", "tumours", "electrode", "protocol", "materials", "mesh",
               "solver", "generator", "coverage"]


def scenario_from_dict(data: dict, default_name: str = "scenario") -> Scenario:
    """Validate a scenario given as a dict (the parsed TOML)."""
    top = _Table(data, "")
    name = top.string("name", default_name)
    if not name.strip() or len(name) > 200 or any(c in name for c in "\0\n\r"):
        raise ScenarioError("name", f"must be a non-empty single line of at most 200 characters, got {name!r}")
    materials = _materials(top.get("materials", {}))
    tissue = _tissue(_Table(top.get("tissue", {}), "tissue"), materials)
    tumours = _tumours(top.get("tumours", []), materials, tissue)
    electrode, catalogue_entry = _electrode(_Table(top.get("electrode"), "electrode") if top.has("electrode")
                                            else _missing("electrode"), tissue)
    protocol = _protocol(_Table(top.get("protocol", {}), "protocol"), electrode,
                         catalogue_entry.protocol if catalogue_entry else None)
    mesh = _mesh(_Table(top.get("mesh", {}), "mesh"))
    solver = _solver(_Table(top.get("solver", {}), "solver"))
    generator = _generator(_Table(top.get("generator", {}), "generator"))
    cov = _Table(top.get("coverage", {}), "coverage")
    tol = cov.number("tolerance", 1e-3, allow_zero=True, maximum=0.5)
    cov.finish()
    top.finish(ALLOWED_TOP)
    used = {layer.material for layer in tissue.layers} | {t.material for t in tumours}
    return Scenario(name, tissue, tumours, electrode, protocol,
                    {k: v for k, v in materials.items() if k in used},
                    mesh, solver, generator, tol)


def _missing(field_name: str):
    raise ScenarioError(field_name, "is required")


# Upper bounds that no tissue reaches (absurd values overflow the assembly: 1e300 S/m -> inf)
_MATERIAL_MAX = {"sigma0_S_per_m": 100.0, "sigma1_S_per_m": 100.0, "E_rev_V_per_cm": 1e5, "E_irr_V_per_cm": 1e5,
                 "density_kg_per_m3": 1e5, "heat_capacity_J_per_kg_K": 1e5}


def _materials(raw: Any) -> dict[str, Material]:
    table = _Table(raw, "materials")
    out = dict(LIBRARY)
    keys_to_fields = {v: k for k, v in SCENARIO_KEYS.items()}
    for name in list(table.data):
        sub = _Table(table.get(name), table.key(name))
        base = LIBRARY.get(name)
        changes: dict[str, Any] = {}
        for key, fname in keys_to_fields.items():
            if not sub.has(key):
                continue
            if fname == "conductivity_model":
                changes[fname] = sub.string(key)
            elif fname == "temperature_coefficient":
                changes[fname] = sub.number(key, positive=False)
            else:
                changes[fname] = sub.number(key, maximum=_MATERIAL_MAX.get(key)) * SCALE_FROM_SCENARIO.get(fname, 1.0)
        if sub.has("based_on"):
            parent = sub.string("based_on", choices=list(LIBRARY))
            base = LIBRARY[parent]
        sub.finish(list(keys_to_fields) + ["based_on"])
        if base is None:
            required = ["sigma0_S_per_m", "sigma1_S_per_m", "E_rev_V_per_cm", "E_irr_V_per_cm"]
            missing = [k for k in required if keys_to_fields[k] not in changes]
            if missing:
                raise ScenarioError(f"materials.{name}.{missing[0]}",
                                    f"is required for a new material (library: {', '.join(LIBRARY)}; "
                                    "or give based_on)")
            out[name] = Material(name=name, source="scenario", **changes)
        else:
            out[name] = replace(base, name=name, source=base.source + " (overridden in scenario)"
                                if changes else base.source, **changes)
    return out


def _material_name(table: _Table, key: str, default: str, materials: dict) -> str:
    name = table.string(key, default)
    if name not in materials:
        raise ScenarioError(table.key(key), f"unknown material {name!r}; valid: {', '.join(materials)}")
    return name


DEFAULT_LAYERS = [{"material": "skin", "thickness_mm": 1.5}, {"material": "fat", "thickness_mm": 4.0},
                  {"material": "muscle"}]


def _tissue(t: _Table, materials) -> Tissue:
    size = t.vector("size_mm", 3, [40.0, 40.0, 25.0], positive=True)
    for i, s in enumerate(size):
        if s * MM > MAX_BLOCK:
            raise ScenarioError(f"tissue.size_mm[{i}]", f"must be at most {MAX_BLOCK / MM:g} mm, got {s:g}")
    raw_layers = t.get("layers", DEFAULT_LAYERS)
    if not isinstance(raw_layers, list) or not raw_layers:
        raise ScenarioError("tissue.layers", f"must be a non-empty list of tables, got {_show(raw_layers)}")
    layers, total = [], 0.0
    for i, raw in enumerate(raw_layers):
        lt = _Table(raw, f"tissue.layers[{i}]")
        mat = _material_name(lt, "material", "muscle", materials)
        last = i == len(raw_layers) - 1
        th = lt.number("thickness_mm", None)
        lt.finish()
        if th is None and not last:
            raise ScenarioError(lt.key("thickness_mm"), "is required for every layer but the last")
        if th is not None:
            total += th
        layers.append(Layer(mat, None if th is None else th * MM))
    if total > size[2] + 1e-9:
        raise ScenarioError("tissue.layers", f"layers are {total:g} mm thick, deeper than the block "
                                             f"(tissue.size_mm[2] = {size[2]:g})")
    if layers[-1].thickness is not None and total < size[2] - 1e-9:
        layers[-1] = Layer(layers[-1].material, None)   # the last layer fills the rest
    if layers[-1].thickness is None and total >= size[2] - 1e-9:
        raise ScenarioError("tissue.layers", f"layers above the last fill the whole block "
                                             f"({total:g} mm of {size[2]:g} mm)")
    t.finish()
    return Tissue(tuple(s * MM for s in size), tuple(layers))


def _tumours(raw: Any, materials, tissue: Tissue) -> tuple[Tumour, ...]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ScenarioError("tumours", f"must be a list of tables ([[tumours]]), got {_show(raw)}")
    if len(raw) > MAX_TUMOURS:
        raise ScenarioError("tumours", f"at most {MAX_TUMOURS} tumours per scenario, got {len(raw)}")
    out: list[Tumour] = []
    X, Y, Z = tissue.size
    mats = [layer.material for layer in tissue.layers]
    layer_regions = {m if mats.count(m) == 1 else f"{m}{k}" for k, m in enumerate(mats)}
    for i, r in enumerate(raw):
        t = _Table(r, f"tumours[{i}]")
        name = t.string("name", f"T{i + 1}")
        if any(o.name == name for o in out):
            raise ScenarioError(t.key("name"), f"duplicate tumour name {name!r}")
        if name in layer_regions or not name.strip():
            raise ScenarioError(t.key("name"), f"tumour name {name!r} is empty or names a tissue layer "
                                f"({', '.join(sorted(layer_regions))})")
        shape = t.string("shape", "sphere", choices=SHAPES)
        if shape == "sphere":
            d = t.number("diameter_mm", required=True, maximum=MAX_BLOCK / MM)
            semi = (d / 2, d / 2, d / 2)
            if t.has("semi_axes_mm"):
                raise ScenarioError(t.key("semi_axes_mm"), "is for shape = \"ellipsoid\"; a sphere takes diameter_mm")
        else:
            semi = t.vector("semi_axes_mm", 3, positive=True, required=True, maximum=MAX_BLOCK / MM)
            if t.has("diameter_mm"):
                raise ScenarioError(t.key("diameter_mm"), "is for shape = \"sphere\"; an ellipsoid takes semi_axes_mm")
        depth = t.number("depth_mm", required=True, maximum=MAX_BLOCK / MM)
        cx, cy = t.vector("centre_mm", 2, [0.0, 0.0])
        mat = _material_name(t, "material", "tumour", materials)
        margin = t.number("margin_mm", 1.0, allow_zero=True)
        t.finish()
        tum = Tumour(name, shape, tuple(s * MM for s in semi), (cx * MM, cy * MM, -depth * MM), mat, margin * MM)
        a, b, c = tum.semi_axes
        x, y, z = tum.centre
        eps = 1e-9
        if z + c > eps:
            raise GeometryError(f"tumours[{i}].depth_mm", f"tumour {name!r} sticks out of the skin: depth "
                                f"{depth:g} mm < semi-axis {c / MM:g} mm")
        if z - c < -Z - eps or abs(x) + a > X / 2 + eps or abs(y) + b > Y / 2 + eps:
            outside = z + c <= -Z or abs(x) - a >= X / 2 or abs(y) - b >= Y / 2
            span = (f"x {(x - a) / MM:g}..{(x + a) / MM:g}, y {(y - b) / MM:g}..{(y + b) / MM:g}, "
                    f"z {(z - c) / MM:g}..{(z + c) / MM:g} mm")
            raise GeometryError(f"tumours[{i}]", f"tumour {name!r} ({span}) "
                                f"{'lies outside' if outside else 'crosses the boundary of'} the tissue block "
                                f"(x, y within +-{X / 2 / MM:g}, +-{Y / 2 / MM:g} mm, depth {Z / MM:g} mm)")
        for j, o in enumerate(out):
            # bounding-sphere test is conservative for ellipsoids; spheres exact
            gap = math.dist(tum.centre, o.centre) - max(tum.semi_axes) - max(o.semi_axes)
            if gap < 0 and _ellipsoids_overlap(tum, o):
                raise GeometryError(f"tumours[{i}]", f"tumour {name!r} overlaps tumour {o.name!r}")
        out.append(tum)
    return tuple(out)


def _ellipsoids_overlap(a: Tumour, b: Tumour, n: int = 4000) -> bool:
    """Whether two ellipsoids intersect: sample one's surface (deterministic Fibonacci points)."""
    k = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * k / n)
    theta = math.pi * (1 + 5 ** 0.5) * k
    unit = np.stack([np.sin(phi) * np.cos(theta), np.sin(phi) * np.sin(theta), np.cos(phi)], axis=1)
    for p, q in ((a, b), (b, a)):
        pts = np.asarray(p.centre) + unit * np.asarray(p.semi_axes)
        if q.contains(pts).any() or q.contains(np.asarray([p.centre])).any():
            return True
    return False


def _convert(kind: str, key: str, v: Any, positive: bool):
    if kind == "length":
        return _number(key, v, True, not positive, MAX_BLOCK / MM) * MM    # >= 0 always
    if kind == "angle":
        return _number(key, v, False, True, 360.0)
    if kind == "count":
        if isinstance(v, bool) or not isinstance(v, int) or v < 1 or v > 50:
            raise ScenarioError(key, f"must be an integer from 1 to 50, got {_show(v)}")
        return v
    if kind == "point":
        if not isinstance(v, list) or len(v) != 2:
            raise ScenarioError(key, f"must be a list of 2 numbers, got {_show(v)}")
        return tuple(_number(f"{key}[{i}]", x, False, True, None) * MM for i, x in enumerate(v))
    if kind == "bool":
        if not isinstance(v, bool):
            raise ScenarioError(key, f"must be true or false, got {_show(v)}")
        return v
    raise AssertionError(kind)


def _electrode(t: _Table, tissue: Tissue):
    """The electrode and its catalogue entry (``[electrode] catalogue = "hexagonal-20"`` sets
    the type and defaults; explicit keys override them), or None without a catalogue."""
    from electrodes.catalogue import CATALOGUE
    valid = list(TYPES) + ["needles"]
    entry = None
    if t.has("catalogue"):
        entry = CATALOGUE[t.string("catalogue", choices=list(CATALOGUE))]
        etype = t.string("type", entry.type, choices=valid)
        if etype != entry.type:
            raise ScenarioError(t.key("type"), f"catalogue electrode {entry.name!r} is of type "
                                f"{entry.type!r}, got {etype!r}; drop type or the catalogue")
    else:
        etype = t.string("type", required=True, choices=valid)
    if etype == "needles":
        electrode = _custom_needles(t)
    else:
        spec = TYPES[etype]
        defaults = entry.defaults() if entry else {}
        params: dict[str, Any] = {}
        for key, param in spec.params.items():
            v = t.get(key, defaults.get(key, param.default))
            if v is None:
                raise ScenarioError(t.key(key), "is required")
            params[key] = _convert(param.kind, t.key(key), v, param.positive)
        for key, fn in spec.extra.get("checks", {}).items():
            fn(params, t.key(key))
        electrode = spec.builder(params)
        if entry is not None:
            electrode = replace(electrode, source=f"catalogue {entry.name}")
    t.finish()
    _check_electrode(electrode, tissue)
    return electrode, entry


def _custom_needles(t: _Table) -> Electrode:
    raw = t.get("needles")
    if not isinstance(raw, list) or len(raw) < 2:
        raise ScenarioError(t.key("needles"), f"must list at least 2 needles, got {_show(raw)}")
    depth = _convert("length", t.key("insertion_depth_mm"), t.get("insertion_depth_mm", 10.0), True)
    diam = _convert("length", t.key("needle_diameter_mm"), t.get("needle_diameter_mm", 0.7), True)
    needles = []
    for i, r in enumerate(raw):
        n = _Table(r, f"electrode.needles[{i}]")
        name = n.string("name", f"N{i + 1}")
        if not name or any(o.name == name for o in needles):
            raise ScenarioError(n.key("name"), f"duplicate or empty needle name {name!r}")
        pos = _convert("point", n.key("position_mm"), n.get("position_mm") if n.has("position_mm")
                       else _missing(n.key("position_mm")), False)
        d = _convert("length", n.key("diameter_mm"), n.get("diameter_mm", diam / MM), True)
        L = _convert("length", n.key("insertion_depth_mm"), n.get("insertion_depth_mm", depth / MM), True)
        tilt = _convert("angle", n.key("tilt_deg"), n.get("tilt_deg", 0.0), False)
        az = _convert("angle", n.key("tilt_azimuth_deg"), n.get("tilt_azimuth_deg", 0.0), False)
        ins = _convert("length", n.key("insulated_length_mm"), n.get("insulated_length_mm", 0.0), False)
        n.finish()
        needles.append(Needle(name, pos, d, L, tilt, az, ins))
    return custom_needles(needles)


def _check_electrode(e: Electrode, tissue: Tissue) -> None:
    X, Y, Z = tissue.size
    for i, n in enumerate(e.needles):
        field_name = f"electrode.needles[{i}]" if e.type == "needles" else "electrode"
        if not 0 <= n.tilt_deg < 80:
            raise GeometryError(f"{field_name}.tilt_deg", f"must be in [0, 80) degrees, got {n.tilt_deg:g}")
        if n.insulated_length >= n.insertion_depth:
            raise GeometryError(f"{field_name}.insulated_length_mm",
                                f"must be shorter than the insertion depth ({n.insertion_depth / MM:g} mm), "
                                f"got {n.insulated_length / MM:g}")
        for p in (n.entry, n.tip):
            lim_x, lim_y = X / 2 - n.radius, Y / 2 - n.radius
            if abs(p[0]) >= lim_x or abs(p[1]) >= lim_y:
                raise GeometryError(field_name, f"needle {n.name!r} at ({p[0] / MM:g}, {p[1] / MM:g}) mm "
                                    f"is outside the tissue block ({X / MM:g} x {Y / MM:g} mm)")
        for m in e.needles[:i]:
            gap = math.dist(n.position, m.position) - n.radius - m.radius
            if gap <= 0:
                raise GeometryError(field_name, f"needles {m.name!r} and {n.name!r} overlap "
                                    f"(centres {math.dist(n.position, m.position) / MM:g} mm apart, "
                                    f"needle diameter {n.diameter / MM:g} mm)")
    if e.plates:
        gap = e.distance
        a, b = e.plates
        if gap <= 0:
            raise GeometryError("electrode.gap_mm", f"must be > 0, got {gap / MM:g}")
        if a.length > 2 * max(X, Y) or a.depth > Z + 1e-12:
            raise GeometryError("electrode.depth_mm" if a.depth > Z else "electrode.length_mm",
                                f"plates ({a.length / MM:g} mm long, {a.depth / MM:g} mm deep) do not fit "
                                f"the block ({X / MM:g} x {Y / MM:g} x {Z / MM:g} mm)")
        if X <= gap + 1e-12:
            object.__setattr__(e, "clamped", True)
            if abs(a.normal_deg) > 1e-9 or abs(a.centre[1] + b.centre[1]) > 1e-12:
                raise GeometryError("electrode.rotation_deg", "a clamped block needs unrotated, centred plates")
            if abs(X - gap) > 1e-9:
                raise GeometryError("tissue.size_mm[0]", f"a block narrower than the plate gap "
                                    f"({gap / MM:g} mm) would not touch the plates; make it {gap / MM:g} mm wide")
        else:
            for p in (a, b):
                corners = _plate_corners(p)
                if (np.abs(corners[:, 0]) >= X / 2).any() or (np.abs(corners[:, 1]) >= Y / 2).any():
                    raise GeometryError("electrode", f"plate {p.name!r} is outside or crosses the tissue block "
                                        f"({X / MM:g} x {Y / MM:g} mm); enlarge tissue.size_mm")


def _plate_corners(p) -> np.ndarray:
    c, s = math.cos(math.radians(p.normal_deg)), math.sin(math.radians(p.normal_deg))
    pts = []
    for u in (-p.thickness / 2, p.thickness / 2):
        for v in (-p.length / 2, p.length / 2):
            pts.append((p.centre[0] + c * u - s * v, p.centre[1] + s * u + c * v))
    return np.array(pts)


def _protocol(t: _Table, electrode: Electrode, default_preset: str | None = None) -> Protocol:
    """Pulse groups. ``pulses`` (alias ``pulses_per_pair``) is the count for every pair of
    the sequence; ``sequence`` is a list of [anode, cathode] or a named sequence
    (protocols.sequences); a catalogue electrode's default preset applies when the table
    gives neither a preset nor a voltage."""
    from protocols.esope import PRESETS, preset_defaults
    preset = t.string("preset", None, choices=list(PRESETS))
    if preset is None and default_preset and not (t.has("voltage_V") or t.has("field_ratio_V_per_cm")):
        preset = default_preset
    d = preset_defaults(preset, electrode) if preset else {}
    if t.has("pulses") and t.has("pulses_per_pair"):
        raise ScenarioError("protocol.pulses_per_pair", "give pulses or pulses_per_pair (the same), not both")
    count = t.integer("pulses_per_pair" if t.has("pulses_per_pair") else "pulses", d.get("pulses", 8),
                      maximum=10_000)
    duration = t.number("pulse_duration_us", d.get("pulse_duration_us", 100.0), maximum=1e6) * US
    freq = t.number("frequency_Hz", d.get("frequency_Hz", 1.0), maximum=1e6)
    if t.has("voltage_V") and t.has("field_ratio_V_per_cm"):
        raise ScenarioError("protocol.voltage_V", "give voltage_V or field_ratio_V_per_cm, not both")
    if t.has("voltage_V"):
        voltage = t.number("voltage_V", maximum=MAX_VOLTAGE)
    else:
        ratio = t.number("field_ratio_V_per_cm", d.get("field_ratio_V_per_cm"), maximum=20_000)
        if ratio is None:
            raise ScenarioError("protocol.voltage_V", "is required (or field_ratio_V_per_cm, or preset)")
        voltage = ratio * V_PER_CM * electrode.distance
        if voltage > MAX_VOLTAGE:
            raise ScenarioError("protocol.field_ratio_V_per_cm", f"gives {voltage:g} V, above {MAX_VOLTAGE:g} V")
    raw_seq = t.get("sequence", None)
    if raw_seq is None:
        steps = tuple((a, c, 1.0) for a, c in electrode.default_sequence)
    elif isinstance(raw_seq, str):
        steps = _named_sequence(raw_seq, electrode)
    else:
        steps = tuple((a, c, 1.0) for a, c in _sequence(raw_seq, electrode))
    t.finish()
    groups = []
    for anode, cathode, share in steps:
        n = count * share
        if abs(n - round(n)) > 1e-9 or round(n) < 1:
            raise ScenarioError("protocol.pulses", f"sequence {raw_seq!r} splits each pair's pulses "
                                f"{share:g}:{1 - share:g}; {count} pulses per pair do not split evenly")
        groups.append(PulseGroup(electrode.resolve(anode), electrode.resolve(cathode), voltage, int(round(n)),
                                 duration, freq, anode, cathode))
    if not groups:
        raise ScenarioError("protocol.sequence", "the electrode has no pair to fire; give a sequence")
    return Protocol(tuple(groups), preset or "")


def _named_sequence(name: str, e: Electrode):
    from protocols.sequences import SEQUENCES, named_sequence
    if name not in SEQUENCES:
        raise ScenarioError("protocol.sequence", f"unknown sequence {name!r}; valid: {', '.join(SEQUENCES)} "
                            "or a list of [anode, cathode]")
    steps = named_sequence(name, e)
    if not steps:
        raise ScenarioError("protocol.sequence", f"sequence {name!r} gives no pair for this electrode")
    return steps


def _sequence(raw: Any, e: Electrode) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("protocol.sequence", f"must be a non-empty list of [anode, cathode], got {_show(raw)}")
    out = []
    for i, pair in enumerate(raw):
        key = f"protocol.sequence[{i}]"
        if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(x, str) for x in pair):
            raise ScenarioError(key, f"must be [anode, cathode] names, got {_show(pair)}")
        for name in pair:
            try:
                e.resolve(name)
            except KeyError as exc:
                raise ScenarioError(key, str(exc.args[0])) from None
        if set(e.resolve(pair[0])) & set(e.resolve(pair[1])):
            raise ScenarioError(key, f"anode and cathode share a contact: {pair}")
        out.append((pair[0], pair[1]))
    return tuple(out)


def _mesh(t: _Table) -> MeshOptions:
    size = t.number("size_mm", 1.0, maximum=100.0)
    if size < 0.05:
        raise ScenarioError("mesh.size_mm", f"must be >= 0.05 mm, got {size:g}")
    cs = t.number("contact_size_mm", None, maximum=100.0)
    fs = t.number("far_size_mm", None, maximum=200.0)
    cache = t.boolean("cache", True)
    t.finish()
    return MeshOptions(size * MM, None if cs is None else cs * MM, None if fs is None else fs * MM, cache)


def _solver(t: _Table) -> SolverOptions:
    s = SolverOptions(
        engine=t.string("engine", "embedded", choices=ENGINES),
        degree=t.integer("degree", 1, minimum=1, maximum=2),
        model=t.string("model", "stationary", choices=NL_MODELS),
        rtol=t.number("rtol", 1e-8, maximum=1e-2),
        max_iterations=t.integer("max_iterations", 50, maximum=1000),
        idle_contacts=t.string("idle_contacts", "floating", choices=("floating", "insulating")),
    )
    t.finish()
    return s


def _generator(t: _Table) -> Generator:
    g = Generator(t.number("max_voltage_V", 3000.0, maximum=1e6), t.number("max_current_A", 50.0, maximum=1e4))
    t.finish()
    return g
