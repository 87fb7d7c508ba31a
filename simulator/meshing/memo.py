"""Field-independent quantities kept per mesh: a study's every point, and every figure of one
run, asks for the same cell centroids, volumes, contact slivers and tumour + margin regions.

``per_mesh(fn)`` keeps ``fn(mesh, *args)`` weakly per mesh object (dropped with the mesh),
keyed by the other arguments (hashable ones as they are, arrays by a digest of their bytes),
for meshes of up to ``CACHED_CELLS`` cells (memory: ~24-100 bytes per cell each). Arrays in
a kept result are made read-only, so a caller that would modify one fails loudly instead of
changing every later result. Measured (hexagonal 10-point voltage sweep, one thread): the
tumour + margin region was computed twice per point (coverage and diagnosis), 0.8 s of 41 s.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import threading
import weakref

import numpy as np

CACHED_CELLS = 1 << 20      # [memory] meshes above this many cells recompute every time
_STORE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _key(value):
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape,
                hashlib.sha1(np.ascontiguousarray(value).tobytes()).hexdigest())
    return value


def _frozen(value):
    """``value`` with its arrays (itself, or a dataclass's array fields) made read-only."""
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            part = getattr(value, f.name)
            if isinstance(part, np.ndarray):
                part.setflags(write=False)
    return value


def per_mesh(fn):
    """Decorator: ``fn(mesh, *args)`` computed once per mesh and arguments (module docstring).
    Arguments that cannot be hashed (nor are arrays) bypass the memo."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def kept(mesh, *args):
        if mesh.num_cells > CACHED_CELLS:
            return fn(mesh, *args)
        try:
            key = (name,) + tuple(_key(a) for a in args)
            hash(key)
        except TypeError:
            return fn(mesh, *args)
        with _LOCK:
            table = _STORE.setdefault(mesh, {})
            if key in table:
                return table[key]
        value = _frozen(fn(mesh, *args))
        with _LOCK:
            return table.setdefault(key, value)
    return kept
