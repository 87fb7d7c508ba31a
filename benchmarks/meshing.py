"""Meshing-speed cases (issue 16): mesh only, no solve.

* ``mesh-chest-wall``: examples/chest_wall_recurrence.toml (skin / fat / muscle over ribs,
  two nodules, one protruding, hexagonal electrode) meshed from scratch; target < 30 s.
* ``mesh-label-image-128``: a 128^3-voxel label image (0.3125 mm voxels, a 40 mm cube:
  skin 1.25 mm, fat 3.125 mm, muscle, and an 8 mm nodule label 5 mm deep) with a needle
  pair, label image to mesh; target < 60 s on 2 cores.

``python -m benchmarks.runner mesh-chest-wall OUT.json`` runs one of them alone.
"""
from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHEST_WALL = ROOT / "examples" / "chest_wall_recurrence.toml"
LABEL_N = 128
LABEL_VOXEL_MM = 40.0 / LABEL_N
TARGET_S = {"mesh-chest-wall": 30.0, "mesh-label-image-128": 60.0}


def label_image(n: int = LABEL_N, voxel_mm: float = LABEL_VOXEL_MM) -> np.ndarray:
    """Labels (n, n, n): 1 skin, 2 fat, 3 muscle by depth (k = 0 at the skin), 4 a sphere of
    8 mm diameter centred 5 mm deep on the axis."""
    k = (np.arange(n) + 0.5) * voxel_mm                          # depth of voxel centres, mm
    lab = np.where(k < 1.25, 1, np.where(k < 4.375, 2, 3)).astype(np.int32)
    img = np.broadcast_to(lab[None, None, :], (n, n, n)).copy()
    c = (np.arange(n) + 0.5) * voxel_mm - n * voxel_mm / 2
    x, y, z = np.meshgrid(c, c, -k, indexing="ij")
    img[x * x + y * y + (z + 5.0) ** 2 <= 4.0 ** 2] = 4
    return img


def label_image_scenario(npy: Path) -> dict:
    return {"name": "bench-label-image-128",
            "tissue": {"image": {"file": str(npy), "voxel_mm": [LABEL_VOXEL_MM] * 3,
                                 "labels": {"1": "skin", "2": "fat", "3": "muscle", "4": "tumour"}}},
            "electrode": {"type": "needle-pair", "spacing_mm": 7.3, "insertion_depth_mm": 10.0},
            "protocol": {"preset": "esope"}, "mesh": {"size_mm": 1.0, "cache": False, "accuracy": 0}}


def run_mesh_case(name: str) -> dict:
    """Read the scenario, then time :func:`simulator.meshing.build.build_mesh` (no cache)."""
    import os
    from simulator.meshing.build import build_mesh
    from simulator.scenario import load_scenario, scenario_from_dict
    from .runner import environment
    with tempfile.TemporaryDirectory(prefix="epsim-bench-") as tmp:
        t0 = time.perf_counter()
        if name == "mesh-chest-wall":
            scenario = load_scenario(CHEST_WALL)
        else:
            npy = Path(tmp) / "labels.npy"
            np.save(npy, label_image())
            scenario = scenario_from_dict(label_image_scenario(npy))
        t_read = time.perf_counter() - t0
        cpu0 = time.process_time()
        t = time.perf_counter()
        mesh = build_mesh(scenario)
        t_mesh = time.perf_counter() - t
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    vols = {r.name: float(v) * 1e9 for r, v in zip(mesh.regions, np.bincount(
        mesh.cell_region, weights=mesh.volumes(), minlength=len(mesh.regions)))}
    return {"name": name, "kind": "mesh", "cells": int(mesh.num_cells), "points": int(mesh.num_points),
            "times_s": {"read": round(t_read, 3), "mesh": round(t_mesh, 3)},
            "cpu_s": round(time.process_time() - cpu0 + kids.ru_utime + kids.ru_stime, 3),
            "target_s": TARGET_S[name], "within_target": bool(t_mesh < TARGET_S[name]),
            "region_volumes_mm3": {k: round(v, 3) for k, v in vols.items()},
            "memory_mb": {"peak": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)},
            "load_average_1min": environment()["load_average_1min"], "pid": os.getpid()}
