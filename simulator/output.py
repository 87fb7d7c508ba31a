"""Writing a run's outputs: all or nothing.

Files go to a temporary directory beside the target and are renamed into place only when
complete, so an interrupted or failed run leaves no partial output.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from .errors import ScenarioError
from .units import V_PER_CM

if TYPE_CHECKING:
    from .pipeline import Result


def safe_name(name: str) -> str:
    """A file-name-safe slug of a scenario name (never a path: no separators, no dots first)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    return slug[:80] or "scenario"


def check_target(out_dir: Path, force: bool) -> None:
    """Refuse to overwrite an existing output directory without ``force``, or to write where
    we cannot (checked before any work is done, so a long run does not fail at the end)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ScenarioError("--out", f"{str(out_dir)!r} exists and is not a directory")
    if out_dir.exists() and not force:
        raise ScenarioError("--out", f"output directory {str(out_dir)!r} exists; use --force to replace it")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "report.json").is_file():
        # --force replaces earlier outputs only: never a home or project directory by mistake
        raise ScenarioError("--out", f"{str(out_dir)!r} is not empty and holds no report.json (not an epsim "
                                     "output); refusing to replace it even with --force")
    parent = out_dir.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ScenarioError("--out", f"cannot create {str(out_dir)!r}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ScenarioError("--out", f"cannot create {str(out_dir)!r}: no write permission in {str(parent)!r}")


@contextmanager
def atomic_directory(out_dir: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces ``out_dir``, on failure it vanishes."""
    out_dir = Path(out_dir)
    check_target(out_dir, force)
    tmp = out_dir.parent / f".{out_dir.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as exc:
        raise ScenarioError("--out", f"cannot create {str(out_dir)!r}: {exc.strerror}") from None
    trash = None
    try:
        yield tmp
        if out_dir.exists():
            trash = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out_dir, trash)
            os.replace(tmp, out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if trash is not None and trash.exists():   # interrupted mid-swap
            if out_dir.exists():
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.replace(trash, out_dir)          # keep the old output
        raise


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def write_field(result: "Result", path: Path) -> None:
    """The field for ParaView, cell data: max |E| (V/cm), sigma (S/m), region, state 0/1/2,
    pulses above E_rev, temperature rise (K); point data: potential of the first pulse (V).
    ``.vtu`` (embedded engine) or ``.xdmf`` + raw ``.bin`` arrays (DOLFINx engine), by suffix."""
    from .coverage import cell_state
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
    point_data = {"potential_first_pulse_V": tr.first_solution.potential}
    if path.suffix == ".xdmf":
        write_xdmf(path, mesh.points * 1e3, mesh.tets, {k: v[0] for k, v in cell_data.items()}, point_data)
    else:
        write_vtu(path, mesh.points * 1e3, mesh.tets, {k: v[0] for k, v in cell_data.items()}, point_data)


def write_vtu(path: Path, points: np.ndarray, tets: np.ndarray, cell_data: dict[str, np.ndarray],
              point_data: dict[str, np.ndarray]) -> None:
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
    head = "\n".join(['<?xml version="1.0"?>',
                      '<VTKFile type="UnstructuredGrid" version="1.0" byte_order="LittleEndian" header_type="UInt64">',
                      "<UnstructuredGrid>", f'<Piece NumberOfPoints="{len(pts)}" NumberOfCells="{M}">', *parts,
                      "</Piece>", "</UnstructuredGrid>", '<AppendedData encoding="raw">', "_"])
    with open(path, "wb") as fh:
        fh.write(head.encode())
        for _name, nbytes, writer in blocks:
            fh.write(np.uint64(nbytes).astype("<u8").tobytes())
            fh.flush()
            writer(fh)
        fh.write(b"\n</AppendedData>\n</VTKFile>\n")


def write_xdmf(path: Path, points: np.ndarray, tets: np.ndarray, cell_data: dict[str, np.ndarray],
               point_data: dict[str, np.ndarray]) -> None:
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
    text = "\n".join([
        '<?xml version="1.0"?>',
        '<Xdmf Version="3.0"><Domain><Grid Name="epsim" GridType="Uniform">',
        f'<Topology TopologyType="Tetrahedron" NumberOfElements="{len(tets)}">{item("topology", tets)}</Topology>',
        f'<Geometry GeometryType="XYZ">{item("geometry", points)}</Geometry>',
        *attrs,
        "</Grid></Domain></Xdmf>", ""])
    path.write_text(text, encoding="utf-8")


def write_outputs(result: "Result", out_dir: Path, *, force: bool = False, figures: bool = True) -> list[Path]:
    """report.json, field.vtu, coverage.csv/png (with tumours) and slice PNGs, atomically."""
    report = result.report()
    with atomic_directory(out_dir, force) as tmp:
        write_json(tmp / "report.json", report)
        write_field(result, tmp / ("field.xdmf" if result.engine == "dolfinx" else "field.vtu"))
        from . import plot
        if result.tumours:
            plot.write_coverage_csv(result, tmp / "coverage.csv")
        if figures:
            if result.tumours:
                plot.plot_coverage_curves(result, tmp / "coverage.png")
            plot.plot_slices(result, tmp)
        names = sorted(p.name for p in tmp.iterdir())
    return [Path(out_dir) / n for n in names]
