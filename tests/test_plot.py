"""Figures and coverage tables (simulator.output.figures): exact pixel location, files, sizes, CSV."""
from __future__ import annotations

import csv
import math
import struct
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from electrodes.contacts import Needle, Plate                       # noqa: E402
from simulator.output import figures as plot  # noqa: E402
from simulator.meshing.mesh import Mesh, Region                             # noqa: E402
from simulator.solve.pipeline import run                                  # noqa: E402
from simulator.scenario import scenario_from_dict                   # noqa: E402
from structured import box_mesh                                     # noqa: E402

L = 0.01                                    # m, cube side


def _centred_box(n=(8, 8, 8), jitter=0.0, tumour=True, seed=0) -> Mesh:
    """box_mesh moved to x, y in [-L/2, L/2] (the scenario's block), regions muscle / T1."""
    centre = np.array([0.0, 0.0, -0.005])
    region_of = (lambda c: (np.linalg.norm(c - centre - [L / 2, L / 2, 0], axis=1) < 0.002)) if tumour else None
    m = box_mesh((L, L, L), n, region_of)
    pts = m.points - [L / 2, L / 2, 0.0]
    if jitter:
        rng = np.random.default_rng(seed)
        h = L / max(n)
        interior = (np.abs(pts[:, :2]) < L / 2 - 1e-12).all(axis=1) & (pts[:, 2] < -1e-12) & (pts[:, 2] > -L + 1e-12)
        pts[interior] += rng.uniform(-jitter * h, jitter * h, (interior.sum(), 3))
    regions = (Region("muscle", "layer", "muscle", 0),) + ((Region("T1", "tumour", "tumour", 0),) if tumour else ())
    return Mesh(pts, m.tets, m.cell_region, regions, m.contact_facets)


def _scenario(tumour=True):
    d = {"name": "box-plates", "tissue": {"size_mm": [10, 10, 10], "layers": [{"material": "muscle"}]},
         "electrode": {"type": "plates", "gap_mm": 10.0, "length_mm": 10.0, "depth_mm": 10.0},
         "protocol": {"voltage_V": 1000.0, "pulses": 8}}
    if tumour:
        d["tumours"] = [{"diameter_mm": 4.0, "depth_mm": 5.0, "margin_mm": 1.0}]
    return scenario_from_dict(d)


@pytest.fixture(scope="module")
def result():
    return run(_scenario(), mesh=_centred_box())


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _brute_force(mesh: Mesh, x: np.ndarray, tol=1e-9) -> list[set[int]]:
    """For each point, the set of cells containing it (all cells tested)."""
    P = mesh.points[mesh.tets]
    T = np.transpose(P[:, 1:] - P[:, :1], (0, 2, 1))
    lam = np.einsum("cij,pcj->pci", np.linalg.inv(T), x[:, None, :] - P[None, :, 0])
    inside = (lam >= -tol).all(axis=2) & (lam.sum(axis=2) <= 1 + tol)
    return [set(np.flatnonzero(row)) for row in inside]


# ----------------------------------------------------------------------------- locating
@pytest.mark.parametrize("seed", range(6))
def test_sample_plane_finds_the_containing_cell(seed):
    mesh = _centred_box((4, 5, 3), jitter=0.15, tumour=False, seed=seed)
    rng = np.random.default_rng(100 + seed)
    axis = seed % 3
    lo, hi = mesh.points.min(axis=0), mesh.points.max(axis=0)
    value = rng.uniform(lo[axis], hi[axis])
    iu, iv = (a for a in range(3) if a != axis)
    # windows partly outside the block: those pixels must come back as -1
    ur = (lo[iu] - rng.uniform(0.05, 0.2) * L, rng.uniform(0.5 * (lo[iu] + hi[iu]), hi[iu] + 0.2 * L))
    vr = (rng.uniform(lo[iv] - 0.2 * L, 0.5 * (lo[iv] + hi[iv])), hi[iv] + rng.uniform(0.0, 0.2) * L)
    s = plot.sample_plane(mesh, axis, value, ur, vr, pixels=37)
    U, V = np.meshgrid(s.u, s.v)
    x = np.empty((U.size, 3))
    x[:, axis], x[:, iu], x[:, iv] = value, U.ravel(), V.ravel()
    truth = _brute_force(mesh, x)
    got = s.cell.ravel()
    assert (got >= 0).any() and (got < 0).any()
    for g, t in zip(got, truth):
        assert (g in t) if t else g == -1
    # barycentric coordinates rebuild the pixel centre
    ok = got >= 0
    rebuilt = np.einsum("pk,pkd->pd", s.bary.reshape(-1, 4)[ok], mesh.points[mesh.tets[got[ok]]])
    assert np.allclose(rebuilt, x[ok], atol=1e-12)


def test_sample_plane_is_deterministic_on_shared_faces():
    mesh = _centred_box((4, 4, 4), tumour=False)
    # the plane z = -L/2 is a layer of mesh faces: every pixel sits on a shared face
    a = plot.sample_plane(mesh, 2, -L / 2, (-L / 2, L / 2), (-L / 2, L / 2), pixels=20)
    b = plot.sample_plane(mesh, 2, -L / 2, (-L / 2, L / 2), (-L / 2, L / 2), pixels=20)
    assert (a.cell >= 0).all()
    assert np.array_equal(a.cell, b.cell)
    truth = _brute_force(mesh, np.column_stack([np.meshgrid(a.u, a.v)[0].ravel(),
                                                np.meshgrid(a.u, a.v)[1].ravel(),
                                                np.full(a.cell.size, -L / 2)]))
    assert all(c == min(t) for c, t in zip(a.cell.ravel(), truth))      # lowest index wins


def test_interpolation_is_exact_for_linear_fields():
    mesh = _centred_box((5, 5, 5), jitter=0.1, tumour=False)
    f = 3.0 + mesh.points @ np.array([2.0, -1.0, 0.5])
    s = plot.sample_plane(mesh, 1, 0.0013, (-0.004, 0.004), (-0.009, -0.001), pixels=30)
    U, V = np.meshgrid(s.u, s.v)
    got = s.interpolate(mesh, f)
    assert got.mask.sum() == 0
    assert np.allclose(got, 3.0 + 2.0 * U - 0.0013 + 0.5 * V, atol=1e-12)


def test_recovered_field_keeps_regions_apart():
    mesh = _centred_box((6, 6, 6))
    per_cell = np.where(mesh.cell_region == 1, 5.0, 1.0)
    nodal = plot.recover_nodal(mesh, per_cell)
    used = np.zeros((mesh.num_points, 2), bool)
    used[mesh.tets.ravel(), np.repeat(mesh.cell_region, 4)] = True
    assert np.allclose(nodal[used[:, 0], 0], 1.0) and np.allclose(nodal[used[:, 1], 1], 5.0)
    assert np.isnan(nodal[~used]).all()


def test_sample_plane_speed_on_a_large_mesh():
    mesh = box_mesh((L, L, L), (40, 40, 40))                 # 384 000 cells
    import time
    t = time.perf_counter()
    s = plot.sample_plane(mesh, 1, 0.4 * L, (0, L), (-L, 0))
    assert time.perf_counter() - t < 5.0                     # ~0.2 s measured; generous for CI
    assert (s.cell >= 0).all()


# ----------------------------------------------------------------------------- geometry
def test_needle_and_plate_sections():
    n = Needle("A", (0.001, 0.0), 0.0008, 0.01)
    (poly, ins), = plot._needle_xz(n, 0.0002, 0.001)
    assert not ins
    width = poly[:, 0].max() - poly[:, 0].min()
    assert width == pytest.approx(2 * math.sqrt(0.0004 ** 2 - 0.0002 ** 2))
    assert poly[:, 1].min() == pytest.approx(-0.01) and poly[:, 1].max() == pytest.approx(0.001)
    assert plot._needle_xz(n, 0.0005, 0.001) == []
    ins_needle = replace(n, insulated_length=0.004)
    parts = plot._needle_xz(ins_needle, 0.0, 0.001)
    assert [p[1] for p in parts] == [False, True]
    assert parts[0][0][:, 1].max() == pytest.approx(-0.004)
    # a plate turned by 90 degrees lies along x: its x-interval on y = centre is its length
    p = Plate("A", (0.0, 0.002), 90.0, 0.006, 0.005, 0.0005)
    lo, hi = plot._plate_x_interval(p, 0.002)
    assert (lo, hi) == (pytest.approx(-0.003), pytest.approx(0.003))
    assert plot._plate_x_interval(p, 0.004) is None
    q = Plate("B", (0.003, 0.0), 0.0, 0.006, 0.005, 0.0005)
    assert plot._plate_x_interval(q, 0.001) == (pytest.approx(0.00275), pytest.approx(0.00325))


# ----------------------------------------------------------------------------- figures
def test_plot_slices_writes_field_and_state_pngs(result, tmp_path):
    paths = plot.plot_slices(result, tmp_path / "figs")
    names = [p.name for p in paths]
    assert names[:4] == ["field_xz.png", "state_xz.png", "field_xy.png", "state_xy.png"]
    for p in paths:                                      # canvases sized from the window, whole pixels
        w, h = _png_size(p)
        assert 5.2 * plot.DPI <= w <= 8.2 * plot.DPI and 2.5 * plot.DPI <= h <= 6 * plot.DPI
    again = plot.plot_slices(result, tmp_path / "again")
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]     # deterministic


def test_plot_slices_p2_and_no_tumour(result, tmp_path):
    E = result.train.E_max
    p2 = replace(result, train=replace(result.train, E_max=np.repeat(E, 4, axis=1) * [0.9, 1.0, 1.1, 1.0]))
    assert all(p.exists() for p in plot.plot_slices(p2, tmp_path / "p2"))
    bare = run(_scenario(tumour=False), mesh=_centred_box(tumour=False))
    assert all(p.exists() for p in plot.plot_slices(bare, tmp_path / "bare"))
    plot.write_coverage_csv(bare, tmp_path / "bare.csv")
    assert (tmp_path / "bare.csv").read_text().splitlines()[0] == "threshold_V_per_cm"
    plot.plot_coverage_curves(bare, tmp_path / "bare.png")


def test_coverage_csv(result, tmp_path):
    path = plot.write_coverage_csv(result, tmp_path / "coverage.csv")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["threshold_V_per_cm", "T1"]
    data = np.array(rows[1:], dtype=float)
    assert data[0, 0] == 0.0 and data[-1, 0] == 2000.0 and np.all(np.diff(data[:, 0]) > 0)
    frac = data[:, 1]
    assert frac[0] == 1.0 and np.all(np.diff(frac) <= 0) and np.all((0 <= frac) & (frac <= 1))
    cov = result.tumours[0]
    at_rev = frac[np.searchsorted(data[:, 0], 400.0)]                      # tumour E_rev = 400 V/cm
    assert at_rev == pytest.approx(cov.reversible_fraction, abs=1e-6)


def test_coverage_curves_png(result, tmp_path):
    path = plot.plot_coverage_curves(result, tmp_path / "coverage.png")
    assert _png_size(path) == (round(5.6 * plot.DPI), round(3.9 * plot.DPI))
