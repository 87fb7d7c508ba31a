"""Reading closed surfaces (STL, OBJ, PLY, via meshio) and label images (NIfTI via nibabel,
or a NumPy .npy array) named in a scenario. Paths are relative to the scenario file."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from simulator.errors import ScenarioError
from simulator.scenario.closed_surface import ClosedSurface, closed_surface

UNITS = {"mm": 1e-3, "cm": 1e-2, "m": 1.0}
SURFACE_SUFFIXES = (".stl", ".obj", ".ply")
MAX_TRIANGLES = 20_000            # an OCC solid per triangle face: keep segmented surfaces decimated


def resolve(path: str, base_dir: Path | None, field: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    if not p.is_file():
        raise ScenarioError(field, f"file {str(p)!r} does not exist")
    return p


def read_surface(path: str, units: str, base_dir: Path | None, field: str) -> ClosedSurface:
    """A closed surface from a file, in m; one-line errors naming ``field``."""
    import meshio
    p = resolve(path, base_dir, field + ".file")
    if p.suffix.lower() not in SURFACE_SUFFIXES:
        raise ScenarioError(field + ".file", f"{p.name!r}: a surface must be {', '.join(SURFACE_SUFFIXES)}")
    if units not in UNITS:
        raise ScenarioError(field + ".units", f"unknown unit {units!r}; valid: {', '.join(UNITS)}")
    import warnings
    try:
        with warnings.catch_warnings():              # meshio's STL format sniffing overflows harmlessly
            warnings.simplefilter("ignore", RuntimeWarning)
            m = meshio.read(p)
    except Exception as exc:                       # meshio raises many types on bad files
        raise ScenarioError(field + ".file", f"cannot read {p.name!r}: {' '.join(str(exc).split())[:200]}") from None
    tris = [c.data for c in m.cells if c.type == "triangle"]
    if not tris:
        raise ScenarioError(field + ".file", f"{p.name!r} holds no triangles")
    T = np.concatenate(tris).astype(np.int64)
    if len(T) > MAX_TRIANGLES:
        raise ScenarioError(field + ".file", f"{p.name!r} has {len(T)} triangles; decimate it to at most "
                            f"{MAX_TRIANGLES}")
    V = np.asarray(m.points[:, :3], dtype=float) * UNITS[units]
    # merge coincident vertices (STL stores every triangle's corners separately)
    scale = float(np.ptp(V, axis=0).max()) or 1.0
    key = np.round(V / (1e-9 * scale)).astype(np.int64)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    V, T = V[first], inverse.ravel()[T]
    try:
        return closed_surface(V, T)
    except ValueError as exc:
        raise ScenarioError(field + ".file", f"{p.name!r} {exc}") from None


def read_label_image(path: str, base_dir: Path | None, field: str) -> tuple[np.ndarray, tuple | None, str]:
    """(labels (nx, ny, nz) int array, voxel size in mm from the header or None, sha256)."""
    p = resolve(path, base_dir, field + ".file")
    name = p.name.lower()
    if name.endswith(".npy"):
        try:
            data = np.load(p, allow_pickle=False)
        except Exception as exc:
            raise ScenarioError(field + ".file", f"cannot read {p.name!r}: {exc}") from None
        voxel = None
    elif name.endswith((".nii", ".nii.gz")):
        try:
            import nibabel
            img = nibabel.load(str(p))
            data = np.asanyarray(img.dataobj)
            voxel = tuple(float(v) for v in img.header.get_zooms()[:3])
        except ImportError:
            raise ScenarioError(field + ".file", "reading NIfTI needs nibabel: pip install nibabel") from None
        except Exception as exc:
            raise ScenarioError(field + ".file", f"cannot read {p.name!r}: {' '.join(str(exc).split())[:200]}") from None
    else:
        raise ScenarioError(field + ".file", f"{p.name!r}: a label image must be .nii, .nii.gz or .npy")
    if data.ndim != 3 or not np.issubdtype(data.dtype, np.integer):
        raise ScenarioError(field + ".file", f"{p.name!r} must be a 3-D integer label array, got "
                            f"{data.ndim}-D {data.dtype}")
    data = np.ascontiguousarray(data, dtype=np.int32)
    return data, voxel, hashlib.sha256(data.tobytes() + str(data.shape).encode()).hexdigest()
