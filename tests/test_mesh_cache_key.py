"""The mesh cache key is derived from the mesher's inputs (issue 10, item 2) and a corrupt
entry is discarded and rebuilt (item 3)."""
from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import pytest

from simulator.meshing import cache as mesh_cache
from simulator.meshing.inputs import MeshInput, mesh_input
from simulator.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
BASE = {"tissue": {"size_mm": [30, 30, 15]}, "protocol": {"voltage_V": 100}}


def load(**parts):
    return scenario_from_dict({**BASE, **parts})


def test_needle_rows_and_custom_needles_at_the_same_places_do_not_share_an_entry():
    # the attack's repro: same names and positions, electrode distance 8 mm vs 2 mm
    rows = load(electrode={"type": "needle-rows", "row_gap_mm": 8, "needles_per_row": 2, "pitch_mm": 2})
    needles = [{"name": n.name, "position_mm": [n.position[0] * 1e3, n.position[1] * 1e3],
                "insertion_depth_mm": n.insertion_depth * 1e3} for n in rows.electrode.needles]
    custom = load(electrode={"type": "needles", "needles": needles})
    assert custom.electrode.contacts == rows.electrode.contacts
    assert custom.electrode.distance != rows.electrode.distance
    assert mesh_cache.mesh_key(rows) != mesh_cache.mesh_key(custom)


def _perturbed(value):
    """A changed copy of a leaf value."""
    if isinstance(value, bool):
        yield not value
    elif isinstance(value, (int, float)):
        yield value * 1.001 + 1e-7 if isinstance(value, float) else value + 1
    elif isinstance(value, str):
        yield value + "x"
    elif value is None:
        yield 1e-3


def _variants(value):
    """(path, variant) pairs with one leaf changed, flattening the helper's nesting."""
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            for path, v in _variants(getattr(value, f.name)):
                yield f".{f.name}{path}", dataclasses.replace(value, **{f.name: v})
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            for path, v in _variants(item):
                yield f"[{i}]{path}", value[:i] + (v,) + value[i + 1:]
    elif isinstance(value, dict):
        for k, item in value.items():
            for path, v in _variants(item):
                yield f"[{k!r}]{path}", {**value, k: v}
    else:
        for v in _perturbed(value):
            yield "", v


@pytest.mark.parametrize("electrode, tumours", [
    ({"type": "needle-pair", "tilt_deg": 5, "insulated_length_mm": 1}, [{"diameter_mm": 4, "depth_mm": 5}]),
    ({"type": "plates", "gap_mm": 8, "length_mm": 10, "depth_mm": 5},
     [{"shape": "ellipsoid", "semi_axes_mm": [2, 3, 1.5], "depth_mm": 4, "margin_mm": 0.5}]),
], ids=["needles", "plates"])
def test_every_field_of_the_mesh_input_changes_the_key(electrode, tumours):
    sc = load(electrode=electrode, tumours=tumours, mesh={"contact_size_mm": 0.3, "far_size_mm": 4})
    mi = mesh_input(sc)
    base = mesh_cache.mesh_key(mi)
    paths = []
    for path, variant in _variants(mi):
        assert isinstance(variant, MeshInput)
        assert mesh_cache.mesh_key(variant) != base, path
        paths.append(path)
    # the record covers what the size field and the geometry read
    for needed in (".tissue.size[0]", ".tissue.layers[1].thickness", ".tissue.layers[0].material",
                   ".tumours[0].centre[2]", ".tumours[0].margin", ".tumours[0].name", ".tumours[0].material",
                   ".electrode_distance", ".sizes.size", ".sizes.far", ".clamped", ".algorithm_3d"):
        assert needed in paths, (needed, paths)
    assert any(p.startswith(".sizes.contact[") for p in paths)
    assert any(p.startswith(".contacts[1].") for p in paths)


EDITS = {
    "tissue size": {"tissue": {"size_mm": [30, 31, 15]}},
    "layer thickness": {"tissue": {"size_mm": [30, 30, 15], "layers": [
        {"material": "skin", "thickness_mm": 1.6}, {"material": "fat", "thickness_mm": 4.0}, {"material": "muscle"}]}},
    "layer material": {"tissue": {"size_mm": [30, 30, 15], "layers": [
        {"material": "skin", "thickness_mm": 1.5}, {"material": "liver", "thickness_mm": 4.0}, {"material": "muscle"}]}},
    "tumour diameter": {"tumours": [{"diameter_mm": 4.1, "depth_mm": 5}]},
    "tumour depth": {"tumours": [{"diameter_mm": 4, "depth_mm": 5.1}]},
    "tumour centre": {"tumours": [{"diameter_mm": 4, "depth_mm": 5, "centre_mm": [0.1, 0]}]},
    "tumour margin": {"tumours": [{"diameter_mm": 4, "depth_mm": 5, "margin_mm": 1.5}]},
    "tumour name": {"tumours": [{"diameter_mm": 4, "depth_mm": 5, "name": "lesion"}]},
    "tumour material": {"tumours": [{"diameter_mm": 4, "depth_mm": 5, "material": "tumour-gosmart"}]},
    "needle spacing": {"electrode": {"type": "needle-pair", "spacing_mm": 7.4}},
    "needle diameter": {"electrode": {"type": "needle-pair", "needle_diameter_mm": 0.6}},
    "needle depth": {"electrode": {"type": "needle-pair", "insertion_depth_mm": 9}},
    "needle tilt": {"electrode": {"type": "needle-pair", "tilt_deg": 3}},
    "needle insulation": {"electrode": {"type": "needle-pair", "insulated_length_mm": 1}},
    "electrode rotation": {"electrode": {"type": "needle-pair", "rotation_deg": 10}},
    "mesh size": {"mesh": {"size_mm": 1.1}},
    "contact size": {"mesh": {"contact_size_mm": 0.2}},
    "far size": {"mesh": {"far_size_mm": 4}},
}


def test_every_geometric_and_mesh_scenario_field_changes_the_key():
    base = {"tissue": {"size_mm": [30, 30, 15]}, "tumours": [{"diameter_mm": 4, "depth_mm": 5}],
            "electrode": {"type": "needle-pair"}}
    keys = {"base": mesh_cache.mesh_key(load(**base))}
    for what, edit in EDITS.items():
        keys[what] = mesh_cache.mesh_key(load(**{**base, **edit}))
    assert len(set(keys.values())) == len(keys), keys
    # inputs the mesher does not read leave the key alone (a cache hit is still possible)
    assert mesh_cache.mesh_key(load(**base, name="other")) == keys["base"]
    assert mesh_cache.mesh_key(scenario_from_dict({**BASE, **base, "protocol": {"voltage_V": 300}})) == keys["base"]


def test_the_mesher_reads_only_the_mesh_input():
    """Only inputs.py turns a scenario into mesher inputs (size_field.sizes is its helper);
    geometry, extraction, messages and the child process never see a Scenario."""
    meshing = ROOT / "simulator" / "meshing"
    for name in ("geometry.py", "extract.py", "blame.py", "child.py", "session.py", "model.py", "mesh.py"):
        text = (meshing / name).read_text()
        assert not re.search(r"^\s*(from|import) simulator\.scenario", text, re.M), name
        assert "scenario." not in text, name


# ----------------------------------------------------------------------------- corruption
@pytest.fixture(scope="module")
def small_scenario():
    return load(tissue={"size_mm": [16, 16, 8], "layers": [{"material": "muscle"}]},
                electrode={"type": "needle-pair", "spacing_mm": 6, "insertion_depth_mm": 5},
                mesh={"size_mm": 2.0})


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1:]


@pytest.mark.parametrize("damage", ["truncated", "bit-flip-data", "bit-flip-header", "empty"])
def test_a_corrupt_entry_is_discarded_with_a_warning_and_rebuilt(damage, small_scenario, tmp_path,
                                                                monkeypatch, caplog):
    monkeypatch.setenv("EPSIM_CACHE_DIR", str(tmp_path))
    m1, hit1 = mesh_cache.cached_build_mesh(small_scenario)
    (entry,) = tmp_path.glob("mesh-*.npz")
    good = entry.read_bytes()
    bad = {"truncated": good[:len(good) // 2],
           "bit-flip-data": _flip(good, good.index(b"points") + 400),     # inside the points array
           "bit-flip-header": _flip(good, 0),
           "empty": b""}[damage]
    entry.write_bytes(bad)
    with caplog.at_level(logging.WARNING, logger="simulator.meshing.cache"):
        m2, hit2 = mesh_cache.cached_build_mesh(small_scenario)
    assert (hit1, hit2) == (False, False)
    assert m2.digest() == m1.digest()
    assert any("corrupt mesh cache entry" in r.getMessage() for r in caplog.records)
    assert mesh_cache.load_mesh(entry).digest() == m1.digest()         # rebuilt and rewritten
    assert mesh_cache.cached_build_mesh(small_scenario)[1] is True
