"""Meshing: volumes, contact areas, names, determinism, special needles, plates, cache."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

from simulator.meshing import size_field

from simulator.meshing import cache as mesh_cache
from simulator.errors import GeometryError
from simulator.meshing.build import build_mesh
from simulator.scenario import scenario_from_dict
from simulator.units import MM

LAYERS = [{"material": "skin", "thickness_mm": 1.5}, {"material": "fat", "thickness_mm": 4.0},
          {"material": "muscle"}]


def scenario(electrode, tumours=(), size=(30, 30, 15), layers=LAYERS, mesh=None):
    return scenario_from_dict({
        "tissue": {"size_mm": list(size), "layers": list(layers)},
        "tumours": list(tumours),
        "electrode": electrode,
        "protocol": {"voltage_V": 100},
        "mesh": {"cache": False, **(mesh or {})},
    })


def region_volume(m, name):
    return float(m.volumes()[m.cell_region == m.region_id(name)].sum())


def contact_area(m, name):
    p = m.points[m.contact_facets[name]]
    return float(0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1).sum())


def signed_volumes(m):
    p = m.points[m.tets]
    return np.einsum("ij,ij->i", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), p[:, 3] - p[:, 0]) / 6


@pytest.fixture(scope="module")
def pair_mesh():
    """Needle pair (7.3 mm, 0.7 mm, 10 mm deep) around a 6 mm tumour at 5 mm, skin/fat/muscle."""
    s = scenario({"type": "needle-pair", "insertion_depth_mm": 10},
                 [{"diameter_mm": 6, "depth_mm": 5}])
    return s, build_mesh(s)


def test_names_orientation_and_numbering(pair_mesh):
    s, m = pair_mesh
    assert [r.name for r in m.regions] == ["skin", "fat", "muscle", "T1"]
    assert [(r.kind, r.index) for r in m.regions] == [("layer", 0), ("layer", 1), ("layer", 2), ("tumour", 0)]
    assert set(m.contact_facets) == {"A", "B"}
    assert m.tets.dtype == np.int32 and m.cell_region.dtype == np.int32 and m.points.dtype == np.float64
    assert (signed_volumes(m) > 0).all()
    assert np.array_equal(np.unique(m.tets), np.arange(m.num_points))      # only used nodes
    assert set(np.unique(m.cell_region)) == {0, 1, 2, 3}
    assert np.abs(m.points[:, 2]).max() <= 15 * MM * (1 + 1e-12) and m.points[:, 2].max() <= 1e-15


def test_volumes_sum_to_block_minus_needles(pair_mesh):
    s, m = pair_mesh
    needles = sum(math.pi * n.radius ** 2 * n.insertion_depth for n in s.electrode.needles)
    block = math.prod(s.tissue.size)
    total = float(m.volumes().sum())
    # the inscribed polygon of ~10-16 facets misses < 7 % of the needle cross-section
    assert abs(total - (block - needles)) < 0.07 * needles
    assert total < block - 0.9 * needles
    top, bottom = s.tissue.layer_bounds()[0]                               # skin: no tumour in it
    skin = (s.tissue.size[0] * s.tissue.size[1] - 2 * math.pi * s.electrode.needles[0].radius ** 2) * (top - bottom)
    assert region_volume(m, "skin") == pytest.approx(skin, rel=1e-4)


def test_needle_contact_area(pair_mesh):
    s, m = pair_mesh
    for n in s.electrode.needles:
        exact = 2 * math.pi * n.radius * n.insertion_depth + math.pi * n.radius ** 2
        area = contact_area(m, n.name)
        assert area == pytest.approx(exact, rel=0.03), n.name
        # every contact node is on the needle surface
        d = np.linalg.norm(m.points[m.contact_nodes(n.name)][:, :2] - np.asarray(n.position), axis=1)
        assert d.max() <= n.radius * (1 + 1e-6)


def _sphere_error(size_mm):
    s = scenario({"type": "plates", "gap_mm": 10, "length_mm": 12, "depth_mm": 10}, [{"diameter_mm": 6, "depth_mm": 5}],
                 size=(10, 12, 10), layers=[{"material": "muscle"}], mesh={"size_mm": size_mm})
    m = build_mesh(s)
    return abs(region_volume(m, "T1") / s.tumours[0].volume - 1)


def test_tumour_volume_converges():
    """The meshed sphere's volume error at three element sizes: a fitted order near 2 (a
    polyhedron inscribed in a sphere misses ~ h^2 of its volume)."""
    sizes = (1.4, 1.0, 0.7)
    errors = [_sphere_error(h) for h in sizes]
    order = float(np.polyfit(np.log(sizes), np.log(errors), 1)[0])
    print("sphere r = 3 mm volume error: " + ", ".join(f"{e:.2%} (h={h} mm)" for h, e in zip(sizes, errors))
          + f"; fitted order {order:.2f}")
    assert 1.7 <= order <= 2.3
    assert errors[-1] < 0.025


def test_deterministic():
    s = scenario({"type": "needle-pair", "insertion_depth_mm": 8, "tilt_deg": 10},
                 [{"diameter_mm": 5, "depth_mm": 4}])
    assert build_mesh(s).digest() == build_mesh(s).digest()


def test_tumour_crossing_layers_is_one_region():
    # ellipsoid centred 1.5 mm deep on the skin/fat boundary, reaching 1 mm below the skin
    s = scenario({"type": "needle-pair", "spacing_mm": 12, "insertion_depth_mm": 8},
                 [{"shape": "ellipsoid", "semi_axes_mm": [3, 2.5, 1.0], "depth_mm": 2.0}],
                 mesh={"size_mm": 0.5})
    m = build_mesh(s)
    assert [r.name for r in m.regions].count("T1") == 1
    cells = m.cell_region == m.region_id("T1")
    z = m.centroids()[cells][:, 2]
    assert (z > -1.5 * MM).any() and (z < -1.5 * MM).any()
    assert region_volume(m, "T1") == pytest.approx(s.tumours[0].volume, rel=0.03)


def test_needle_through_tumour():
    s = scenario({"type": "needle-pair", "spacing_mm": 4, "insertion_depth_mm": 10},
                 [{"diameter_mm": 8, "depth_mm": 6}], mesh={"size_mm": 0.7})
    m = build_mesh(s)
    r, R = 0.35 * MM, 4 * MM
    chord = 2 * math.sqrt(R ** 2 - (2 * MM) ** 2)                          # needle x = +-2 mm
    expected = s.tumours[0].volume - 2 * math.pi * r ** 2 * chord
    assert region_volume(m, "T1") == pytest.approx(expected, rel=0.03)
    tumour_nodes = np.unique(m.tets[m.cell_region == m.region_id("T1")])
    for name in ("A", "B"):                                                 # contact touches tumour
        assert np.isin(m.contact_nodes(name), tumour_nodes).sum() > 20


def test_needle_longer_than_block_passes_through():
    s = scenario({"type": "needle-pair", "insertion_depth_mm": 10}, size=(20, 20, 5),
                 layers=[{"material": "muscle"}])
    m = build_mesh(s)
    Z = s.tissue.size[2]
    for n in s.electrode.needles:
        f = m.contact_facets[n.name]
        assert not np.all(np.isclose(m.points[f][:, :, 2], -Z), axis=1).any()    # no bottom cap
        assert contact_area(m, n.name) == pytest.approx(2 * math.pi * n.radius * Z, rel=0.03)
        assert m.points[m.contact_nodes(n.name)][:, 2].min() == pytest.approx(-Z)


def test_tilted_insulated_needle():
    s = scenario({"type": "needle-pair", "insertion_depth_mm": 10, "tilt_deg": 30, "tilt_azimuth_deg": 90,
                  "insulated_length_mm": 2})
    m = build_mesh(s)
    for n in s.electrode.needles:
        active = n.insertion_depth - n.insulated_length
        exact = 2 * math.pi * n.radius * active + math.pi * n.radius ** 2
        assert contact_area(m, n.name) == pytest.approx(exact, rel=0.03)
        rel = m.points[m.contact_nodes(n.name)] - n.entry
        t = rel @ n.axis
        radial = np.linalg.norm(rel - np.outer(t, n.axis), axis=1)
        assert radial.max() <= n.radius * (1 + 1e-6)
        assert t.min() == pytest.approx(n.insulated_length, abs=1e-9)
        assert t.max() == pytest.approx(n.insertion_depth, abs=1e-9)


def test_rotated_plates():
    s = scenario({"type": "plates", "gap_mm": 8, "length_mm": 10, "depth_mm": 5, "thickness_mm": 0.5,
                  "rotation_deg": 30}, [{"diameter_mm": 4, "depth_mm": 3}])
    m = build_mesh(s)
    for p in s.electrode.plates:
        exact = 2 * p.length * p.depth + 2 * p.thickness * p.depth + p.length * p.thickness
        assert contact_area(m, p.name) == pytest.approx(exact, rel=1e-9)


def test_clamped_plates_are_block_faces():
    s = scenario({"type": "plates", "gap_mm": 8, "length_mm": 20, "depth_mm": 10}, size=(8, 20, 10))
    assert s.electrode.clamped
    m = build_mesh(s)
    X, Y, Z = s.tissue.size
    for name, x in (("A", -X / 2), ("B", X / 2)):
        assert np.allclose(m.points[m.contact_nodes(name)][:, 0], x)
        assert contact_area(m, name) == pytest.approx(Y * Z, rel=1e-9)
    assert float(m.volumes().sum()) == pytest.approx(X * Y * Z, rel=1e-9)


def test_gmsh_failure_is_one_line_geometry_error(monkeypatch):
    import gmsh

    s = scenario({"type": "needle-pair"}, [{"diameter_mm": 4, "depth_mm": 3}])

    def boom(*args, **kwargs):
        raise Exception("Boolean operation failed\nsecond line")

    with monkeypatch.context() as mp:
        mp.setattr(gmsh.model.occ, "fragment", boom)
        with pytest.raises(GeometryError) as info:
            build_mesh(s)
    assert info.value.field == "electrode" and "\n" not in str(info.value)
    assert "T1" in str(info.value) and "Boolean operation failed" in str(info.value)
    assert not gmsh.isInitialized()
    assert build_mesh(s).num_cells > 0                                      # gmsh usable again


def test_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EPSIM_CACHE_DIR", str(tmp_path))
    s = scenario({"type": "needle-pair", "insertion_depth_mm": 8}, [{"diameter_mm": 5, "depth_mm": 4}],
                 mesh={"cache": True})
    t0 = time.perf_counter()
    m1, hit1 = mesh_cache.cached_build_mesh(s)
    t1 = time.perf_counter()
    m2, hit2 = mesh_cache.cached_build_mesh(s)
    t2 = time.perf_counter()
    assert (hit1, hit2) == (False, True)
    assert m1.digest() == m2.digest() and m1.regions == m2.regions
    assert t2 - t1 < 0.5 * (t1 - t0)
    files = list(tmp_path.glob("mesh-*.npz"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp"))
    files[0].write_bytes(b"not a zip file")                                 # corrupt -> rebuilt
    m3, hit3 = mesh_cache.cached_build_mesh(s)
    assert not hit3 and m3.digest() == m1.digest()
    assert mesh_cache.cached_build_mesh(s)[1]
    other = scenario({"type": "needle-pair", "insertion_depth_mm": 8}, [{"diameter_mm": 5, "depth_mm": 4}],
                     mesh={"cache": True, "size_mm": 1.5})
    assert mesh_cache.mesh_key(other) != mesh_cache.mesh_key(s)


def test_cache_disabled(tmp_path, monkeypatch):
    monkeypatch.setenv("EPSIM_CACHE_DIR", str(tmp_path))
    s = scenario({"type": "plates", "gap_mm": 8, "length_mm": 20, "depth_mm": 10}, size=(8, 20, 10))
    assert mesh_cache.cached_build_mesh(s)[1] is False
    assert not list(tmp_path.iterdir())


def test_sizes_defaults():
    s = scenario({"type": "needle-pair", "needle_diameter_mm": 0.7}, mesh={"size_mm": 1.0})
    sz = size_field.sizes(s)
    assert sz.far == pytest.approx(5 * MM)
    assert sz.contact["A"] == pytest.approx(2 * math.pi * 0.35 * MM / 10)
