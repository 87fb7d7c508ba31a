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
    tissue = mi.tissue
    mats = tissue.layer_materials()
    n_base = len(mats) - len(tissue.surfaces)
    regions = [Region(m if mats.count(m) == 1 else f"{m}{i}", "layer", m, i) for i, m in enumerate(mats[:n_base])]
    regions += [Region(s.name, "layer", s.material, n_base + i) for i, s in enumerate(tissue.surfaces)]
    taken = {r.name for r in regions}
    for i, t in enumerate(mi.tumours):
        if t.name in taken:
            raise ScenarioError(f"tumours[{i}].name", f"tumour name {t.name!r} is also a tissue layer's name")
        regions.append(Region(t.name, "tumour", t.material, i))
    for i, t in enumerate(mi.tumours):
        if has_cover(t):
            regions.append(Region(f"{t.name}-cover", "cover", t.cover_material, i))
    if mi.tissue.ribs is not None:
        regions.append(Region("ribs", "structure", mi.tissue.ribs.material, 0))
    return regions


def has_cover(t) -> bool:
    """Whether a tumour rises above the skin under a cover shell of some thickness."""
    return t.top > 0 and t.cover != "none" and t.cover_thickness > 0


# ----------------------------------------------------------------------------- geometry


def _needle_parts(n: Needle, depth: float, small: float, top: float = 0.0) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """(start, vector, is_contact) cylinders in mm for one needle, extended above the skin
    (above ``top`` m, the highest tissue) and below the block bottom when the needle passes
    through it."""
    r, a = n.radius * S, n.axis
    entry, L, Z = n.entry * S, n.insertion_depth * S, depth * S
    cos_t = -a[2]
    above = r * math.tan(math.radians(n.tilt_deg)) + max(r, 0.2) + (top * S - entry[2]) / cos_t   # cap clear
    tip_z = entry[2] + L * a[2]
    if tip_z < -Z + small:                                           # passes through
        L = (Z + entry[2]) / cos_t + above
    start = entry - above * a
    ins = n.insulated_length * S
    if ins <= 0:
        return [(start, (L + above) * a, True)]
    if ins >= L:                          # insulated down through the block: no contact left
        return [(start, (L + above) * a, False)]
    return [(start, (ins + above) * a, False), (entry + ins * a, (L - ins) * a, True)]


def _plate_box(occ, p: Plate, depth: float, top: float = 0.0) -> int:
    """A plate as a box in mm: thickness along its normal, length along the skin, from its
    depth up to 1 mm above the highest tissue (``top``, m: a protruding nodule)."""
    Z = depth * S
    d = p.depth * S
    if d >= Z - 1e-6:
        d = Z + 1.0                                                  # through the bottom
    above = 1.0 + top * S
    cx, cy = p.centre[0] * S, p.centre[1] * S
    t, L = p.thickness * S, p.length * S
    tag = occ.addBox(cx - t / 2, cy - L / 2, -d, t, L, d + above)
    if p.normal_deg % 360.0:
        occ.rotate([(3, tag)], cx, cy, 0.0, 0.0, 0.0, 1.0, math.radians(p.normal_deg))
    return tag


def _ellipsoid(occ, centre, semi) -> int:
    """An OCC sphere or ellipsoid (mm)."""
    a, b, c = semi
    if a == b == c:
        return occ.addSphere(*centre, a)
    tag = occ.addSphere(*centre, 1.0)
    occ.dilate([(3, tag)], *centre, a, b, c)
    return tag


def _tumour_solid(occ, t, X: float, Y: float, Z: float) -> int:
    """A tumour in mm: the ellipsoid, cut at its base plane for a dome."""
    c = [v * S for v in t.centre]
    tag = _ellipsoid(occ, c, [v * S for v in t.semi_axes])
    if t.base_z is not None:
        box = occ.addBox(-X, -Y, t.base_z * S, 2 * X, 2 * Y, 2 * Z + t.top * S)
        (_, tag), = occ.intersect([(3, tag)], [(3, box)])[0]
    return tag


def _surface_solid(occ, surface) -> int:
    """A closed triangulated surface as an OCC solid (mm): one plane face per triangle,
    points and edges shared between neighbours."""
    P = surface.vertices * S
    pts = [occ.addPoint(*p) for p in P]
    lines: dict[tuple[int, int], int] = {}

    def line(a: int, b: int) -> int:
        key = (min(a, b), max(a, b))
        if key not in lines:
            lines[key] = occ.addLine(pts[key[0]], pts[key[1]])
        return lines[key]
    faces = [occ.addPlaneSurface([occ.addCurveLoop([line(a, b), line(b, c), line(c, a)])])
             for a, b, c in surface.triangles.tolist()]
    return occ.addVolume([occ.addSurfaceLoop(faces)])       # edges are shared: no sewing needed


def _cover_solid(occ, t, X: float, Y: float, Z: float, curvature=None) -> int:
    """The cover shell's envelope above the skin (mm): the tumour grown by the cover
    thickness, cut at z = 0 or outside the curved skin (the fragment keeps only what is
    not tumour)."""
    c = [v * S for v in t.centre]
    tag = _ellipsoid(occ, c, [(v + t.cover_thickness) * S for v in t.semi_axes])
    if curvature is not None:
        (_, tag), = occ.cut([(3, tag)], [(3, _body(occ, curvature, curvature.radius, X, Y))])[0]
        return tag
    box = occ.addBox(-X, -Y, 0.0, 2 * X, 2 * Y, Z + t.covered_top * S)
    (_, tag), = occ.intersect([(3, tag)], [(3, box)])[0]
    return tag


def _body(occ, c, r: float, X: float, Y: float) -> int:
    """The solid under a curved skin of radius ``r`` (m) about the curvature's centre (mm):
    a cylinder longer than the block, or a ball."""
    z0, r = -c.radius * S, r * S
    if c.shape == "sphere":
        return occ.addSphere(0.0, 0.0, z0, r)
    if c.axis == "x":
        return occ.addCylinder(-X, 0.0, z0, 2 * X, 0.0, 0.0, r)
    return occ.addCylinder(0.0, -Y, z0, 0.0, 2 * Y, 0.0, r)


def _layer_solids(occ, tissue) -> list[int]:
    """One OCC solid per layer (mm): boxes, or under a curved skin the block cut into shells
    of each layer's thickness (the last one down to the flat bottom)."""
    X, Y, Z = (v * S for v in tissue.size)
    c = tissue.curvature
    if c is None:
        return [occ.addBox(lo[0] * S, lo[1] * S, lo[2] * S, (hi[0] - lo[0]) * S, (hi[1] - lo[1]) * S,
                           (hi[2] - lo[2]) * S) for lo, hi in tissue.layer_boxes()]
    out, d = [], 0.0
    for k, layer in enumerate(tissue.layers):
        box = occ.addBox(-X / 2, -Y / 2, -Z, X, Y, Z)
        (_, tag), = occ.intersect([(3, box)], [(3, _body(occ, c, c.radius - d, X, Y))])[0]
        if layer.thickness is not None and k < len(tissue.layers) - 1:
            d += layer.thickness
            (_, tag), = occ.cut([(3, tag)], [(3, _body(occ, c, c.radius - d, X, Y))])[0]
        out.append(tag)
    return out


def build_model(gmsh, mi: MeshInput) -> OccModel:
    """The OCC model of the mesh input: layers, tumours, covers, ribs, electrode parts, fragmented."""
    occ = gmsh.model.occ
    sz = mi.sizes
    X, Y, Z = (v * S for v in mi.tissue.size)
    layers = _layer_solids(occ, mi.tissue)
    tumours = []
    for i, t in enumerate(mi.tumours):
        try:
            tumours.append(_surface_solid(occ, t.surface) if t.surface is not None else _tumour_solid(occ, t, X, Y, Z))
        except Exception as exc:
            if type(exc) is not Exception:
                raise
            raise GeometryError(f"tumours[{i}]", f"cannot build tumour {t.name!r}: {one_line(exc)}") from None
    covers = [_cover_solid(occ, t, X, Y, Z, mi.tissue.curvature) for t in mi.tumours if has_cover(t)]
    ribs = mi.tissue.ribs
    rib_solids = [occ.addCylinder(x * S, -Y / 2, z * S, 0.0, Y, 0.0, ribs.radius * S)
                  for x, z in mi.tissue.rib_centres()]
    n_base = len(mi.tissue.layer_materials()) - len(mi.tissue.surfaces)
    solid_regions = [n_base + i for i, ts in enumerate(mi.tissue.surfaces) if ts.conformal]
    solids = []
    for i, ts in enumerate(mi.tissue.surfaces):
        if ts.conformal:
            try:
                solids.append(_surface_solid(occ, ts.surface))
            except Exception as exc:
                if type(exc) is not Exception:
                    raise
                raise GeometryError("tissue.image", f"cannot build the surface of {ts.name!r}: {one_line(exc)}") from None
    top = mi.tissue_top
    parts: list[tuple[int, str, bool]] = []        # (tag, contact name, is contact)
    e = mi
    if not e.clamped:
        for n in e.needles:
            for start, vec, active in _needle_parts(n, mi.tissue.size[2], 0.1 * sz.contact[n.name] * S, top):
                parts.append((occ.addCylinder(*start, *vec, n.radius * S), n.name, active))
        for p in e.plates:
            parts.append((_plate_box(occ, p, mi.tissue.size[2], top), p.name, True))
    objects = [(3, t) for t in layers]
    tools = ([(3, t) for t in tumours] + [(3, t) for t in covers] + [(3, t) for t in rib_solids]
             + [(3, t) for t, _, _ in parts] + [(3, t) for t in solids])
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

    # each fragment piece belongs to the input of highest priority that contains it:
    # electrode (removed) > tumour > rib > cover > label-image solid (the later where they
    # nest) > layer; region order as region_names()
    nl, nt, nc, nr = len(layers), len(tumours), len(covers), len(rib_solids)
    bounds = np.cumsum([0, nl, nt, nc, nr, len(parts)])
    rank = {0: 0, 1: 3, 2: 1, 3: 2, 4: 4, 5: 0.5}  # input kind -> priority
    owner: dict[int, tuple[int, int]] = {}       # volume -> (priority, kind, index)
    # several applications: needles stay tissue (they are in the tissue only while their own
    # application fires) and their surfaces become contacts; only what sticks out is removed
    embedded = mi.embedded_needles
    pieces: dict[int, list[int]] = {}            # embedded: volume -> electrode parts it lies in
    for k, dimtags in enumerate(out_map):
        kind = int(np.searchsorted(bounds, k, side="right") - 1)
        key = (rank[kind] + (1e-3 * (k - bounds[kind]) if kind == 5 else 0.0), kind, k - bounds[kind])
        for _, v in dimtags:
            if embedded and kind == 4:
                pieces.setdefault(v, []).append(key[2])
                owner.setdefault(v, key)
            elif v not in owner or key[0] > owner[v][0] or (embedded and owner[v][1] == 4):
                owner[v] = key
    # regions: layer regions (an image's labels and tissue surfaces are assigned to cells
    # after meshing, simulator.meshing.relabel: the block is one box then), tumours, covers, ribs
    NL = len(mi.tissue.layer_materials())
    first = {0: 0, 1: NL, 2: NL + nt, 3: NL + nt + nc}
    region_volumes: list[list[int]] = [[] for _ in range(NL + nt + nc + (1 if nr else 0))]
    electrode_vols: dict[int, tuple[str, bool]] = {}
    for v, (_, kind, k) in sorted(owner.items()):
        if kind == 4:
            electrode_vols[v] = parts[k][1:]
        elif kind == 3:                           # every rib is one region
            region_volumes[first[3]].append(v)
        elif kind == 5:                           # a label image's enclosed region: its surface's region
            region_volumes[solid_regions[k]].append(v)
        else:
            region_volumes[first[kind] + k].append(v)
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
        for v, ks in sorted(pieces.items()):                  # embedded: tissue inside a contact
            if v not in tissue:
                continue
            for k in ks:
                if parts[k][2]:
                    found[parts[k][1]] |= {s for _, s in gmsh.model.getBoundary([(3, v)], oriented=False)}
        model.contact_surfaces = {name: sorted(faces) for name, faces in found.items()}
        if electrode_vols:
            occ.remove([(3, v) for v in sorted(electrode_vols)], recursive=True)
            occ.synchronize()
    return model


def _on_plane(gmsh, surface: int, x: float, tol: float) -> bool:
    x0, _, _, x1, _, _ = gmsh.model.getBoundingBox(2, surface)
    return abs(x0 - x) < tol and abs(x1 - x) < tol
