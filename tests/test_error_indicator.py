"""The error-equidistributing size map (issue 11, item 3; simulator.post.error_indicator):
a ZZ indicator per cell, a size map that refines where it is large and coarsens where it is
small, replacing the scenario's size field on the accuracy loop's levels >= 1.

* On the exact two-needle case (tests/test_accuracy.py), the loop in this mode: the
  Richardson estimate (levels' h from their DOFs) brackets the true current error
  (effectivity in [0.5, 3]) at every level that has one, and the current is within 2 %.
* The map refines at the contacts (1/r field) and coarsens somewhere (far from them).
* Same input, same map and same loop, bit for bit.
"""
import dataclasses

import numpy as np
import pytest

from simulator.meshing.cache import mesh_key
from simulator.physics.analytic import two_wire_current
from simulator.post.error_indicator import (EDGE_PER_SIZE, RATIO_MAX, RATIO_MIN, vertex_sizes,
                                            zz_indicator)
from simulator.post.above import RecoveredField
from simulator.scenario import scenario_from_dict
from simulator.solve import accuracy
from simulator.solve.accuracy import estimate, indicator_sizes
from simulator.solve.pipeline import run
from test_accuracy import A, D, L, SIGMA, U, exact_volume_above, two_wire


@pytest.fixture(scope="module")
def level0():
    return run(scenario_from_dict(two_wire(accuracy=0)))


def test_indicator_is_zero_for_a_field_the_recovery_reproduces(level0):
    """eta_K^2 = sigma int_K (E_rec - E_K)^2: zero when the cell values are one constant,
    and the closed form equals a quadrature of the linear difference."""
    mesh = level0.mesh
    w = np.ones((mesh.num_cells, 1)) * 1e-9
    flat = RecoveredField(mesh, np.full((mesh.num_cells, 1), 3e4), w)
    assert np.abs(zz_indicator(flat, np.full(mesh.num_cells, 3e4), np.full(mesh.num_cells, 0.2))).max() < 1e-12
    fld = level0.recovered_field()
    E = level0.train.E_max[:, 0]
    eta2 = zz_indicator(fld, E, np.ones(mesh.num_cells))
    # exact for quadratics on a tet: the 4-point rule (a = 0.5854101966249685)
    a, b = 0.5854101966249685, 0.1381966011250105
    lam = np.full((4, 4), b) + np.eye(4) * (a - b)
    d = fld.corners(np.arange(mesh.num_cells)) - E[:, None]
    quad = fld.volume * ((d @ lam.T) ** 2).mean(axis=1)
    assert eta2 == pytest.approx(quad, rel=1e-9, abs=1e-30)


def test_map_refines_at_the_contacts_and_coarsens_elsewhere(level0):
    """The loop's map (accuracy.indicator_sizes: the goal-weighted indicator) over 3x the
    cells: finer at every contact vertex facing the other needle (where the current
    crowds; the far side of a needle sees a weaker field, and a smaller error), finer at the
    contacts than elsewhere, and coarser far from the needles; the cell count it predicts
    is the one asked for."""
    mesh = level0.mesh
    cells = mesh.num_cells
    sm, count = indicator_sizes(level0, 3.0 * cells, 0.02)
    assert count == pytest.approx(3.0 * cells, rel=1e-3)
    ratio = sm.size * EDGE_PER_SIZE / vertex_sizes(mesh)        # wanted edge / edge now
    on_contact = np.unique(np.concatenate([np.asarray(f).ravel() for f in mesh.contact_facets.values()]))
    facing = on_contact[np.abs(mesh.points[on_contact, 0]) < D / 2]
    off = np.setdiff1d(np.arange(mesh.num_points), on_contact)
    far = np.flatnonzero(np.abs(mesh.points[:, :2]).max(axis=1) > 10e-3)     # > 10 mm from the centre
    print(f"ratio at contact vertices: median {np.median(ratio[on_contact]):.3f}, facing the other needle max "
          f"{ratio[facing].max():.3f}; elsewhere: median {np.median(ratio[off]):.3f}, beyond 10 mm: median "
          f"{np.median(ratio[far]):.3f}; coarsened {np.mean(ratio > 1):.1%} of the vertices")
    # the facing contact vertices refine (all but a few: the map from the exact error, README,
    # asks 0.50-0.74 x there, this one 0.50-1.04 x, 90 % of them below 0.88 x)
    assert facing.size > 20 and np.percentile(ratio[facing], 90) < 0.95 and np.median(ratio[facing]) < 0.8
    assert np.median(ratio[on_contact]) < 0.9 * np.median(ratio[off])
    assert np.median(ratio[far]) > 1.2                  # and far away it coarsens
    assert RATIO_MIN - 1e-9 <= ratio.min() and ratio.max() <= RATIO_MAX + 1e-9
    sc = level0.scenario
    fine = dataclasses.replace(sc, mesh=dataclasses.replace(sc.mesh, size_map=sm))
    assert sm.replace and mesh_key(fine) != mesh_key(sc)


def test_map_is_deterministic(level0):
    a, _ = indicator_sizes(level0, 40000.0, 0.02)
    again = run(scenario_from_dict(two_wire(accuracy=0)))
    b, _ = indicator_sizes(again, 40000.0, 0.02)
    assert a.sha256 == b.sha256 and np.array_equal(a.size, b.size)


@pytest.fixture(scope="module")
def indicator_run():
    """The default target with the size map (the default mode), capped at 40,000 DOFs to keep
    the test fast (three levels; uncapped it goes on to 76,873 DOFs), twice."""
    mp = pytest.MonkeyPatch()
    mp.setattr(accuracy, "INDICATOR", True)
    try:
        yield [run(scenario_from_dict(two_wire(max_dofs=40000))) for _ in range(2)]
    finally:
        mp.undo()


def test_indicator_loop_estimate_brackets_the_true_error(indicator_run):
    """The estimates over the map's levels (accuracy.richardson_levels) within 0.5-3x the
    true error, for the current and the reversible volume; the level-1 estimate (across
    level 0's graded mesh and the map's, only used to size the next level) may overstate,
    never understate (effectivity >= 1)."""
    res = indicator_run[0]
    acc = res.accuracy
    levels = acc.levels
    exact_I, exact_V = two_wire_current(D, A, U, SIGMA, L), exact_volume_above()
    rows = []
    for k in range(2, len(levels) + 1):
        figs = estimate(levels[:k], 0.02)
        rows.append((levels[k - 1].dofs, figs["current[0]"].error / abs(levels[k - 1].currents[0] - exact_I),
                     figs["volumes.reversible"].error / abs(levels[k - 1].volumes["reversible"] - exact_V)))
    print("indicator mode: DOFs, effectivity current, reversible volume:", rows,
          "current errors", [lv.currents[0] / exact_I - 1 for lv in levels],
          "volume errors", [lv.volumes["reversible"] / exact_V - 1 for lv in levels])
    assert acc.mode == "indicator" and len(levels) >= 3
    assert [lv.mapped for lv in levels] == [False] + [True] * (len(levels) - 1)
    assert rows[0][1] >= 1.0 and rows[0][2] >= 1.0     # level 1: across the two families
    for dofs, eff_I, eff_V in rows[1:]:
        assert 0.5 <= eff_I <= 3.0, (dofs, eff_I)
        assert 0.5 <= eff_V <= 3.0, (dofs, eff_V)
    assert abs(res.train.groups[0].current / exact_I - 1) < 0.02 and acc.figures["current[0]"].met
    # h from the DOFs (non-uniform meshes)
    assert [lv.size for lv in levels[1:]] == pytest.approx(
        [levels[0].size * (levels[0].dofs / lv.dofs) ** (1 / 3) for lv in levels[1:]], rel=1e-12)


def test_indicator_loop_repeats_bit_for_bit(indicator_run):
    a, b = indicator_run

    def figures(r):
        return [dataclasses.astuple(lv)[:4] + dataclasses.astuple(lv)[5:] for lv in r.accuracy.levels]
    assert figures(a) == figures(b)
    assert np.array_equal(a.train.E_max, b.train.E_max)


def test_the_cap_leaves_no_worthwhile_room_unused(monkeypatch):
    """A level the DOF cap would refuse is planned at 0.9 x the cap instead when that is at
    least twice the last level (accuracy.CAP_FILL / CAP_GAIN): the loop never stops by the cap
    while such room is left, and no level passes the cap. Two-wire at a 20,000 cap: level 2
    predicted at ~27,000 DOFs stopped the loop at 3,407 DOFs; now a level under the cap runs.
    (Seen on the needle-pair example: stopped at 95,920 DOFs with the next level predicted at
    ~518,000, two volumes and both coverages over their targets; its 445,050-DOF level under
    the rule meets them all.)"""
    from simulator.solve.accuracy import CAP_FILL, CAP_GAIN
    monkeypatch.setattr(accuracy, "INDICATOR", True)
    acc = run(scenario_from_dict(two_wire(max_dofs=20000))).accuracy
    dofs = [lv.dofs for lv in acc.levels]
    assert len(dofs) >= 3 and all(d <= 20000 for d in dofs) and dofs == sorted(dofs), dofs
    if acc.stopped_by == "max_dofs":
        assert CAP_FILL * 20000 < CAP_GAIN * dofs[-1], dofs
    else:
        assert acc.met, (acc.stopped_by, dofs)
