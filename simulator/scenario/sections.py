"""Section readers: one function per scenario table ([materials], [tissue], [[tumours]],
[electrode], [protocol], [mesh], [solver], [generator]), each returning records.
"""
from __future__ import annotations
import math
from dataclasses import replace
from typing import Any
from electrodes.contacts import Electrode, Needle
from electrodes.needles import custom_needles
from electrodes.registry import TYPES
from protocols.pulses import Protocol, PulseGroup
from simulator.errors import GeometryError, ScenarioError
from simulator.physics.materials import LIBRARY, SCALE_FROM_SCENARIO, SCENARIO_KEYS, ZERO_ALLOWED, Material
from simulator.units import MM, US, V_PER_CM
from simulator.scenario.records import CellKill
from simulator.scenario.records import Generator
from simulator.scenario.records import Layer
from simulator.scenario.records import MAX_BLOCK
from simulator.scenario.records import MAX_TUMOURS
from simulator.scenario.records import MAX_VOLTAGE
from simulator.scenario.records import MeshOptions
from simulator.scenario.records import NL_MODELS
from simulator.scenario.records import SHAPES
from simulator.scenario.records import LAYOUTS
from simulator.scenario.anatomy import dome_geometry, read_cover, read_curvature, read_ribs
from simulator.scenario.curvature import on_skin
from simulator.scenario.patient import read_image_tissue, read_tissue_surfaces
from simulator.scenario.surface_files import read_surface
from simulator.scenario.records import SolverOptions
from simulator.scenario.records import SKIN_MODELS, THERMAL_MODELS, ThermalOptions
from simulator.scenario.table import Table
from simulator.scenario.records import Tissue
from simulator.scenario.records import Tumour
from simulator.scenario.checks import check_electrode
from simulator.scenario.checks import clamp_to_block
from simulator.scenario.table import convert
from simulator.scenario.table import number
from simulator.scenario.checks import ellipsoids_overlap
from simulator.scenario.table import missing
from simulator.scenario.table import show
from simulator.scenario import limits
from simulator.scenario.names import check_name


# Upper bounds that no tissue reaches (absurd values overflow the assembly: 1e300 S/m -> inf)
MATERIAL_MAX = {"sigma0_S_per_m": 100.0, "sigma1_S_per_m": 100.0, "E_rev_V_per_cm": 1e5, "E_irr_V_per_cm": 1e5,
                 "density_kg_per_m3": 1e5, "heat_capacity_J_per_kg_K": 1e5, "thermal_conductivity_W_per_m_K": 1e3,
                 "perfusion_per_s": 10.0, "metabolic_heat_W_per_m3": 1e6}


def read_materials(raw: Any) -> dict[str, Material]:
    table = Table(raw, "materials")
    out = dict(LIBRARY)
    keys_to_fields = {v: k for k, v in SCENARIO_KEYS.items()}
    for name in list(table.data):
        check_name(table.key(name), name)
        sub = Table(table.get(name), table.key(name))
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
                changes[fname] = sub.number(key, maximum=MATERIAL_MAX.get(key), allow_zero=fname in ZERO_ALLOWED
                                            ) * SCALE_FROM_SCENARIO.get(fname, 1.0)
        if sub.has("based_on"):
            parent = sub.string("based_on", choices=list(LIBRARY))
            base = LIBRARY[parent]
        sub.finish(list(keys_to_fields) + ["based_on"])
        if base is None:
            required = ["sigma0_S_per_m", "sigma1_S_per_m", "E_rev_V_per_cm", "E_irr_V_per_cm"]
            missing = [k for k in required if keys_to_fields[k] not in changes]
            if missing:
                import difflib
                near = difflib.get_close_matches(str(name), list(LIBRARY), n=1, cutoff=0.75)
                hint = f"; did you mean [materials.{near[0]}]?" if near else ""
                raise ScenarioError(f"materials.{name}.{missing[0]}",
                                    f"is required for a new material (library: {', '.join(LIBRARY)}; "
                                    f"or give based_on){hint}")
            out[name] = Material(name=name, source="scenario", **changes)
        else:
            changes = {k: v for k, v in changes.items() if v != getattr(base, k)}   # a restated value is no override
            out[name] = replace(base, name=name, source=base.source + " (overridden in scenario)"
                                if changes else base.source, assumed=base.assumed - set(changes), **changes)
    return out


def material_name(table: Table, key: str, default: str, materials: dict) -> str:
    name = table.string(key, default)
    if name not in materials:
        raise ScenarioError(table.key(key), f"unknown material {name!r}; valid: {', '.join(materials)}")
    return name


DEFAULT_LAYERS = [{"material": "skin", "thickness_mm": 1.5}, {"material": "fat", "thickness_mm": 4.0},
                  {"material": "muscle"}]


def read_tissue(t: Table, materials, base_dir=None) -> Tissue:
    if t.has("image"):
        return read_image_tissue(t, materials, base_dir)
    size = t.vector("size_mm", 3, [40.0, 40.0, 25.0], positive=True)
    for i, s in enumerate(size):
        if s * MM > MAX_BLOCK:
            raise ScenarioError(f"tissue.size_mm[{i}]", f"must be at most {MAX_BLOCK / MM:g} mm, got {s:g}")
    layout = t.string("layout", "depth", choices=LAYOUTS)
    raw_layers = t.get("layers", DEFAULT_LAYERS)
    if not isinstance(raw_layers, list) or not raw_layers:
        raise ScenarioError("tissue.layers", f"must be a non-empty list of tables, got {show(raw_layers)}")
    layers, total = [], 0.0
    for i, raw in enumerate(raw_layers):
        lt = Table(raw, f"tissue.layers[{i}]")
        mat = material_name(lt, "material", "muscle", materials)
        last = i == len(raw_layers) - 1
        th = lt.number("thickness_mm", None)
        lt.finish()
        if th is None and not last:
            raise ScenarioError(lt.key("thickness_mm"), "is required for every layer but the last")
        if th is not None:
            limits.at_least(lt.key("thickness_mm"), th * MM, limits.MIN_LAYER_THICKNESS,
                            "the stratum corneum, ~10-20 um [R], is the thinnest tissue layer")
            total += th
        layers.append(Layer(mat, None if th is None else th * MM))
    extent, axis = (size[0], 0) if layout == "fold" else (size[2], 2)
    if total > extent + 1e-9:
        raise ScenarioError("tissue.layers", f"layers are {total:g} mm thick, more than the block "
                                             f"(tissue.size_mm[{axis}] = {extent:g})")
    if layers[-1].thickness is not None and total < extent - 1e-9:
        layers[-1] = Layer(layers[-1].material, None)   # the last layer fills the rest
    if layers[-1].thickness is None and total >= extent - 1e-9:
        raise ScenarioError("tissue.layers", f"layers before the last fill the whole block "
                                             f"({total:g} mm of {extent:g} mm)")
    size_m = tuple(s * MM for s in size)
    curvature = read_curvature(t.get("curvature"), size_m, layers, layout) if t.has("curvature") else None
    ribs = (read_ribs(t.get("ribs"), size_m, lambda tt, k, d: material_name(tt, k, d, materials), curvature)
            if t.has("ribs") else None)
    surfaces = read_tissue_surfaces(t.get("surfaces", []), materials, base_dir)
    t.finish()
    return Tissue(size_m, tuple(layers), layout, ribs, None, surfaces, curvature)


def read_tumours(raw: Any, materials, tissue: Tissue, base_dir=None) -> tuple[Tumour, ...]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ScenarioError("tumours", f"must be a list of tables ([[tumours]]), got {show(raw)}")
    if len(raw) > MAX_TUMOURS:
        raise ScenarioError("tumours", f"at most {MAX_TUMOURS} tumours per scenario, got {len(raw)}")
    out: list[Tumour] = []
    X, Y, Z = tissue.size
    mats = [layer.material for layer in tissue.layers]
    layer_regions = {m if mats.count(m) == 1 else f"{m}{k}" for k, m in enumerate(mats)}
    for i, r in enumerate(raw):
        t = Table(r, f"tumours[{i}]")
        name = check_name(t.key("name"), t.string("name", f"T{i + 1}"))
        if any(o.name == name for o in out):
            raise ScenarioError(t.key("name"), f"duplicate tumour name {name!r}")
        if name in layer_regions or not name.strip():
            raise ScenarioError(t.key("name"), f"tumour name {name!r} is empty or names a tissue layer "
                                f"({', '.join(sorted(layer_regions))})")
        shape = t.string("shape", "sphere", choices=SHAPES)
        base_z = None
        surface = None
        if shape == "surface":
            surface = read_surface(t.string("file", required=True), t.string("units", "mm"), base_dir, t.path)
            lo, hi = surface.bounds()
            semi = tuple((hi - lo) / 2 / MM)
            cx, cy, zc = ((lo + hi) / 2 / MM)
            depth = -zc
        elif shape == "dome":
            w = t.number("base_diameter_mm", required=True, maximum=MAX_BLOCK / MM)
            h = t.number("height_mm", required=True, maximum=MAX_BLOCK / MM)
            bd = t.number("base_depth_mm", 0.0, allow_zero=True, maximum=MAX_BLOCK / MM)
            R, zc, base_z = dome_geometry(w * MM, h * MM, bd * MM)
            semi = (R / MM,) * 3
            depth = -zc / MM
        elif shape == "sphere":
            d = t.number("diameter_mm", required=True, maximum=MAX_BLOCK / MM)
            limits.at_least(t.key("diameter_mm"), d * MM, limits.MIN_TUMOUR_DIAMETER,
                            "below any nodule a clinician can see or treat [A]")
            semi = (d / 2, d / 2, d / 2)
            if t.has("semi_axes_mm"):
                raise ScenarioError(t.key("semi_axes_mm"), "is for shape = \"ellipsoid\"; a sphere takes diameter_mm")
        else:
            semi = t.vector("semi_axes_mm", 3, positive=True, required=True, maximum=MAX_BLOCK / MM)
            for k, v in enumerate(semi):
                limits.at_least(f"{t.key('semi_axes_mm')}[{k}]", v * MM, limits.MIN_TUMOUR_DIAMETER / 2,
                                "a tumour below 0.1 mm across is below any nodule a clinician can treat [A]")
            if t.has("diameter_mm"):
                raise ScenarioError(t.key("diameter_mm"), "is for shape = \"sphere\"; an ellipsoid takes semi_axes_mm")
        if shape not in ("dome", "surface"):
            depth = t.number("depth_mm", required=True, positive=False, maximum=MAX_BLOCK / MM)
        if shape != "surface":
            cx, cy = t.vector("centre_mm", 2, [0.0, 0.0])
        mat = material_name(t, "material", "tumour", materials)
        margin = t.number("margin_mm", 1.0, allow_zero=True)
        protrudes = -depth * MM + semi[2] * MM > 1e-9
        cover, cover_th, cover_mat = read_cover(t, protrudes, tissue.layers[0], materials)
        t.finish()
        tum = Tumour(name, shape, tuple(s * MM for s in semi), (cx * MM, cy * MM, -depth * MM), mat, margin * MM,
                     base_z, cover, cover_th, cover_mat, surface)
        if surface is not None and tum.top > 1e-9:
            raise GeometryError(t.path + ".file", f"surface tumour {name!r} rises above the skin (z up to "
                                f"{tum.top / MM:g} mm); surface tumours lie in the tissue (z <= 0)")
        a, b, c = tum.semi_axes
        x, y, z = tum.centre
        eps = 1e-9
        if tissue.layout == "fold" and z + c > eps:
            raise GeometryError(f"tumours[{i}].depth_mm", f"tumour {name!r} rises above the skin; a skin fold "
                                "(tissue.layout = \"fold\") takes tumours inside the fold only")
        if base_z is None and z - c > -eps:
            raise GeometryError(f"tumours[{i}].depth_mm", f"tumour {name!r} at depth {depth:g} mm lies wholly "
                                f"above the skin (semi-axis {c / MM:g} mm): it must reach into the tissue")
        if z + c > Z + eps:
            raise GeometryError(f"tumours[{i}].depth_mm", f"tumour {name!r} rises {(z + c) / MM:g} mm above the "
                                f"skin, more than the block's depth ({Z / MM:g} mm)")
        if cover != "skin" and z + c < -eps:
            raise GeometryError(f"tumours[{i}].cover", f"tumour {name!r} has cover = {cover!r} (an ulcer) but "
                                f"lies {-(z + c) / MM:g} mm below the skin; an ulcerated tumour reaches the surface")
        low = z - c if base_z is None else base_z
        if low < -Z - eps or abs(x) + a > X / 2 + eps or abs(y) + b > Y / 2 + eps:
            outside = z + c <= -Z or abs(x) - a >= X / 2 or abs(y) - b >= Y / 2 or (z - c > 0)
            span = (f"x {(x - a) / MM:g}..{(x + a) / MM:g}, y {(y - b) / MM:g}..{(y + b) / MM:g}, "
                    f"z {(z - c) / MM:g}..{(z + c) / MM:g} mm")
            raise GeometryError(f"tumours[{i}]", f"tumour {name!r} ({span}) "
                                f"{'lies outside' if outside else 'crosses the boundary of'} the tissue block "
                                f"(x, y within +-{X / 2 / MM:g}, +-{Y / 2 / MM:g} mm, depth {Z / MM:g} mm)")
        if tissue.curvature is not None and surface is None:
            tum = under_curved_skin(tum, tissue.curvature, f"tumours[{i}]", Z)
        for j, o in enumerate(out):
            # bounding-sphere test is conservative for ellipsoids; spheres exact
            gap = math.dist(tum.centre, o.centre) - max(tum.semi_axes) - max(o.semi_axes)
            if gap < 0 and ellipsoids_overlap(tum, o):
                raise GeometryError(f"tumours[{i}]", f"tumour {name!r} overlaps tumour {o.name!r}")
        out.append(tum)
    return tuple(out)


def under_curved_skin(tum: Tumour, c, field: str, Z: float) -> Tumour:
    """The tumour moved from under the flat skin point (x, y) to the same depth under the
    curved skin point above (x, y), along its normal. [A] Its axes (and a dome's base plane)
    stay aligned with x, y, z: over a nodule of width w the skin turns by ~w / (2 R) rad."""
    x, y, z = tum.centre
    centre = tuple(float(v) for v in c.point(x, y, -z))
    base = None if tum.base_z is None else centre[2] + (tum.base_z - z)
    moved = replace(tum, centre=centre, base_z=base)
    low = centre[2] - tum.semi_axes[2] if base is None else base
    if low < -Z:
        raise GeometryError(field, f"tumour {tum.name!r} under the curved skin reaches z = {low / MM:.3g} mm, "
                            f"below the block (depth {Z / MM:g} mm)")
    return moved


def read_electrode(t: Table, tissue: Tissue):
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
        electrode = read_custom_needles(t)
    else:
        spec = TYPES[etype]
        defaults = entry.defaults() if entry else {}
        params: dict[str, Any] = {}
        given: dict[str, Any] = {}
        for key, param in spec.params.items():
            v = t.get(key, defaults.get(key, param.default))
            if v is None:
                raise ScenarioError(t.key(key), "is required")
            params[key] = convert(param.kind, t.key(key), v, param.positive)
            given[key] = v
        for key, fn in spec.extra.get("checks", {}).items():
            fn(params, t.key(key))
        electrode = replace(spec.builder(params), parameters=given)
        if entry is not None:
            electrode = replace(electrode, source=f"catalogue {entry.name}")
    along_normal = t.get("along_normal", True) if tissue.curvature is not None else None
    t.finish()
    electrode = clamp_to_block(electrode, tissue)
    if tissue.curvature is not None:
        electrode = curved_skin_electrode(t, electrode, tissue, along_normal)
    check_electrode(electrode, tissue)
    return electrode, entry


def curved_skin_electrode(t: Table, e: Electrode, tissue: Tissue, along_normal) -> Electrode:
    """Needles on a curved skin (``[electrode] along_normal``, default true: each needle
    perpendicular to the skin where it enters; false: tilt_deg from -z as given)."""
    if not isinstance(along_normal, bool):
        raise ScenarioError(t.key("along_normal"), f"must be true or false, got {show(along_normal)}")
    if e.plates:
        raise GeometryError("tissue.curvature", "plates on a curved skin are not modelled; use needles or a "
                            "flat skin (drop tissue.curvature)")
    if along_normal and any(n.tilt_deg for n in e.needles):
        raise ScenarioError(t.key("along_normal"), "needles on a curved skin go along its normal; set "
                            "along_normal = false to give tilt_deg")
    return on_skin(e, tissue.curvature, along_normal)


def read_custom_needles(t: Table) -> Electrode:
    raw = t.get("needles")
    if not isinstance(raw, list) or len(raw) < 2:
        raise ScenarioError(t.key("needles"), f"must list at least 2 needles, got {show(raw)}")
    if len(raw) > limits.MAX_CONTACTS:
        raise ScenarioError(t.key("needles"), f"at most {limits.MAX_CONTACTS} needles (clinical arrays have "
                            f"2-7), got {len(raw)}")
    depth = convert("length", t.key("insertion_depth_mm"), t.get("insertion_depth_mm", 10.0), True)
    diam = convert("length", t.key("needle_diameter_mm"), t.get("needle_diameter_mm", 0.7), True)
    needles = []
    for i, r in enumerate(raw):
        n = Table(r, f"electrode.needles[{i}]")
        name = check_name(n.key("name"), n.string("name", f"N{i + 1}"))
        if not name or any(o.name == name for o in needles):
            raise ScenarioError(n.key("name"), f"duplicate or empty needle name {name!r}")
        pos = convert("point", n.key("position_mm"), n.get("position_mm") if n.has("position_mm")
                       else missing(n.key("position_mm")), False)
        d = convert("length", n.key("diameter_mm"), n.get("diameter_mm", diam / MM), True)
        L = convert("length", n.key("insertion_depth_mm"), n.get("insertion_depth_mm", depth / MM), True)
        tilt = convert("angle", n.key("tilt_deg"), n.get("tilt_deg", 0.0), False)
        az = convert("angle", n.key("tilt_azimuth_deg"), n.get("tilt_azimuth_deg", 0.0), False)
        ins = convert("length", n.key("insulated_length_mm"), n.get("insulated_length_mm", 0.0), False)
        n.finish()
        needles.append(Needle(name, pos, d, L, tilt, az, ins))
    return custom_needles(needles)


PROTOCOL_KEYS = ["preset", "pulses", "pulses_per_pair", "pulse_duration_us", "frequency_Hz",
                 "voltage_V", "field_ratio_V_per_cm", "sequence"]


def read_protocol(t: Table, electrode: Electrode, default_preset: str | None = None) -> Protocol:
    """Pulse groups. ``pulses`` (alias ``pulses_per_pair``) is the count for every pair of
    the sequence; ``sequence`` is a list of [anode, cathode] or [anode, cathode, voltage_V]
    (that pair's own amplitude) or a named sequence (protocols.sequences); a catalogue electrode's default preset applies when the table
    gives neither a preset nor a voltage."""
    from protocols.esope import PRESETS, preset_defaults
    t.only(PROTOCOL_KEYS)
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
    raw_seq = t.get("sequence", None)
    per_pair = read_sequence(raw_seq, electrode) if raw_seq is not None and not isinstance(raw_seq, str) else None
    if per_pair and all(v is not None for _a, _c, v in per_pair) and not (
            t.has("voltage_V") or t.has("field_ratio_V_per_cm")):
        voltage = None                          # every pair carries its own amplitude
    elif t.has("voltage_V"):
        voltage = t.number("voltage_V", maximum=MAX_VOLTAGE)
    else:
        ratio = t.number("field_ratio_V_per_cm", d.get("field_ratio_V_per_cm"), maximum=20_000)
        if ratio is None:
            raise ScenarioError("protocol.voltage_V", "is required (or field_ratio_V_per_cm, or preset)")
        voltage = ratio * V_PER_CM * electrode.distance
        if voltage > MAX_VOLTAGE:
            raise ScenarioError("protocol.field_ratio_V_per_cm", f"gives {voltage:g} V, above {MAX_VOLTAGE:g} V")
    pair_voltage: dict[int, float] = {}
    if raw_seq is None:
        steps = tuple((a, c, 1.0) for a, c in electrode.default_sequence)
    elif isinstance(raw_seq, str):
        steps = named_sequence_of(raw_seq, electrode)
    else:
        steps = tuple((a, c, 1.0) for a, c, _v in per_pair)
        pair_voltage = {i: v for i, (_a, _c, v) in enumerate(per_pair) if v is not None}
    t.finish()
    groups = []
    for i, (anode, cathode, share) in enumerate(steps):
        n = count * share
        if abs(n - round(n)) > 1e-9 or round(n) < 1:
            raise ScenarioError("protocol.pulses", f"sequence {raw_seq!r} splits each pair's pulses "
                                f"{share:g}:{1 - share:g}; {count} pulses per pair do not split evenly")
        groups.append(PulseGroup(electrode.resolve(anode), electrode.resolve(cathode),
                                 pair_voltage.get(i, voltage), int(round(n)),
                                 duration, freq, anode, cathode))
    if not groups:
        raise ScenarioError("protocol.sequence", "the electrode has no pair to fire; give a sequence")
    limits.check_work(len(groups), sum(g.count for g in groups))
    return Protocol(tuple(groups), preset or "")


def named_sequence_of(name: str, e: Electrode):
    from protocols.sequences import SEQUENCES, named_sequence
    if name not in SEQUENCES:
        raise ScenarioError("protocol.sequence", f"unknown sequence {name!r}; valid: {', '.join(SEQUENCES)} "
                            "or a list of [anode, cathode]")
    steps = named_sequence(name, e)
    if not steps:
        raise ScenarioError("protocol.sequence", f"sequence {name!r} gives no pair for this electrode")
    return steps


def read_sequence(raw: Any, e: Electrode) -> tuple[tuple[str, str, float | None], ...]:
    """[anode, cathode] or [anode, cathode, voltage_V] entries -> (anode, cathode, V or None)."""
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("protocol.sequence", f"must be a non-empty list of [anode, cathode], got {show(raw)}")
    limits.check_work(len(raw), 0)                  # before resolving 100 000 names
    out = []
    for i, pair in enumerate(raw):
        key = f"protocol.sequence[{i}]"
        if not isinstance(pair, list) or len(pair) not in (2, 3) or not all(isinstance(x, str) for x in pair[:2]):
            raise ScenarioError(key, f"must be [anode, cathode] or [anode, cathode, voltage_V], got {show(pair)}")
        for name in pair[:2]:
            try:
                e.resolve(name)
            except KeyError as exc:
                raise ScenarioError(key, str(exc.args[0])) from None
        if set(e.resolve(pair[0])) & set(e.resolve(pair[1])):
            raise ScenarioError(key, f"anode and cathode share a contact: {pair[:2]}")
        volts = number(f"{key}[2]", pair[2], True, False, MAX_VOLTAGE) if len(pair) == 3 else None
        out.append((pair[0], pair[1], volts))
    return tuple(out)


def read_mesh(t: Table) -> MeshOptions:
    size = t.number("size_mm", 1.0, maximum=100.0)
    if size < 0.05:
        raise ScenarioError("mesh.size_mm", f"must be >= 0.05 mm, got {size:g}")
    cs = t.number("contact_size_mm", None, maximum=100.0)
    if cs is not None:
        limits.at_least("mesh.contact_size_mm", cs * MM, limits.MIN_CONTACT_SIZE,
                        "below a cell's size, ~10 um, tissue is no continuum [A]")
    fs = t.number("far_size_mm", None, maximum=200.0)
    cache = t.boolean("cache", True)
    accuracy = t.number("accuracy", 0.02, allow_zero=True, maximum=0.5)
    if 0 < accuracy < 1e-3:
        raise ScenarioError("mesh.accuracy", f"must be 0 (one fixed mesh) or >= 0.001, got {accuracy:g}")
    max_dofs = t.integer("max_dofs", 500_000, minimum=1000, maximum=100_000_000)
    order = t.integer("order", 1, minimum=1, maximum=2)
    t.finish()
    return MeshOptions(size * MM, None if cs is None else cs * MM, None if fs is None else fs * MM, cache,
                       accuracy, max_dofs, order)


def check_mesh_order(mesh: MeshOptions, solver: SolverOptions) -> None:
    """``[mesh] order = 2`` (curved cells) is the geometry of the isoparametric P2 space: it
    needs ``[solver] degree = 2`` (P1 would use the straight corner tets only)."""
    if mesh.order != 1 and solver.degree != 2:
        raise ScenarioError("mesh.order", f"2 (curved cells) is for P2: set solver.degree = 2, got {solver.degree}")


def read_solver(t: Table) -> SolverOptions:
    s = SolverOptions(
        engine=t.string("engine", "embedded"),     # checked against the engine registry by run()
        degree=t.integer("degree", 1, minimum=1, maximum=2),
        model=t.string("model", "stationary", choices=NL_MODELS),
        rtol=t.number("rtol", 1e-8, maximum=1e-2),
        max_iterations=t.integer("max_iterations", 50, maximum=1000),
        idle_contacts=t.string("idle_contacts", "floating", choices=("floating", "insulating")),
    )
    t.finish()
    return s


def read_generator(t: Table) -> Generator:
    g = Generator(t.number("max_voltage_V", 3000.0, maximum=1e6), t.number("max_current_A", 50.0, maximum=1e4))
    t.finish()
    return g


def read_zone_thresholds(t: Table) -> tuple[float, ...]:
    """``[coverage] thresholds_V_per_cm`` -> lesion-zone thresholds (V/m), sorted, distinct."""
    raw = t.get("thresholds_V_per_cm", None)
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw or len(raw) > 20:
        raise ScenarioError(t.key("thresholds_V_per_cm"), f"must be a list of 1 to 20 fields, got {show(raw)}")
    values = [number(f"{t.key('thresholds_V_per_cm')}[{i}]", v, True, False, 1e5) for i, v in enumerate(raw)]
    return tuple(v * V_PER_CM for v in sorted(set(values)))


PELEG_FERMI_KEYS = {"E_c0_V_per_cm": ("E_c0", V_PER_CM), "A0_V_per_cm": ("A0", V_PER_CM),
                    "k1": ("k1", 1.0), "k2": ("k2", 1.0)}


def read_cell_kill(t: Table, materials) -> CellKill | None:
    """``[cell_kill] model = "peleg-fermi"``, per-material constants in ``[cell_kill.<material>]``."""
    from simulator.physics.cell_kill import MODELS, PelegFermi
    if not t.data:
        return None
    model = t.string("model", required=True, choices=MODELS)
    constants = {}
    for name in [k for k in t.data if k != "model"]:
        if name not in materials:
            raise ScenarioError(t.key(name), f"unknown key or material; valid: model, {', '.join(materials)}")
        sub = Table(t.get(name), t.key(name))
        changes = {f: sub.number(k, maximum=1e5) * scale for k, (f, scale) in PELEG_FERMI_KEYS.items()
                   if sub.has(k)}
        sub.finish(list(PELEG_FERMI_KEYS))
        constants[name] = replace(PelegFermi(), **changes)
    t.finish()
    return CellKill(model, constants)


def read_thermal(t: Table, solver: SolverOptions, protocol: Protocol) -> ThermalOptions:
    """``[thermal]``: model and Pennes settings (see ThermalOptions)."""
    d = ThermalOptions()
    th = ThermalOptions(
        model=t.string("model", d.model, choices=THERMAL_MODELS),
        initial_C=t.number("initial_temperature_C", d.initial_C, positive=False, maximum=100.0),
        arterial_C=t.number("arterial_temperature_C", d.arterial_C, positive=False, maximum=100.0),
        blood_density=t.number("blood_density_kg_per_m3", d.blood_density, maximum=1e5),
        blood_heat_capacity=t.number("blood_heat_capacity_J_per_kg_K", d.blood_heat_capacity, maximum=1e5),
        steps_per_pulse=t.integer("steps_per_pulse", d.steps_per_pulse, maximum=100),
        max_steps_between=t.integer("max_steps_between_pulses", d.max_steps_between, maximum=1000),
        resolve_tolerance=t.number("resolve_tolerance", d.resolve_tolerance, allow_zero=True, maximum=1.0),
        skin=t.string("skin", d.skin, choices=SKIN_MODELS),
        skin_h=t.number("skin_h_W_per_m2K", d.skin_h, maximum=1e5),
        ambient_C=t.number("ambient_C", d.ambient_C, positive=False, maximum=100.0),
    )
    t.finish()
    if th.skin != "convective":
        for k in ("skin_h_W_per_m2K", "ambient_C"):
            if t.has(k):
                raise ScenarioError(t.key(k), f"applies to skin = \"convective\" only (skin is {th.skin!r})")
    if th.model == "pennes":
        if solver.degree != 1:
            raise ScenarioError("thermal.model", f"pennes is implemented in P1: set solver.degree = 1, "
                                f"got {solver.degree}")
        if solver.model != "stationary":
            raise ScenarioError("thermal.model", f"pennes steps the stationary model pulse by pulse; "
                                f"solver.model {solver.model!r} is not supported with it")
        for g in protocol.groups:
            if g.frequency * g.duration >= 1.0:
                raise ScenarioError("protocol.frequency_Hz", f"{g.frequency:g} Hz leaves no time between "
                                    f"pulses of {g.duration * 1e6:g} us")
    return th
