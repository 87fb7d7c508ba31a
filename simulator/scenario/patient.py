"""Patient geometry in a scenario: tissue from a segmented label image, or closed surfaces
that assign their material to the tissue inside them."""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from simulator.errors import ScenarioError
from simulator.scenario.records import MAX_BLOCK, Layer, LabelImage, Tissue, TissueSurface
from simulator.scenario.surface_files import read_label_image, read_surface
from simulator.scenario.table import Table, show
from simulator.units import MM

MAX_VOXELS = 256 ** 3
IMAGE_METHODS = ("surfaces", "cells")
MIN_REGION_VOXELS = 27          # smaller enclosed regions stay cell-wise (a 3-voxel cube)


def _enclosed_surfaces(data, voxel, mapping, smooth):
    """(labels with every enclosed region given its surrounding label, one conformal
    TissueSurface per enclosed region): :mod:`simulator.scenario.label_surfaces`."""
    from scipy import ndimage
    from simulator.scenario.label_surfaces import MAX_REGIONS, enclosed_regions, region_surface
    regions = [(lab, m) for lab, m in enclosed_regions(data, mapping) if m.sum() >= MIN_REGION_VOXELS]
    if len(regions) > MAX_REGIONS:
        raise ScenarioError("tissue.image.method", f"{len(regions)} enclosed label regions, at most {MAX_REGIONS} "
                            "as surfaces; merge labels or use method = \"cells\"")
    nx, ny, _ = data.shape
    origin = (-nx * voxel[0] / 2 + voxel[0] / 2, -ny * voxel[1] / 2 + voxel[1] / 2, -voxel[2] / 2)
    back = data.copy()
    out, count = [], {}
    for lab, mask in regions:                              # outer first: inner ones nest in it
        # its voxels take the label of the nearest voxel outside it (a nodule across layers
        # leaves each layer whole under its surface solid)
        _, near = ndimage.distance_transform_edt(mask, return_indices=True)
        back[mask] = back[tuple(ix[mask] for ix in near)]
        try:
            surf = region_surface(mask, (voxel[0], voxel[1], -voxel[2]), origin, smooth)
        except ValueError as exc:
            raise ScenarioError(f"tissue.image.labels.{lab}", f"no closed surface from label {lab}: {exc}; "
                                "use method = \"cells\"") from None
        count[lab] = count.get(lab, 0) + 1
        out.append(TissueSurface(f"{mapping[lab]}-label{lab}-{count[lab]}", mapping[lab], surf, conformal=True))
    return back, out


def read_image_tissue(t: Table, materials, base_dir) -> Tissue:
    """``[tissue] image = { file, labels = { 1 = "skin", ... }, voxel_mm = [vx, vy, vz] }``:
    the block is the image's extent (voxel size from the NIfTI header unless given)."""
    it = Table(t.get("image"), "tissue.image")
    data, header_voxel, sha = read_label_image(it.string("file", required=True), base_dir, "tissue.image")
    voxel = it.vector("voxel_mm", 3, list(header_voxel) if header_voxel else None, positive=True, maximum=100.0)
    if voxel is None:
        raise ScenarioError("tissue.image.voxel_mm", "is required for a .npy label array (NIfTI gives it)")
    raw_labels = it.get("labels")
    if not isinstance(raw_labels, dict) or not raw_labels:
        raise ScenarioError("tissue.image.labels", f"must map label values to materials, got {show(raw_labels)}")
    mapping: dict[int, str] = {}
    for k, v in raw_labels.items():
        try:
            label = int(k)
        except (TypeError, ValueError):
            raise ScenarioError(f"tissue.image.labels.{k}", "label keys must be integers") from None
        if not isinstance(v, str) or v not in materials:
            raise ScenarioError(f"tissue.image.labels.{k}", f"unknown material {v!r}; valid: {', '.join(materials)}")
        mapping[label] = v
    method = it.string("method", "surfaces", choices=IMAGE_METHODS)
    smooth = it.number("smooth_voxels", 1.0, allow_zero=True, maximum=5.0)
    it.finish()
    present = {int(v) for v in np.unique(data).tolist()}
    unknown = sorted(present - set(mapping))
    if unknown:
        raise ScenarioError("tissue.image.labels", f"the image has labels {unknown} that map to no material "
                            f"(mapped: {sorted(mapping)})")
    if data.size > MAX_VOXELS:
        raise ScenarioError("tissue.image.file", f"{data.size} voxels; at most {MAX_VOXELS} (resample it)")
    size = tuple(n * v * MM for n, v in zip(data.shape, voxel))
    if max(size) > MAX_BLOCK:
        raise ScenarioError("tissue.image.voxel_mm", f"the image spans {[round(s / MM, 3) for s in size]} mm, "
                            f"more than {MAX_BLOCK / MM:g} mm")
    for key in ("size_mm", "layers", "layout", "curvature"):
        if t.has(key):
            raise ScenarioError(f"tissue.{key}", "is set by tissue.image (the block is the image)")
    label_solids: list[TissueSurface] = []
    if method == "surfaces":
        data, label_solids = _enclosed_surfaces(data, tuple(v * MM for v in voxel), mapping, smooth)
        present = {int(v) for v in np.unique(data).tolist()}
        sha = hashlib.sha256(sha.encode() + f"{method} {smooth!r}".encode()).hexdigest()
    image = LabelImage(data, tuple(v * MM for v in voxel), {k: mapping[k] for k in sorted(present)}, sha)
    surfaces = tuple(label_solids) + read_tissue_surfaces(t.get("surfaces", []), materials, base_dir)
    t.finish()
    first = image.materials[min(image.materials)]
    return Tissue(size, (Layer(first, None),), "depth", None, image, surfaces)


def read_tissue_surfaces(raw: Any, materials, base_dir) -> tuple[TissueSurface, ...]:
    """``[tissue] surfaces = [ { file, material, units, name } ]``: each closed surface gives
    its material to the tissue inside it (a later surface wins where surfaces nest)."""
    if not isinstance(raw, list):
        raise ScenarioError("tissue.surfaces", f"must be a list of tables, got {show(raw)}")
    out = []
    for i, r in enumerate(raw):
        st = Table(r, f"tissue.surfaces[{i}]")
        mat = st.string("material", required=True)
        if mat not in materials:
            raise ScenarioError(st.key("material"), f"unknown material {mat!r}; valid: {', '.join(materials)}")
        name = st.string("name", f"{mat}-surface{i + 1}")
        surf = read_surface(st.string("file", required=True), st.string("units", "mm"), base_dir, st.path)
        st.finish()
        out.append(TissueSurface(name, mat, surf))
    return tuple(out)
