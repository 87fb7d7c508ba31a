"""Field files for ParaView: VTU (meshio) and XDMF with raw binary arrays (no h5py).
Coordinates are written in mm. Each file says so, and names its regions and state codes
(VTK field data / XDMF Information: :func:`field_legend`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.solve.result import Result
from pathlib import Path
import numpy as np
from simulator.units import MM, V_PER_CM


def write_field(result: "Result", path: Path) -> None:
    """The field for ParaView, cell data: max |E| (V/cm), sigma (S/m), region, state 0/1/2,
    pulses above E_rev, temperature rise (K), kill probability (with a cell-kill model); point data: potential of the first pulse (V).
    ``.vtu`` (embedded engine) or ``.xdmf`` + raw ``.bin`` arrays (DOLFINx engine), by suffix."""
    from simulator.post.coverage import cell_state
    mesh, tr = result.mesh, result.train
    state = cell_state(tr.E_max, result.E_rev, result.E_irr)
    cell_data = {
        "E_max_V_per_cm": [tr.E_max.max(axis=1) / V_PER_CM],
        "sigma_S_per_m": [tr.sigma_at_max.mean(axis=1)],
        "region": [mesh.cell_region.astype(np.int32)],
        "state": [state.astype(np.int32)],
        "pulses_above_E_rev": [tr.pulses_above_rev.max(axis=1).astype(np.int32)],
        "temperature_rise_K": [tr.temperature_rise.max(axis=1)],
    }
    if result.kill_probability is not None:
        cell_data["kill_probability"] = [result.kill_probability.max(axis=1)]
    point_data = {"potential_first_pulse_V": tr.first_solution.potential}
    legend = field_legend(result)
    if path.suffix == ".xdmf":
        write_xdmf(path, mesh.points / MM, mesh.tets, {k: v[0] for k, v in cell_data.items()}, point_data, legend)
    else:
        write_vtu(path, mesh.points / MM, mesh.tets, {k: v[0] for k, v in cell_data.items()}, point_data, legend)


STATE_LEGEND = ("intact", "reversible", "irreversible")    # state 0 / 1 / 2 (cell's own tissue thresholds)


def field_legend(result: "Result") -> dict[str, int]:
    """What the field file's numbers mean, as named integers (VTK field data / XDMF
    Information): ``coordinates_unit_mm`` = 1, ``region_<id>_<name>`` = id, ``state_<code>_<name>``
    = code; the cell arrays carry their units in their names."""
    legend = {"coordinates_unit_mm": 1}
    for i, r in enumerate(result.mesh.regions):
        legend[f"region_{i}_{r.name}"] = i
    for code, name in enumerate(STATE_LEGEND):
        legend[f"state_{code}_{name}"] = code
    return legend


def legend_comment(legend: dict[str, int]) -> str:
    """One line for humans reading the file's head."""
    regions = ", ".join(k.split("_", 2)[1] + " = " + k.split("_", 2)[2] for k in legend if k.startswith("region_"))
    states = ", ".join(k.split("_", 2)[1] + " = " + k.split("_", 2)[2] for k in legend if k.startswith("state_"))
    text = (f"epsim field: coordinates in mm; region: {regions}; state (against each cell's own tissue "
            f"thresholds): {states}; array names end in their units")
    return text.replace("--", "- -")


def write_vtu(path: Path, points: np.ndarray, tets: np.ndarray, cell_data: dict[str, np.ndarray],
              point_data: dict[str, np.ndarray], legend: dict[str, int] | None = None) -> None:
    """VTK XML unstructured grid, raw appended binary, arrays streamed to the file in blocks.

    (meshio's binary writer base64-encodes whole arrays in memory: ~5x the connectivity's
    size at once, the peak of a 6e6-cell run.) ParaView and meshio read it."""
    M = len(tets)
    blocks: list[tuple[str, int, object]] = []          # (XML tag, bytes, writer)
    offset = 0

    def array(name: str, arr: np.ndarray | None, vtype: str, nbytes: int, writer=None, ncomp: int = 1) -> str:
        nonlocal offset
        if writer is None:
            a = np.ascontiguousarray(arr)
            writer = lambda fh, a=a: a.tofile(fh)   # noqa: E731
        blocks.append((name, nbytes, writer))
        comp = f' NumberOfComponents="{ncomp}"' if ncomp > 1 else ""
        tag = f'<DataArray type="{vtype}" Name="{name}"{comp} format="appended" offset="{offset}"/>'
        offset += 8 + nbytes
        return tag

    def vtk_type(a: np.ndarray) -> str:
        return {"f": "Float", "i": "Int", "u": "UInt"}[a.dtype.kind] + str(8 * a.dtype.itemsize)

    def ranges(fh, make, dtype):
        for a in range(0, M, 1 << 20):
            make(a, min(a + (1 << 20), M)).astype(dtype).tofile(fh)

    conn = np.ascontiguousarray(tets)
    conn = conn.astype("<i8") if conn.dtype.byteorder == ">" else conn
    pts = np.ascontiguousarray(points, dtype="<f8")
    parts = ["<Points>", array("Points", pts, "Float64", pts.nbytes, ncomp=3), "</Points>", "<Cells>",
             array("connectivity", conn, vtk_type(conn), conn.nbytes),
             array("offsets", None, "Int64", 8 * M, lambda fh: ranges(fh, lambda a, b: 4 * np.arange(a + 1, b + 1),
                                                                         "<i8")),
             array("types", None, "UInt8", M, lambda fh: ranges(fh, lambda a, b: np.full(b - a, 10), "u1")),
             "</Cells>", "<PointData>"]
    for k, v in point_data.items():
        v = np.ascontiguousarray(v)
        parts.append(array(k, v, vtk_type(v), v.nbytes))
    parts += ["</PointData>", "<CellData>"]
    for k, v in cell_data.items():
        v = np.ascontiguousarray(v)
        parts.append(array(k, v, vtk_type(v), v.nbytes))
    parts += ["</CellData>"]
    from xml.sax.saxutils import quoteattr
    legend = legend or {}
    field_data = (["<FieldData>"] + [f'<DataArray type="Int32" Name={quoteattr(k)} NumberOfTuples="1" '
                                     f'format="ascii">{v}</DataArray>' for k, v in legend.items()]
                  + ["</FieldData>"]) if legend else []
    comment = [f"<!-- {legend_comment(legend)} -->"] if legend else []
    head = "\n".join(['<?xml version="1.0"?>', *comment,
                      '<VTKFile type="UnstructuredGrid" version="1.0" byte_order="LittleEndian" header_type="UInt64">',
                      "<UnstructuredGrid>", *field_data, f'<Piece NumberOfPoints="{len(pts)}" NumberOfCells="{M}">',
                      *parts,
                      "</Piece>", "</UnstructuredGrid>", '<AppendedData encoding="raw">', "_"])
    with open(path, "wb") as fh:
        fh.write(head.encode())
        for _name, nbytes, writer in blocks:
            fh.write(np.uint64(nbytes).astype("<u8").tobytes())
            fh.flush()
            writer(fh)
        fh.write(b"\n</AppendedData>\n</VTKFile>\n")


def write_xdmf(path: Path, points: np.ndarray, tets: np.ndarray, cell_data: dict[str, np.ndarray],
               point_data: dict[str, np.ndarray], legend: dict[str, int] | None = None) -> None:
    """XDMF 3 with raw little-endian binary DataItems beside it (``<stem>.<name>.bin``).

    Written by hand because meshio's XDMF writer needs h5py, and a PyPI h5py brings its own
    HDF5 that clashes with the HDF5 Debian's DOLFINx has loaded (measured: "ValueError: Not
    a datatype" in the same process). Raw binary needs no HDF5; ParaView reads it.
    """
    stem = path.stem

    def item(name: str, arr: np.ndarray) -> str:
        arr = np.ascontiguousarray(arr)
        kind, prec = ("Float", 8) if arr.dtype.kind == "f" else ("Int", 8)
        arr = arr.astype("<f8" if kind == "Float" else "<i8")
        fname = f"{stem}.{name}.bin"
        arr.tofile(path.parent / fname)
        dims = " ".join(str(d) for d in arr.shape)
        return (f'<DataItem Format="Binary" Endian="Little" NumberType="{kind}" Precision="{prec}" '
                f'Dimensions="{dims}">{fname}</DataItem>')

    attrs = [f'<Attribute Name="{k}" AttributeType="Scalar" Center="Cell">{item(k, v)}</Attribute>'
             for k, v in cell_data.items()]
    attrs += [f'<Attribute Name="{k}" AttributeType="Scalar" Center="Node">{item(k, v)}</Attribute>'
              for k, v in point_data.items()]
    from xml.sax.saxutils import quoteattr
    legend = legend or {}
    from xml.sax.saxutils import escape
    # one Information element: Value says it in words; its text is the legend in meshio's
    # field-data form (<main><map key=.. dim=..>value</map></main>, read as mesh.field_data)
    maps = "".join(f"<map key={quoteattr(k)} dim=\"0\">{v}</map>" for k, v in legend.items())
    info = [f'<Information Name="epsim" Value={quoteattr(legend_comment(legend))}>{escape("<main>" + maps + "</main>")}'
            '</Information>'] if legend else []
    text = "\n".join([
        '<?xml version="1.0"?>',
        '<Xdmf Version="3.0"><Domain><Grid Name="epsim" GridType="Uniform">', *info,
        f'<Topology TopologyType="Tetrahedron" NumberOfElements="{len(tets)}">{item("topology", tets)}</Topology>',
        f'<Geometry GeometryType="XYZ">{item("geometry", points)}</Geometry>',
        *attrs,
        "</Grid></Domain></Xdmf>", ""])
    path.write_text(text, encoding="utf-8")
