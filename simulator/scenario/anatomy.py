"""Readers for the anatomy keys: ribs under the chest wall, protruding (exophytic) and
ulcerated nodules (the part above the skin and what covers it), and no-go regions."""
from __future__ import annotations

import math
from typing import Any

from simulator.errors import GeometryError, ScenarioError
from simulator.scenario.curvature import AXES, CURVATURE_SHAPES, Curvature
from simulator.scenario.records import COVERS, MAX_BLOCK, NoGo, Ribs, Tissue
from simulator.scenario.table import Table, show
from simulator.units import MM

NO_GO_SHAPES = ("box", "sphere", "cylinder")
MAX_NO_GO = 10


def read_ribs(raw: Any, tissue_size, material_name, curvature: Curvature | None = None) -> Ribs:
    """``[tissue] ribs = { material, diameter_mm, depth_mm, pitch_mm, offset_mm }``: bone
    cylinders along y, centres ``depth_mm`` below the skin, ``pitch_mm`` apart in x (under a
    curved skin, a cylinder along y, each rib ``depth_mm`` below the skin point above it)."""
    t = Table(raw, "tissue.ribs")
    mat = material_name(t, "material", "bone")
    d = t.number("diameter_mm", required=True, maximum=MAX_BLOCK / MM)
    depth = t.number("depth_mm", required=True, maximum=MAX_BLOCK / MM)
    pitch = t.number("pitch_mm", required=True, maximum=MAX_BLOCK / MM)
    offset = t.number("offset_mm", 0.0, positive=False, maximum=MAX_BLOCK / MM)
    t.finish()
    X, _, Z = tissue_size
    if pitch <= d:
        raise GeometryError("tissue.ribs.pitch_mm", f"must exceed the rib diameter ({d:g} mm), got {pitch:g}")
    if curvature is not None and (curvature.shape != "cylinder" or curvature.axis != "y"):
        raise GeometryError("tissue.ribs", f"ribs (straight, along y) follow a skin curved as a cylinder along y "
                            f"only, got tissue.curvature {curvature.shape}"
                            f"{' along ' + curvature.axis if curvature.shape == 'cylinder' else ''}")
    if depth - d / 2 <= 0 or (depth + d / 2) * MM >= Z:
        raise GeometryError("tissue.ribs.depth_mm", f"ribs of {d:g} mm at a depth of {depth:g} mm do not lie "
                            f"inside the block (depth {Z / MM:g} mm)")
    ribs = Ribs(mat, d / 2 * MM, depth * MM, pitch * MM, offset * MM)
    if not ribs.centres_x(X):
        raise GeometryError("tissue.ribs", f"no rib of {d:g} mm fits across the block ({X / MM:g} mm wide)")
    if curvature is not None:
        low = min(curvature.point(x, 0.0, ribs.depth)[2] for x in ribs.centres_x(X)) - ribs.radius
        if low <= -Z:
            raise GeometryError("tissue.ribs.depth_mm", f"ribs {depth:g} mm under the curved skin reach z = "
                                f"{low / MM:.3g} mm, below the block (depth {Z / MM:g} mm)")
    return ribs


MAX_RADIUS = 100.0          # m: a larger radius of curvature is a flat skin for any block


def read_curvature(raw: Any, size, layers, layout: str) -> Curvature:
    """``[tissue] curvature = { shape = "cylinder" | "sphere", radius_mm, axis = "y" }``: the
    skin a cylinder (axis along x or y) or a sphere touching z = 0 at the block's centre;
    every layer a shell of its thickness under it, the last one down to the flat bottom."""
    t = Table(raw, "tissue.curvature")
    shape = t.string("shape", required=True, choices=CURVATURE_SHAPES)
    R = t.number("radius_mm", required=True, maximum=MAX_RADIUS / MM) * MM
    axis = t.string("axis", "y", choices=AXES) if shape == "cylinder" else "y"
    t.finish()
    if layout != "depth":
        raise ScenarioError("tissue.curvature", f"needs tissue.layout = \"depth\", got {layout!r}")
    c = Curvature(shape, R, axis)
    X, Y, Z = size
    corner2 = float(c.rho2(X / 2, Y / 2))
    stack = sum(layer.thickness or 0.0 for layer in layers)
    # the deepest layer boundary, at the block's edge (cylinder) or corner (sphere), above the bottom
    where = "corners" if shape == "sphere" else "edges"
    if R * R <= corner2:
        raise GeometryError("tissue.curvature.radius_mm", f"must exceed the block's reach across the curve "
                            f"({math.sqrt(corner2) / MM:.3g} mm from the axis to its {where}), got {R / MM:g}")
    low = R - stack
    if low * low <= corner2 or math.sqrt(low * low - corner2) - R <= -Z + 1e-6:
        edge = math.sqrt(max(R * R - corner2, 0.0)) - R
        raise GeometryError("tissue.curvature.radius_mm", f"a radius of {R / MM:g} mm drops the skin to z = "
                            f"{edge / MM:.3g} mm at the block's {where}: "
                            f"the layers above the last ({stack / MM:g} mm) must lie above the block bottom "
                            f"(z = {-Z / MM:g} mm); enlarge the radius or tissue.size_mm[2]")
    return c


def read_cover(t: Table, protrudes: bool, first_layer, materials) -> tuple[str, float, str]:
    """(cover, thickness m, material) of a tumour's part above the skin. ``cover = "skin"``
    (default: the first layer's material and thickness), ``"wet"`` (exudate on an ulcer,
    material ``wound-fluid`` unless ``cover_material`` says otherwise) or ``"none"``."""
    cover = t.string("cover", "skin", choices=COVERS)
    default_th = (first_layer.thickness or 0.0) / MM if cover == "skin" else 0.2
    th = t.number("cover_thickness_mm", default_th if cover != "none" else 0.0, allow_zero=True,
                  maximum=MAX_BLOCK / MM)
    default_mat = first_layer.material if cover == "skin" else "wound-fluid"
    mat = t.string("cover_material", default_mat)
    if cover != "none" and mat not in materials:
        raise ScenarioError(t.key("cover_material"), f"unknown material {mat!r}; valid: {', '.join(materials)}")
    if cover == "none" and th:
        raise ScenarioError(t.key("cover_thickness_mm"), f"a bare (cover = \"none\") tumour has no cover, got {th:g}")
    return cover, th * MM, mat if cover != "none" else ""


def dome_geometry(base_diameter: float, height: float, base_depth: float) -> tuple[float, float, float]:
    """(radius, centre z, base plane z) of a spherical cap of the given base diameter and
    height above the skin, its base ``base_depth`` below the skin (all m)."""
    h_total = height + base_depth
    w = base_diameter / 2
    R = (w * w + h_total * h_total) / (2.0 * h_total)
    return R, height - R, -base_depth


def read_no_go(raw: Any, tissue: Tissue) -> tuple[NoGo, ...]:
    """``[[no_go]]`` regions: name, shape box (min_mm, max_mm), sphere (centre_mm,
    diameter_mm) or cylinder (centre_mm, axis, diameter_mm, length_mm); z <= 0 below the skin."""
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ScenarioError("no_go", f"must be a list of tables ([[no_go]]), got {show(raw)}")
    if len(raw) > MAX_NO_GO:
        raise ScenarioError("no_go", f"at most {MAX_NO_GO} no-go regions, got {len(raw)}")
    out = []
    for i, r in enumerate(raw):
        t = Table(r, f"no_go[{i}]")
        name = t.string("name", f"no-go-{i + 1}")
        if any(o.name == name for o in out):
            raise ScenarioError(t.key("name"), f"duplicate no-go name {name!r}")
        shape = t.string("shape", required=True, choices=NO_GO_SHAPES)
        lim = MAX_BLOCK / MM
        if shape == "box":
            lo = t.vector("min_mm", 3, required=True, maximum=lim)
            hi = t.vector("max_mm", 3, required=True, maximum=lim)
            for k in range(3):
                if hi[k] <= lo[k]:
                    raise ScenarioError(t.key("max_mm"), f"must exceed min_mm in every coordinate, got {list(hi)}")
            region = NoGo(name, shape, lo=tuple(v * MM for v in lo), hi=tuple(v * MM for v in hi))
        else:
            c = t.vector("centre_mm", 3, required=True, maximum=lim)
            d = t.number("diameter_mm", required=True, maximum=lim)
            if shape == "sphere":
                region = NoGo(name, shape, centre=tuple(v * MM for v in c), radius=d / 2 * MM)
            else:
                ax = t.vector("axis", 3, [0.0, 1.0, 0.0])
                n = math.sqrt(sum(v * v for v in ax))
                if n == 0:
                    raise ScenarioError(t.key("axis"), "must be a non-zero direction, got [0, 0, 0]")
                L = t.number("length_mm", required=True, maximum=lim)
                region = NoGo(name, shape, centre=tuple(v * MM for v in c), radius=d / 2 * MM,
                              axis=tuple(v / n for v in ax), length=L * MM)
        t.finish()
        out.append(region)
    return tuple(out)
