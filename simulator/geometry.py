"""Geometry -> tetrahedral mesh with gmsh OpenCASCADE (design.md section 4).

The tissue block is a stack of layer boxes; tumours are ellipsoids; needles (cylinders,
optionally with an insulated shaft) and plates (thin boxes) are cut out of the tissue so
that their surfaces become named contacts. Everything is fragmented in one call, so the
mesh is conformal; a piece that belongs to a tumour and a layer is tumour, a piece that
belongs to an electrode is removed. The model is built in millimetres (OpenCASCADE's
tolerances suit that scale) and the mesh is returned in metres.

gmsh is a process-wide singleton: it lives inside :func:`gmsh_session`, which always
finalizes and serialises callers with a lock.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from electrodes.contacts import Needle, Plate

from .errors import GeometryError, ScenarioError
from .mesh import Mesh, Region
from .scenario import Scenario

log = logging.getLogger(__name__)

S = 1.0e3                 # model units (mm) per metre
ALGORITHM_3D = 10         # HXT: deterministic when single-threaded (tests check), fast
ALGORITHM_2D = 6          # Frontal-Delaunay
RANDOM_SEED = 1
GROWTH = 0.35             # element size growth per unit distance away from fine zones
ANGULAR_GROWTH = 0.5      # near a needle: growth <= this x contact_size / radius
_LOCK = threading.Lock()


# ----------------------------------------------------------------------------- session
@contextlib.contextmanager
def gmsh_session(verbose: bool = False) -> Iterator[object]:
    """Initialise gmsh (no config files, no signal handler), always finalize."""
    import gmsh

    with _LOCK:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
        _restore_python_signal_handlers()
        try:
            gmsh.option.setNumber("General.Terminal", 1 if verbose else 0)
            gmsh.option.setNumber("General.Verbosity", 5 if verbose else 0)
            gmsh.option.setNumber("General.NumThreads", 1)
            for key in ("Mesh.MaxNumThreads1D", "Mesh.MaxNumThreads2D", "Mesh.MaxNumThreads3D"):
                gmsh.option.setNumber(key, 1)
            yield gmsh
        finally:
            gmsh.finalize()
            # give the heap freed by gmsh back to the OS (glibc keeps it otherwise: ~0.5 GB
            # of a 6e6-cell mesh stayed in the process through the solve)
            from .resources import release_freed_memory
            release_freed_memory()


def _restore_python_signal_handlers() -> None:
    """gmsh.initialize installs C-level signal handlers (SIGTERM then kills the process
    outright, skipping cleanup; the CLI's exit 143 and its "nothing left behind" depend on
    Python's handler). Re-installing Python's own handlers puts them back."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if handler is not None:
            signal.signal(sig, handler)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


# ----------------------------------------------------------------------------- sizes
@dataclass(frozen=True)
class Sizes:
    """Element sizes, m."""

    size: float
    far: float
    contact: dict[str, float]


def sizes(scenario: Scenario) -> Sizes:
    """Element size in the fine zone, far away, and at each contact (m)."""
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
    return Sizes(opts.size, far, contact)


def region_names(scenario: Scenario) -> list[Region]:
    """Regions in mesh order: layers (index = layer index) then tumours (index = tumour index)."""
    mats = [layer.material for layer in scenario.tissue.layers]
    regions = [Region(m if mats.count(m) == 1 else f"{m}{i}", "layer", m, i) for i, m in enumerate(mats)]
    taken = {r.name for r in regions}
    for i, t in enumerate(scenario.tumours):
        if t.name in taken:
            raise ScenarioError(f"tumours[{i}].name", f"tumour name {t.name!r} is also a tissue layer's name")
        regions.append(Region(t.name, "tumour", t.material, i))
    return regions


# ----------------------------------------------------------------------------- geometry
@dataclass
class _Model:
    """What the OCC build produced: gmsh tags per region and per contact."""

    region_volumes: list[list[int]]
    contact_surfaces: dict[str, list[int]] = field(default_factory=dict)


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


def _build(gmsh, scenario: Scenario, sz: Sizes) -> _Model:
    occ = gmsh.model.occ
    X, Y, Z = (v * S for v in scenario.tissue.size)
    layers = [occ.addBox(-X / 2, -Y / 2, zb * S, X, Y, (zt - zb) * S)
              for zt, zb in scenario.tissue.layer_bounds()]
    tumours = []
    for i, t in enumerate(scenario.tumours):
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
            raise GeometryError(f"tumours[{i}]", f"cannot build tumour {t.name!r}: {_one_line(exc)}") from None
        tumours.append(tag)
    parts: list[tuple[int, str, bool]] = []        # (tag, contact name, is contact)
    e = scenario.electrode
    if not e.clamped:
        for n in e.needles:
            for start, vec, active in _needle_parts(n, scenario.tissue.size[2], 0.1 * sz.contact[n.name] * S):
                parts.append((occ.addCylinder(*start, *vec, n.radius * S), n.name, active))
        for p in e.plates:
            parts.append((_plate_box(occ, p, scenario.tissue.size[2]), p.name, True))
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
        raise GeometryError(_blame(scenario), f"gmsh could not combine {_parts(scenario)}: {_one_line(exc)}") from None

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
    model = _Model(region_volumes)
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


def _blame(scenario: Scenario) -> str:
    if scenario.electrode.contacts and not scenario.electrode.clamped:
        return "electrode"
    return "tumours[0]" if scenario.tumours else "tissue"


def _parts(scenario: Scenario) -> str:
    bits = [f"tissue layers ({len(scenario.tissue.layers)})"]
    bits += [f"tumours[{i}] {t.name!r}" for i, t in enumerate(scenario.tumours)]
    if scenario.electrode.contacts and not scenario.electrode.clamped:
        bits.append(f"electrode {scenario.electrode.type} ({', '.join(scenario.electrode.contact_names)})")
    return ", ".join(bits)


# ----------------------------------------------------------------------------- size fields
def _box_field(fld, lo, hi, vin: float, vout: float, thickness: float) -> int:
    f = fld.add("Box")
    for k, v in zip(("XMin", "YMin", "ZMin", "XMax", "YMax", "ZMax"), (*lo, *hi)):
        fld.setNumber(f, k, float(v))
    fld.setNumber(f, "VIn", vin)
    fld.setNumber(f, "VOut", vout)
    fld.setNumber(f, "Thickness", thickness)
    return f


def _hull(scenario: Scenario) -> tuple[np.ndarray, np.ndarray] | None:
    """Bounding box (mm) of the electrode parts inside the tissue."""
    e = scenario.electrode
    pts = []
    for n in e.needles:
        pts += [n.entry, n.tip]
    for p in e.plates:
        c, s = math.cos(math.radians(p.normal_deg)), math.sin(math.radians(p.normal_deg))
        for u in (-p.thickness / 2, p.thickness / 2):
            for v in (-p.length / 2, p.length / 2):
                for z in (0.0, -p.depth):
                    pts.append((p.centre[0] + c * u - s * v, p.centre[1] + s * u + c * v, z))
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


def _size_fields(gmsh, scenario: Scenario, sz: Sizes, model: _Model) -> None:
    fld = gmsh.model.mesh.field
    h, far = sz.size * S, sz.far * S
    X, Y, Z = (v * S for v in scenario.tissue.size)
    ramp = (far - h) / GROWTH
    fields = []
    hull = _hull(scenario)
    if hull is not None and not scenario.electrode.clamped:
        lo, hi = hull
        # the field varies over about the electrode distance around the needles (a pair has
        # no width in y otherwise): pad the fine box by half of it
        pad = max(2.0 * h, 0.5 * scenario.electrode.distance * S)
        fields.append(_box_field(fld, lo - pad, hi + pad, h, far, ramp))
    elif scenario.electrode.clamped:
        fields.append(_box_field(fld, (-X, -Y, -2 * Z), (X, Y, Z), h, far, ramp))
    for t in scenario.tumours:
        c, ax = np.asarray(t.centre) * S, np.asarray(t.semi_axes) * S
        pad = max(t.margin * S, h)
        fields.append(_box_field(fld, c - ax - pad, c + ax + pad, h, far, ramp))
    if not scenario.electrode.clamped:
        for c in scenario.electrode.contacts:
            hc = sz.contact[c.name] * S
            if isinstance(c, Needle):
                fields.append(_axis_field(gmsh, c, Z, hc, far))
            else:
                dist = _plate_distance(c)
                fields.append(_math_field(fld, f"min({_n(far)}, {_n(hc)} + {_n(GROWTH)} * max(0, {dist}))"))
    if not fields:
        c = fld.add("MathEval")
        fld.setString(c, "F", _n(far))
        fields.append(c)
    m = fld.add("Min")
    fld.setNumbers(m, "FieldsList", fields)
    fld.setAsBackgroundMesh(m)
    opt = gmsh.option.setNumber
    opt("Mesh.MeshSizeFromPoints", 0)
    opt("Mesh.MeshSizeExtendFromBoundary", 0)
    opt("Mesh.MeshSizeFromCurvature", 0)
    opt("Mesh.MeshSizeMax", far)
    opt("Mesh.MeshSizeMin", 0.5 * min([h] + [v * S for v in sz.contact.values()]))


# ----------------------------------------------------------------------------- mesh
def _mesh_options(gmsh) -> None:
    opt = gmsh.option.setNumber
    opt("Mesh.Algorithm", ALGORITHM_2D)
    opt("Mesh.Algorithm3D", ALGORITHM_3D)
    opt("Mesh.RandomSeed", RANDOM_SEED)
    opt("Mesh.Optimize", 1)
    opt("Mesh.ElementOrder", 1)


def _signed6(points: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """Six times the signed volume of each tetrahedron."""
    p0 = points[tets[:, 0]]
    a, b, c = (points[tets[:, k]] - p0 for k in (1, 2, 3))
    return (a[:, 0] * (b[:, 1] * c[:, 2] - b[:, 2] * c[:, 1]) - a[:, 1] * (b[:, 0] * c[:, 2] - b[:, 2] * c[:, 0])
            + a[:, 2] * (b[:, 0] * c[:, 1] - b[:, 1] * c[:, 0]))


_BLOCK = 1 << 17     # cells per block (bounds the temporaries of the orientation check)


def _extract(gmsh, regions: list[Region], model: _Model) -> Mesh:
    """The Mesh from gmsh's arrays: nodes renumbered in sorted gmsh-tag order (only the nodes
    of tetrahedra), positively oriented tets (int32 while the node count allows).

    Memory: gmsh still holds its own mesh here, so every tet block is mapped to int32 node
    ranks as soon as gmsh hands it over (its uint64 copy dropped), and the orientation is
    checked in blocks; no (M, 4) int64 copies, no (M, 3) float temporaries."""
    node_tags, coords, _ = gmsh.model.mesh.getNodes()
    node_tags = np.asarray(node_tags, dtype=np.int64)
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
    n_all = len(node_tags)
    it = np.int32 if n_all < 2**31 - 1 else np.int64
    top = int(node_tags.max()) + 1 if n_all else 1
    order = np.argsort(node_tags, kind="stable")               # positions in sorted tag order
    rank = np.full(top, -1, dtype=it)                            # gmsh tag -> rank among all tags
    rank[node_tags[order]] = np.arange(n_all, dtype=it)
    del node_tags
    tet_blocks, reg_blocks = [], []
    for r, vols in enumerate(model.region_volumes):
        for v in vols:
            types, _, nodes = gmsh.model.mesh.getElements(3, v)
            for etype in types:
                if etype != 4:
                    raise GeometryError("mesh", f"unexpected element type {etype} in volume {v}")
            while nodes:
                en = nodes.pop(0)
                tet_blocks.append(rank[np.asarray(en).reshape(-1, 4)])
                del en
                reg_blocks.append(np.full(len(tet_blocks[-1]), r, dtype=np.int32))
    if not tet_blocks:
        raise GeometryError("tissue", "the mesh has no tetrahedra")
    tets = np.concatenate(tet_blocks) if len(tet_blocks) > 1 else tet_blocks[0]
    del tet_blocks
    cell_region = np.concatenate(reg_blocks)
    mask = np.zeros(n_all, dtype=bool)
    mask[tets] = True
    used = np.flatnonzero(mask)                                # ranks = sorted gmsh tags
    del mask
    points = coords[order[used]] / S
    del coords, order
    if len(used) < n_all:                                      # nodes of no tetrahedron: drop
        renum = np.full(n_all + 1, -1, dtype=it)               # [-1] maps unknown tags to -1
        renum[used] = np.arange(len(used), dtype=it)
        tets = renum[tets]
        rank = renum[rank]
        del renum
    del used
    for a in range(0, len(tets), _BLOCK):
        blk = tets[a:a + _BLOCK]                               # a view: swapped in place
        neg = np.flatnonzero(_signed6(points, blk) < 0)
        blk[neg, 2], blk[neg, 3] = blk[neg, 3], blk[neg, 2].copy()
    facets: dict[str, np.ndarray] = {}
    for name, surfaces in model.contact_surfaces.items():
        blocks = []
        for s in surfaces:
            types, _, nodes = gmsh.model.mesh.getElements(2, s)
            for etype, en in zip(types, nodes):
                if etype == 2:
                    blocks.append(rank[np.asarray(en, dtype=np.int64).reshape(-1, 3)].astype(np.int64))
        f = np.concatenate(blocks) if blocks else np.zeros((0, 3), dtype=np.int64)
        if (f < 0).any():
            raise GeometryError("electrode", f"contact {name!r} has nodes not attached to the tissue mesh")
        facets[name] = f
    return Mesh(points, tets, cell_region, tuple(regions), facets)


def _run(gmsh, scenario: Scenario, sz: Sizes, regions: list[Region], say: Callable[[str], None]) -> Mesh:
    gmsh.model.add("epsim")
    _mesh_options(gmsh)
    say("meshing: building geometry")
    model = _build(gmsh, scenario, sz)
    for r, vols in zip(regions, model.region_volumes):
        if vols:
            gmsh.model.addPhysicalGroup(3, vols, name=r.name)
    for name, surfaces in model.contact_surfaces.items():
        if surfaces:
            gmsh.model.addPhysicalGroup(2, surfaces, name=name)
    _size_fields(gmsh, scenario, sz, model)
    try:
        say("meshing: surfaces")
        gmsh.model.mesh.generate(2)
        say("meshing: volumes")
        gmsh.model.mesh.generate(3)
    except Exception as exc:
        if type(exc) is not Exception:
            raise
        raise GeometryError(_blame(scenario), f"gmsh could not mesh {_parts(scenario)}: {_one_line(exc)}") from None
    return _extract(gmsh, regions, model)


def build_mesh(scenario: Scenario, progress: Callable[[str], None] | None = None) -> Mesh:
    """Mesh a scenario's tissue, tumours and electrode contacts (see module docstring).

    Raises :class:`GeometryError` (one line, naming the parts) when gmsh fails or a
    contact ends up with no facets.
    """
    say = progress or (lambda _msg: None)
    sz = sizes(scenario)
    regions = region_names(scenario)
    with gmsh_session(verbose=bool(os.environ.get("EPSIM_GMSH_VERBOSE"))) as gmsh:
        try:
            mesh = _run(gmsh, scenario, sz, regions, say)
        except Exception as exc:
            if type(exc) is not Exception:            # gmsh raises bare Exception; bugs pass
                raise
            raise GeometryError(_blame(scenario), f"gmsh failed on {_parts(scenario)}: {_one_line(exc)}") from None
    missing = [n for n in scenario.electrode.contact_names if len(mesh.contact_facets.get(n, ())) == 0]
    if missing:
        raise GeometryError("electrode", f"contact(s) {', '.join(missing)} do not touch the tissue mesh "
                            f"({_parts(scenario)})")
    say(f"meshing: {mesh.num_cells} cells, {mesh.num_points} nodes")
    log.debug("mesh %s: %d cells, %d nodes", scenario.name, mesh.num_cells, mesh.num_points)
    return mesh
