"""On-disk cache of meshes, keyed by a hash of the mesher's actual inputs.

The key hashes the whole :class:`~simulator.meshing.inputs.MeshInput` record (the only
thing the mesher reads: tissue, tumours, contacts, electrode distance, element sizes,
algorithms), the source of the meshing modules, the gmsh version and
:data:`MESH_FORMAT_VERSION`. Entries are ``.npz`` files in ``$EPSIM_CACHE_DIR`` (or
``~/.cache/epsim/meshes``), written atomically; an unreadable, truncated or bit-flipped
entry (zip CRC) is discarded with a warning and rebuilt.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np

from simulator.leftovers import CACHE_LEFTOVER, remove_stale
from simulator.meshing import build, size_field
from simulator.meshing.child import build_mesh_isolated
from simulator.meshing.inputs import MeshInput, mesh_input
from simulator.meshing.mesh import Mesh, Region
from simulator.scenario import Scenario

log = logging.getLogger(__name__)

MESH_FORMAT_VERSION = 3       # bump when build_mesh or the file layout changes its output


def cache_dir() -> Path:
    """Where mesh files live: ``$EPSIM_CACHE_DIR`` or ``~/.cache/epsim/meshes``."""
    env = os.environ.get("EPSIM_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "epsim" / "meshes"


def _plain(obj: Any) -> Any:
    """JSON-able form of records (dataclasses -> dicts tagged with their class)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        # records of file data (surfaces, label images) carry the sha256 of their arrays
        hashed = bool(getattr(obj, "sha256", ""))
        out = {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)
               if not (hashed and isinstance(getattr(obj, f.name), np.ndarray))}
        out["__class__"] = type(obj).__name__
        return out
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {"__dict__": [[_plain(k), _plain(v)] for k, v in sorted(obj.items())]}
    if isinstance(obj, np.ndarray):
        return [_plain(v) for v in obj.tolist()]
    if isinstance(obj, float):
        return repr(obj)                              # exact
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    raise TypeError(f"cannot hash {type(obj).__name__}")


def _source_hash() -> str:
    """Hash of the meshing modules' source, so an edited mesher never serves stale meshes."""
    h = hashlib.sha256()
    for f in sorted(Path(build.__file__).parent.glob("*.py")):
        if f.name != "cache.py":
            try:
                h.update(f.read_bytes())
            except OSError:
                pass
    return h.hexdigest()


def mesh_key(source: Scenario | MeshInput) -> str:
    """sha256 of the mesh input record (everything the mesher reads) and of the mesher's version."""
    import gmsh

    mi = source if isinstance(source, MeshInput) else mesh_input(source)
    payload = {
        "format": MESH_FORMAT_VERSION,
        "gmsh": gmsh.__version__,
        "constants": [repr(size_field.GROWTH), repr(size_field.ANGULAR_GROWTH)],
        "code": _source_hash(),
        "input": _plain(mi),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def save_mesh(mesh: Mesh, path: Path, key: str = "") -> None:
    """Write a mesh as ``.npz`` atomically (temp file in the same directory + os.replace)."""
    names = list(mesh.contact_facets)
    arrays = {
        "key": np.array(key),
        "points": mesh.points, "tets": mesh.tets, "cell_region": mesh.cell_region,
        "region_name": np.array([r.name for r in mesh.regions], dtype=str),
        "region_kind": np.array([r.kind for r in mesh.regions], dtype=str),
        "region_material": np.array([r.material for r in mesh.regions], dtype=str),
        "region_index": np.array([r.index for r in mesh.regions], dtype=np.int64),
        "contact_name": np.array(names, dtype=str),
    }
    for i, name in enumerate(names):
        arrays[f"contact_{i}"] = mesh.contact_facets[name]
    if mesh.edges is not None:                      # second-order mesh: its mid-edge nodes
        arrays["edges"], arrays["edge_points"] = mesh.edges, mesh.edge_points
    path.parent.mkdir(parents=True, exist_ok=True)
    # the PID in the name lets a later run remove it if this process is killed (simulator.leftovers)
    fd, tmp = tempfile.mkstemp(prefix=f"{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_mesh(path: Path, key: str | None = None) -> Mesh:
    """Read a mesh written by :func:`save_mesh`; ``ValueError`` if it is not one (or not ``key``)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if key is not None and str(z["key"]) != key:
                raise ValueError("key mismatch")
            regions = tuple(Region(str(n), str(k), str(m), int(i)) for n, k, m, i in zip(
                z["region_name"], z["region_kind"], z["region_material"], z["region_index"]))
            facets = {str(n): np.asarray(z[f"contact_{i}"], dtype=np.int64)
                      for i, n in enumerate(z["contact_name"])}
            points = np.asarray(z["points"], dtype=np.float64)
            it = np.int32 if len(points) < 2**31 - 1 else np.int64      # as geometry._extract
            curved = "edges" in z.files
            mesh = Mesh(points, np.asarray(z["tets"], dtype=it),
                        np.asarray(z["cell_region"], dtype=np.int32), regions, facets,
                        np.asarray(z["edges"], dtype=np.int64) if curved else None,
                        np.asarray(z["edge_points"], dtype=np.float64) if curved else None)
    except (OSError, EOFError, KeyError, ValueError, TypeError, zipfile.BadZipFile, zlib.error) as exc:
        raise ValueError(f"unreadable mesh file {path}: {exc}") from exc
    n = mesh.num_points
    if mesh.num_cells == 0 or mesh.tets.min() < 0 or mesh.tets.max() >= n \
            or mesh.cell_region.min() < 0 or mesh.cell_region.max() >= len(regions) \
            or any(f.size and (f.min() < 0 or f.max() >= n) for f in facets.values()) \
            or (mesh.edges is not None and (mesh.edges.min() < 0 or mesh.edges.max() >= n)):
        raise ValueError(f"inconsistent mesh file {path}")
    return mesh


def cached_build_mesh(scenario: Scenario, progress: Callable[[str], None] | None = None) -> tuple[Mesh, bool]:
    """:func:`simulator.meshing.build.build_mesh` through the cache, meshing in a child process
    (:mod:`~simulator.meshing.child`). Returns (mesh, from_cache)."""
    mi = mesh_input(scenario)
    if not scenario.mesh.cache:
        return build_mesh_isolated(mi, progress), False
    key = mesh_key(mi)
    path = cache_dir() / f"mesh-{key[:32]}.npz"
    remove_stale(path.parent, CACHE_LEFTOVER, folders=False)      # temp files of killed runs
    if path.exists():
        try:
            mesh = load_mesh(path, key)
            log.debug("mesh cache hit %s", path)
            if progress:
                progress(f"meshing: from cache ({mesh.num_cells} cells)")
            return mesh, True
        except ValueError as exc:
            log.warning("discarding and rebuilding a corrupt mesh cache entry: %s", exc)
            with contextlib.suppress(OSError):
                path.unlink()
    mesh = build_mesh_isolated(mi, progress)
    try:
        save_mesh(mesh, path, key)
    except OSError as exc:
        log.warning("cannot write mesh cache %s: %s", path, exc)
    return mesh, False
