"""The volume above a threshold (simulator.post.above): exact clipping of a linear field in a
tet, and a patch recovery that reproduces linear fields per material.

(Its convergence on the two-needle slab against the exact two-wire iso-line is checked in
tests/test_accuracy.py, on the accuracy loop's levels.)
"""
import numpy as np
import pytest
from scipy.spatial import Delaunay

from simulator.meshing.mesh import Mesh, Region
from simulator.post.above import RecoveredField, fraction_above


def test_clipped_fraction_matches_monte_carlo_and_is_continuous():
    rng = np.random.default_rng(1)
    v = np.sort(rng.normal(size=(60, 4)), axis=1)
    t = rng.uniform(v[:, 0] - 0.2, v[:, 3] + 0.2)            # every case k = 0..4 occurs
    k = (v > t[:, None]).sum(axis=1)
    assert set(k.tolist()) == {0, 1, 2, 3, 4}
    lam = rng.dirichlet(np.ones(4), size=100_000)             # uniform points of a tet (barycentric)
    mc = ((lam @ v.T) > t).mean(axis=0)
    assert np.abs(fraction_above(v, t) - mc).max() < 6e-3     # ~4 sigma of the MC estimate (1.6e-3)
    # complement: {f > t} and {-f > -t} split the tet
    assert np.allclose(fraction_above(v, t) + fraction_above(-v[:, ::-1], -t), 1.0, atol=1e-12)
    # continuous where the number of vertices above changes (t crossing a vertex value)
    for i in range(4):
        lo, hi = fraction_above(v, v[:, i] - 1e-9), fraction_above(v, v[:, i] + 1e-9)
        assert np.abs(lo - hi).max() < 1e-6
    # ties: two vertices at 0, two at 1, cut half way: half the volume by symmetry
    assert fraction_above(np.array([[0.0, 0.0, 1.0, 1.0]]), 0.5)[0] == pytest.approx(0.5, abs=1e-15)


def box_mesh(n: int = 7, seed: int = 2) -> Mesh:
    """Delaunay tets of a jittered n^3 grid in the unit cube; two materials split at x = 0.5."""
    rng = np.random.default_rng(seed)
    g = np.linspace(0.0, 1.0, n)
    p = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)
    inner = np.all((p > 0) & (p < 1), axis=1)
    p[inner] += rng.uniform(-0.3, 0.3, size=(inner.sum(), 3)) / (n - 1)
    tets = Delaunay(p).simplices.astype(np.int64)
    d = p[tets]
    vol = np.linalg.det(d[:, 1:] - d[:, :1])
    tets[vol < 0] = tets[vol < 0][:, [1, 0, 2, 3]]
    region = (p[tets].mean(axis=1)[:, 0] > 0.5).astype(np.int32)
    return Mesh(p, tets, region, (Region("a", "layer", "a", 0), Region("b", "layer", "b", 1)))


def test_recovery_reproduces_a_linear_field_per_material():
    mesh = box_mesh()
    g = {0: np.array([3.0, -1.0, 2.0]), 1: np.array([-2.0, 4.0, 0.5])}
    c0 = {0: 10.0, 1: 20.0}
    cen = mesh.centroids()
    E = np.array([c0[r] + g[r] @ x for r, x in zip(mesh.cell_region, cen)])[:, None]
    field = RecoveredField(mesh, E, mesh.volumes()[:, None])
    corners = field.corners(np.arange(mesh.num_cells))
    exact = np.array([[c0[r] + g[r] @ mesh.points[i] for i in tet] for r, tet in zip(mesh.cell_region, mesh.tets)])
    err = np.abs(corners - exact)
    # exact (to roundoff) at every vertex whose same-material patch spans 3-D; the others
    # (box corners, thin one-sided patches on the interface) keep the plain patch average
    assert np.mean(err < 1e-9) > 0.9, np.mean(err < 1e-9)
    assert err.max() < 1.0                                     # the averages: within a cell's variation
    # the interface keeps its jump: a vertex on both sides has two different values
    both = np.intersect1d(mesh.tets[mesh.cell_region == 0], mesh.tets[mesh.cell_region == 1])
    assert both.size and np.all(np.abs(field.nodal[2 * both] - field.nodal[2 * both + 1]) > 1.0)


def test_volume_above_is_smooth_in_the_threshold_and_matches_the_plane_cut():
    """A field linear in x, one material: the volume above t is the slab x >= (t - c) / g of
    the cube, to the few boundary vertices that keep the average."""
    mesh = box_mesh(seed=3)
    mesh = Mesh(mesh.points, mesh.tets, np.zeros(mesh.num_cells, dtype=np.int32), (Region("a", "layer", "a", 0),))
    E = (5.0 + 2.0 * mesh.centroids()[:, 0])[:, None]
    field = RecoveredField(mesh, E, mesh.volumes()[:, None])
    ts = np.linspace(5.3, 6.7, 57)
    vols = np.array([field.volume_above(t).sum() for t in ts])
    assert np.abs(vols - (1.0 - (ts - 5.0) / 2.0)).max() < 1e-3           # whole cells: 2e-2
    assert np.all(np.diff(vols) < 0) and np.abs(np.diff(vols, 2)).max() < 1e-3   # cells: 2e-2 jumps
    # the curve of fractions is the same measure
    assert field.fractions_above(ts[::8], np.ones(mesh.num_cells, bool)) == pytest.approx(vols[::8] / field.volume.sum())


def p2_samples(mesh: Mesh, f) -> np.ndarray:
    """(M, 4) values of f(x) (x (K, 3) m) at the P2 sample points of each straight cell."""
    from simulator.engines.base import P2_SAMPLE_BARYCENTRIC
    x = np.einsum("qv,mvx->mqx", P2_SAMPLE_BARYCENTRIC, mesh.points[mesh.tets])
    return f(x.reshape(-1, 3)).reshape(-1, 4)


def test_p2_field_keeps_each_cells_linear_field_and_cuts_it_exactly():
    """A field linear in x sampled at the four P2 points of each cell: the corner values are
    exact at every vertex (boundary and interface ones too: nothing is averaged), and the
    volume above t is the slab of the cube to round-off (the patch recovery of cell means:
    1e-3, test above). Different slopes per material stay two fields on the interface."""
    mesh = box_mesh(seed=3)
    slope = np.where(mesh.cell_region == 0, 2.0, 3.0)[:, None]
    E = 5.0 + slope * p2_samples(mesh, lambda x: x[:, 0])
    field = RecoveredField(mesh, E, np.repeat(mesh.volumes()[:, None] / 4, 4, axis=1))
    exact = 5.0 + slope * mesh.points[mesh.tets][:, :, 0]
    assert np.abs(field.corners(np.arange(mesh.num_cells)) - exact).max() < 1e-12
    one = Mesh(mesh.points, mesh.tets, np.zeros(mesh.num_cells, dtype=np.int32), (Region("a", "layer", "a", 0),))
    field = RecoveredField(one, 5.0 + 2.0 * p2_samples(one, lambda x: x[:, 0]),
                           np.repeat(one.volumes()[:, None] / 4, 4, axis=1))
    ts = np.linspace(5.3, 6.7, 15)
    vols = np.array([field.volume_above(t).sum() for t in ts])
    assert np.abs(vols - (1.0 - (ts - 5.0) / 2.0)).max() < 1e-12
    assert field.fractions_above(ts, np.ones(one.num_cells, bool)) == pytest.approx(vols / field.volume.sum())


@pytest.mark.parametrize("contact_mm", [0.4, 0.2, 0.14])
def test_p2_volume_of_the_two_wire_field_is_within_1_percent(contact_mm):
    """Two needles through a slab (linear gel, tests/test_accuracy.py), curved P2, one mesh of
    2.8-15k cells: the reversible volume against L x area{|E| >= E_rev} of the exact field.
    Measured: -0.13 / -0.48 / -0.06 % (+17.1 / +7.3 / +4.8 % with the patch recovery of the
    cell means that P2 used before; P1 on the same cells +18 / +14 / +8.6 %)."""
    from test_accuracy import exact_volume_above, two_wire
    from simulator.scenario import scenario_from_dict
    from simulator.solve.pipeline import run
    r = run(scenario_from_dict(two_wire(contact_size_mm=contact_mm, accuracy=0, order=2) | {"solver": {"degree": 2}}))
    assert r.volumes["reversible"] / exact_volume_above() - 1 == pytest.approx(0.0, abs=0.01)


def _numpy_recovery(mesh, nm, mat, E):
    """The patch recovery written out in numpy (the pre-compiled implementation of
    post.above._Patches and its nodal values): the reference of the compiled loops."""
    tets, pts, vol = mesh.tets, mesh.points, mesh.volumes()
    size = mesh.num_points * nm
    keys = (tets.astype(np.int64) * nm + mat[:, None]).ravel()
    dx = (pts[tets].mean(axis=1)[:, None, :] - pts[tets]).reshape(-1, 3)
    v = np.repeat(vol, 4)
    pairs = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))
    cols = [v, *(v * dx[:, i] for i in range(3)), *(v * dx[:, i] * dx[:, j] for i, j in pairs)]
    acc = np.array([np.bincount(keys, weights=c, minlength=size) for c in cols])
    used = acc[0] > 0
    W = acc[0][used]
    xbar = np.zeros((size, 3))
    xbar[used] = (acc[1:4, used] / W).T
    C = np.empty((W.size, 3, 3))
    for (i, j), row in zip(pairs, acc[4:10, used]):
        C[:, i, j] = C[:, j, i] = row / W - xbar[used, i] * xbar[used, j]
    lam = np.linalg.eigvalsh(C)
    ok = lam[:, 0] > 1e-3 * lam[:, 2]
    y = np.zeros((size, 3))
    yu = np.zeros((W.size, 3))
    yu[ok] = np.linalg.solve(C[ok], xbar[used][ok][..., None])[..., 0]
    y[used] = yu
    winv = np.zeros(size)
    winv[used] = 1.0 / W
    w = v * winv[keys] * (1.0 - np.einsum("ci,ci->c", dx - xbar[keys], y[keys]))
    e = np.repeat(E, 4)
    raw = np.bincount(keys, weights=w * e, minlength=size)
    lo, hi = np.full(size, np.inf), np.full(size, -np.inf)
    np.minimum.at(lo, keys, e)
    np.maximum.at(hi, keys, e)
    out = np.zeros(size)
    out[used] = np.clip(raw[used], lo[used], hi[used])
    return out


def test_patch_weights_are_kept_per_mesh_and_equal_the_uncached_recovery(monkeypatch):
    """The recovery is linear in the cell values with weights of the mesh alone: a second
    field on the same mesh reuses them (one build); the per-field path (a mesh above
    CACHED_CELLS) gives the same values; both equal a numpy reference of the compiled loops
    (post.patch_kernels) to round-off."""
    import simulator.post.above as above

    mesh = box_mesh(seed=5)
    rng = np.random.default_rng(3)
    built = []
    real = above._Patches.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        real(self, *args, **kwargs)
    monkeypatch.setattr(above._Patches, "__init__", counting)
    E1, E2 = rng.uniform(1, 5, size=(mesh.num_cells, 1)), rng.uniform(1, 5, size=(mesh.num_cells, 1))
    f1 = RecoveredField(mesh, E1, mesh.volumes()[:, None])
    f2 = RecoveredField(mesh, E2, mesh.volumes()[:, None])
    assert built == [1]                                         # one build for both fields
    monkeypatch.setattr(above, "CACHED_CELLS", 0)
    g2 = RecoveredField(mesh, E2, mesh.volumes()[:, None])      # rebuilt for this field
    assert built == [1, 1]
    assert np.array_equal(g2.nodal, f2.nodal)
    ref = _numpy_recovery(mesh, f2._nm, f2._mat, E2[:, 0])
    assert np.abs(f2.nodal - ref).max() <= 1e-12 * np.abs(ref).max()
    assert np.abs(f1.nodal - f2.nodal).max() > 0.1              # the fields do differ
    # the values are limited to the patch ranges: within [min, max] of the cells around
    lo = np.full(f2.nodal.size, np.inf)
    keys = f2._keys(np.arange(mesh.num_cells)).ravel()
    np.minimum.at(lo, keys, np.repeat(E2[:, 0], 4))
    used = np.isfinite(lo)
    assert np.all(f2.nodal[used] >= lo[used] - 1e-12)


def _numpy_fraction(v, t):
    """The closed form of fraction_above in NumPy (the formula before it was compiled)."""
    t = np.broadcast_to(np.asarray(t, dtype=float), v.shape[:1])
    v1, v2, v3, v4 = v.T
    k = (v > t[:, None]).sum(axis=1)
    out = (k == 4).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        d, a = v4 - t, t - v1
        one = d / (v4 - v1) * d / (v4 - v2) * d / (v4 - v3)
        three = 1.0 - a / (v2 - v1) * a / (v3 - v1) * a / (v4 - v1)
        s13, s14, s23, s24 = a / (v3 - v1), a / (v4 - v1), (t - v2) / (v3 - v2), (t - v2) / (v4 - v2)
        two = (1 - s13) * (1 - s23) + s13 * (1 - s23) * (1 - s14) + s23 * (1 - s14) * (1 - s24)
    out = np.where(k == 1, one, np.where(k == 3, three, np.where(k == 2, two, out)))
    return np.clip(out, 0.0, 1.0)


def test_compiled_fractions_and_volumes_equal_the_numpy_formula():
    """fraction_above and RecoveredField.volume_above (compiled: corners gathered and sorted
    per cell) give the NumPy closed form's bits, ties and whole cells included."""
    rng = np.random.default_rng(5)
    v = np.sort(rng.random((20000, 4)), axis=1)
    v[:4] = [[0, 0, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], [0, 0.5, 0.5, 1]]
    t = rng.random(20000)
    assert np.array_equal(fraction_above(v, t), _numpy_fraction(v, t))
    assert np.array_equal(fraction_above(v, 0.5), _numpy_fraction(v, 0.5))
    mesh = box_mesh(seed=7)
    x = mesh.centroids()
    x = (x - x.min(axis=0)) / np.ptp(x, axis=0)              # 0..1 across the box
    E = (3e4 + 3e4 * x[:, 0] + 1e4 * np.sin(6 * x[:, 1]))[:, None]
    f = RecoveredField(mesh, E, mesh.volumes()[:, None])
    for th in (3e4, 5e4, 6e4):
        want = f.volume * _numpy_fraction(np.sort(f.corners(slice(None)), axis=1), th)
        got = f.volume_above(th)
        assert np.array_equal(got, want) and 0 < got.sum() < f.volume.sum()
    some = np.arange(0, mesh.num_cells, 3)
    ths = np.linspace(3e4, 7e4, some.size)
    assert np.array_equal(f.volume_above(ths, some),
                          f.volume[some] * _numpy_fraction(np.sort(f.corners(some), axis=1), ths))
