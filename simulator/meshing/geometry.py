"""The OpenCASCADE model of a scenario (built in mm, OCC's tolerances suit that scale).

The tissue block is a stack of layer boxes; tumours are ellipsoids; needles (cylinders,
optionally with an insulated shaft) and plates (thin boxes) are cut out of the tissue so
that their surfaces become named contacts. Everything is fragmented in one call, so the
mesh is conformal; a piece that belongs to a tumour and a layer is tumour, a piece that
belongs to an electrode is removed.
"""
from __future__ import annotations
import math
import numpy as np
from electrodes.contacts import Needle, Plate
from simulator.errors import GeometryError, ScenarioError
from simulator.meshing.mesh import Region
from simulator.meshing.inputs import MeshInput
from simulator.meshing.blame import blame, cause_text, parts_text
from simulator.meshing.session import one_line
from simulator.meshing.model import OccModel
from simulator.meshing.model import S




def region_names(mi: MeshInput) -> list[Region]:
    """Regions in mesh order: layers (index = layer index) then tumours (index = tumour index)."""
    mats = [layer.material for layer in mi.tissue.layers]
    regions = [Region(m if mats.count(m) == 1 else f"{m}{i}", "layer", m, i) for i, m in enumerate(mats)]
    taken = {r.name for r in regions}
    for i, t in enumerate(mi.tumours):
        if t.name in taken:
            raise ScenarioError(f"tumours[{i}].name", f"tumour name {t.name!r} is also a tissue layer's name")
        regions.append(Region(t.name, "tumour", t.material, i))
    return regions


# ----------------------------------------------------------------------------- geometry


def _needle_parts(n: Needle, depth: float, small: float) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """(start, vector, is_contact) cylinders in mm for one needle, extended above the skin
    (and below the block bottom when the needle passes through it)."""
    r, a = n.radius * S, n.axis
    entry, L, Z = n.entry * S, n.insertion_depth * S, depth * S
    cos_t = -a[2]
    above = r * math.tan(math.radians(n.tilt_deg)) + max(r, 0.2)   # cap clear of the skin
    tip_z = entry[2] + L * a[2]
    if tip_z < -Z + small:                                           # passes through
        L = Z / cos_t + above
    start = entry - above * a
    ins = n.insulated_length * S
    if ins <= 0:
        return [(start, (L + above) * a, True)]
    if ins >= L:                          # insulated down through the block: no contact left
        return [(start, (L + above) * a, False)]
    return [(start, (ins + above) * a, False), (entry + ins * a, (L - ins) * a, True)]


def _plate_box(occ, p: Plate, depth: float) -> int:
    """A plate as a box in mm: thickness along its normal, length along the skin."""
    Z = depth * S
    d = p.depth * S
    if d >= Z - 1e-6:
        d = Z + 1.0                                                  # through the bottom
    above = 1.0
    cx, cy = p.centre[0] * S, p.centre[1] * S
    t, L = p.thickness * S, p.length * S
    tag = occ.addBox(cx - t / 2, cy - L / 2, -d, t, L, d + above)
    if p.normal_deg % 360.0:
        occ.rotate([(3, tag)], cx, cy, 0.0, 0.0, 0.0, 1.0, math.radians(p.normal_deg))
    return tag


def build_model(gmsh, mi: MeshInput) -> OccModel:
    """The OCC model of the mesh input: layer boxes, tumours, electrode parts, fragmented."""
    occ = gmsh.model.occ
    sz = mi.sizes
    X, Y, Z = (v * S for v in mi.tissue.size)
    layers = [occ.addBox(-X / 2, -Y / 2, zb * S, X, Y, (zt - zb) * S)
              for zt, zb in mi.tissue.layer_bounds()]
    tumours = []
    for i, t in enumerate(mi.tumours):
        c = [v * S for v in t.centre]
        a, b, cc = (v * S for v in t.semi_axes)
        try:
            if a == b == cc:
                tag = occ.addSphere(*c, a)
            else:
                tag = occ.addSphere(*c, 1.0)
                occ.dilate([(3, tag)], *c, a, b, cc)
        except Exception as exc:
            if type(exc) is not Exception:
                raise
            raise GeometryError(f"tumours[{i}]", f"cannot build tumour {t.name!r}: {one_line(exc)}") from None
        tumours.append(tag)
    parts: list[tuple[int, str, bool]] = []        # (tag, contact name, is contact)
    e = mi
    if not e.clamped:
        for n in e.needles:
            for start, vec, active in _needle_parts(n, mi.tissue.size[2], 0.1 * sz.contact[n.name] * S):
                parts.append((occ.addCylinder(*start, *vec, n.radius * S), n.name, active))
        for p in e.plates:
            parts.append((_plate_box(occ, p, mi.tissue.size[2]), p.name, True))
    objects = [(3, t) for t in layers]
    tools = [(3, t) for t in tumours] + [(3, t) for t, _, _ in parts]
    try:
        if len(objects) + len(tools) > 1:
            _, out_map = occ.fragment(objects, tools)
        else:                                   # one box: nothing to fragment
            out_map = [objects]
        occ.synchronize()
    except Exception as exc:
        if type(exc) is not Exception:
            raise
        raise GeometryError(blame(mi), f"gmsh could not combine {parts_text(mi)}: {one_line(exc)}"
                            f"{cause_text(mi)}") from None

    nl, nt = len(layers), len(tumours)
    owner: dict[int, tuple[int, int]] = {}       # volume -> (priority, index)
    for k, dimtags in enumerate(out_map):
        key = (0, k) if k < nl else (1, k - nl) if k < nl + nt else (2, k - nl - nt)
        for _, v in dimtags:
            if v not in owner or key[0] > owner[v][0]:
                owner[v] = key
    region_volumes: list[list[int]] = [[] for _ in range(nl + nt)]
    electrode_vols: dict[int, tuple[str, bool]] = {}
    for v, (prio, k) in sorted(owner.items()):
        if prio == 2:
            electrode_vols[v] = parts[k][1:]
        else:
            region_volumes[k if prio == 0 else nl + k].append(v)
    tissue = {v for vols in region_volumes for v in vols}
    tissue_faces: set[int] = set()
    for v in sorted(tissue):
        tissue_faces |= {s for _, s in gmsh.model.getBoundary([(3, v)], oriented=False)}
    model = OccModel(region_volumes)
    if e.clamped:
        names = [p.name for p in sorted(e.plates, key=lambda p: p.centre[0])]
        for name, x in zip(names, (-X / 2, X / 2)):
            model.contact_surfaces[name] = sorted(
                s for s in tissue_faces if _on_plane(gmsh, s, x, tol=1e-6 * max(X, 1.0)))
    else:
        found: dict[str, set[int]] = {c.name: set() for c in e.contacts}
        for v, (name, active) in sorted(electrode_vols.items()):
            if active:
                found[name] |= {s for _, s in gmsh.model.getBoundary([(3, v)], oriented=False)} & tissue_faces
        model.contact_surfaces = {name: sorted(faces) for name, faces in found.items()}
        if electrode_vols:
            occ.remove([(3, v) for v in sorted(electrode_vols)], recursive=True)
            occ.synchronize()
    return model


def _on_plane(gmsh, surface: int, x: float, tol: float) -> bool:
    x0, _, _, x1, _, _ = gmsh.model.getBoundingBox(2, surface)
    return abs(x0 - x) < tol and abs(x1 - x) < tol
