"""Element sizes and the gmsh size field: fine at the contacts (a few segments around each
needle), in the tumours and between the electrodes; growing towards the far walls.
"""
from __future__ import annotations
import math
from dataclasses import dataclass
import numpy as np
from electrodes.contacts import Needle, Plate
from typing import TYPE_CHECKING
from simulator.scenario import Scenario
from simulator.meshing.model import OccModel
from simulator.meshing.model import S


if TYPE_CHECKING:
    from simulator.meshing.inputs import MeshInput

GROWTH = 0.35             # element size growth per unit distance away from fine zones
ANGULAR_GROWTH = 0.5      # near a needle: growth <= this x contact_size / radius
TUMOUR_ELEMENTS_ACROSS = 2  # at least this many elements across a tumour's smallest diameter: a
                            # coarser size field gave gmsh a broken surface (duplicated facets) on a
                            # 1 mm tumour under 2.5 mm elements, and HXT and Delaunay both failed
RIB_SEGMENTS = 24         # resolve the bone surface: 24 segments round a rib (area -1.1 %)


# ----------------------------------------------------------------------------- sizes
@dataclass(frozen=True)
class Sizes:
    """Element sizes, m."""

    size: float
    far: float
    contact: dict[str, float]
    tumour: tuple[float, ...] = ()     # in and around each tumour (<= size)


def sizes(scenario: Scenario) -> Sizes:
    """Element size in the fine zone, far away, and at each contact (m), all x ``mesh.refinement``."""
    opts = scenario.mesh
    far = opts.far_size if opts.far_size is not None else 5.0 * opts.size
    far = max(far, opts.size)
    contact: dict[str, float] = {}
    for c in scenario.electrode.contacts:
        if opts.contact_size is not None:
            contact[c.name] = opts.contact_size
        elif isinstance(c, Needle):
            contact[c.name] = min(opts.size, 2.0 * math.pi * c.radius / 10.0)
        else:
            contact[c.name] = opts.size
    f = opts.refinement                 # < 1 on the finer levels of the accuracy loop
    tumour = tuple(min(opts.size, 2.0 * min(t.semi_axes) / TUMOUR_ELEMENTS_ACROSS) for t in scenario.tumours)
    return Sizes(f * opts.size, f * far, {k: f * v for k, v in contact.items()}, tuple(f * v for v in tumour))


# ----------------------------------------------------------------------------- size fields
def rib_size(ribs, far: float) -> float:
    """Element size (m) on a rib's surface."""
    return min(far, 2 * math.pi * ribs.radius / RIB_SEGMENTS)


def _box_field(fld, lo, hi, vin: float, vout: float, thickness: float) -> int:
    f = fld.add("Box")
    for k, v in zip(("XMin", "YMin", "ZMin", "XMax", "YMax", "ZMax"), (*lo, *hi)):
        fld.setNumber(f, k, float(v))
    fld.setNumber(f, "VIn", vin)
    fld.setNumber(f, "VOut", vout)
    fld.setNumber(f, "Thickness", thickness)
    return f


def hull(mi: MeshInput) -> tuple[np.ndarray, np.ndarray] | None:
    """Bounding box (mm) of the electrode parts inside the tissue."""
    pts = []
    for n in mi.needles:
        pts += [n.entry, n.tip]
    for p in mi.plates:
        for x, y in p.corners():
            for z in (0.0, -p.depth):
                pts.append((x, y, z))
    if not pts:
        return None
    P = np.asarray(pts) * S
    return P.min(axis=0), P.max(axis=0)


def _n(v: float) -> str:
    """A number for a MathEval expression: fixed point, negatives as (0-v) (mathex has
    neither exponents nor unary minus after an operator; a parse error aborts gmsh)."""
    text = f"{abs(float(v)):.9f}".rstrip("0").rstrip(".") or "0"
    return text if v >= 0 or text == "0" else f"(0-{text})"


def _math_field(fld, expr: str) -> int:
    f = fld.add("MathEval")
    fld.setString(f, "F", expr)
    return f


def _plate_distance(p: Plate) -> str:
    """gmsh MathEval expression: distance (mm) from (x, y, z) to the plate box."""
    c, s = math.cos(math.radians(p.normal_deg)), math.sin(math.radians(p.normal_deg))
    cx, cy = p.centre[0] * S, p.centre[1] * S
    u = f"abs({_n(c)} * (x - {_n(cx)}) + {_n(s)} * (y - {_n(cy)}))"
    v = f"abs({_n(-s)} * (x - {_n(cx)}) + {_n(c)} * (y - {_n(cy)}))"
    du = f"max(0, {u} - {_n(p.thickness * S / 2)})"
    dv = f"max(0, {v} - {_n(p.length * S / 2)})"
    dw = f"max(0, (0 - z) - {_n(p.depth * S)})"
    return f"sqrt({du} * {du} + {dv} * {dv} + {dw} * {dw})"


def _axis_field(gmsh, n: Needle, depth_mm: float, hc: float, far: float) -> int:
    """Size hc on the needle surface growing away from it: a Threshold on the distance to
    a free curve (in no volume, so not in the mesh) along the needle's axis. (A MathEval
    distance is exact but made the 3D refinement ~8x slower.)

    The size grows by at most ANGULAR_GROWTH x hc/r per unit distance, so the radial
    grading keeps pace with the angular resolution and the error of the 1/r field near a
    needle falls ~ hc^2 when contact_size is refined; a fixed growth rate leaves an error
    floor ~ GROWTH^2 (two-wire current, hc = 0.2/0.1/0.05 mm, a = 0.35 mm: fixed 0.35 gave
    4.7/3.2/2.4 %, this rule 3.9/1.1/0.2 %)."""
    occ, fld = gmsh.model.occ, gmsh.model.mesh.field
    e, a, r = n.entry * S, n.axis, n.radius * S
    L = min(n.insertion_depth * S, depth_mm / max(-a[2], 1e-9) + r)
    p0, p1 = occ.addPoint(*e), occ.addPoint(*(e + L * a))
    line = occ.addLine(p0, p1)
    occ.synchronize()
    d = fld.add("Distance")
    fld.setNumbers(d, "CurvesList", [line])
    fld.setNumber(d, "Sampling", int(min(2000, math.ceil(2 * L / r) + 2)))
    t = fld.add("Threshold")
    fld.setNumber(t, "InField", d)
    fld.setNumber(t, "SizeMin", hc)
    fld.setNumber(t, "SizeMax", far)
    fld.setNumber(t, "DistMin", r)
    fld.setNumber(t, "DistMax", r + (far - hc) / min(GROWTH, ANGULAR_GROWTH * hc / r))
    return t


def _size_map_field(gmsh, sm) -> int:
    """A PostView field of the size map: its sizes linear in its tets (gmsh list-data "SS":
    per tet the 4 x, 4 y, 4 z coordinates then the 4 values, model units)."""
    p = sm.points[sm.tets] * S                                   # (M, 4, 3)
    data = np.concatenate([p[:, :, 0], p[:, :, 1], p[:, :, 2], sm.size[sm.tets] * S], axis=1)
    view = gmsh.view.add("epsim-size-map")
    gmsh.view.addListData(view, "SS", len(sm.tets), data.ravel().tolist())
    f = gmsh.model.mesh.field.add("PostView")
    gmsh.model.mesh.field.setNumber(f, "ViewTag", view)
    return f


def apply_size_fields(gmsh, mi: MeshInput, model: OccModel) -> None:
    """The background size field: the min of the fine boxes, the contact fields and far."""
    fld = gmsh.model.mesh.field
    sz = mi.sizes
    h, far = sz.size * S, sz.far * S
    X, Y, Z = (v * S for v in mi.tissue.size)
    ramp = (far - h) / GROWTH
    fields = []
    if mi.size_map is not None and mi.size_map.replace:     # the map alone (error_indicator)
        _background(gmsh, mi, [_size_map_field(gmsh, mi.size_map)])
        return
    hull_box = hull(mi)
    if hull_box is not None and not mi.clamped:
        lo, hi = hull_box
        # the field varies over about the electrode distance around the needles (a pair has
        # no width in y otherwise): pad the fine box by half of it
        pad = max(2.0 * h, 0.5 * mi.electrode_distance * S)
        fields.append(_box_field(fld, lo - pad, hi + pad, h, far, ramp))
    elif mi.clamped:
        fields.append(_box_field(fld, (-X, -Y, -2 * Z), (X, Y, Z), h, far, ramp))
    for t, ht in zip(mi.tumours, sz.tumour or [sz.size] * len(mi.tumours)):
        c, ax = np.asarray(t.centre) * S, np.asarray(t.semi_axes) * S
        ht *= S
        pad = max(t.margin * S, ht)
        fields.append(_box_field(fld, c - ax - pad, c + ax + pad, ht, far, (far - ht) / GROWTH))
    ribs = mi.tissue.ribs
    if ribs is not None:
        hr = rib_size(ribs, sz.far) * S
        for x in ribs.centres_x(mi.tissue.size[0]):
            dist = f"abs(sqrt((x - {_n(x * S)})^2 + (z + {_n(ribs.depth * S)})^2) - {_n(ribs.radius * S)})"
            fields.append(_math_field(fld, f"min({_n(far)}, {_n(hr)} + {_n(GROWTH)} * {dist})"))
    if not mi.clamped:
        for c in mi.contacts:
            hc = sz.contact[c.name] * S
            if isinstance(c, Needle):
                fields.append(_axis_field(gmsh, c, Z, hc, far))
            else:
                dist = _plate_distance(c)
                fields.append(_math_field(fld, f"min({_n(far)}, {_n(hc)} + {_n(GROWTH)} * max(0, {dist}))"))
    if mi.size_map is not None:
        fields.append(_size_map_field(gmsh, mi.size_map))
    if not fields:
        c = fld.add("MathEval")
        fld.setString(c, "F", _n(far))
        fields.append(c)
    _background(gmsh, mi, fields)


def _background(gmsh, mi: MeshInput, fields: list[int]) -> None:
    """The min of ``fields`` as gmsh's background size, within [MeshSizeMin, far]."""
    fld = gmsh.model.mesh.field
    sz = mi.sizes
    h, far = sz.size * S, sz.far * S
    m = fld.add("Min")
    fld.setNumbers(m, "FieldsList", fields)
    fld.setAsBackgroundMesh(m)
    opt = gmsh.option.setNumber
    opt("Mesh.MeshSizeFromPoints", 0)
    opt("Mesh.MeshSizeExtendFromBoundary", 0)
    opt("Mesh.MeshSizeFromCurvature", 0)
    opt("Mesh.MeshSizeMax", far)
    smallest = [h] + [v * S for v in (*sz.contact.values(), *sz.tumour)]
    if mi.size_map is not None:
        smallest.append(float(mi.size_map.size.min()) * S)
    opt("Mesh.MeshSizeMin", 0.5 * min(smallest))
