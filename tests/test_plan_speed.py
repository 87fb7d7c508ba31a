"""The plan's speed-ups (simulator.studies.warm, tiling): Newton started from another
voltage of the same configuration (continuation) or from the single application's field
moved onto a session's mesh gives the same answer as a cold start with fewer Newton
iterations; the tiling is searched fewest applications first; the count bound from one
application's run never exceeds a count that covers, and grows when the voltage drops."""
import numpy as np
import pytest

from simulator import run, scenario_from_dict
from simulator.solve.pipeline import build_mesh_for
from simulator.studies.minimum_voltage import minimum_voltage
from simulator.studies.tiling import SingleSource, count_lower_bound, electrode_extent, grids, tile
from simulator.studies.warm import WarmEngine
from test_plan import SMALL
from test_tiling import TWO_NODULES


def test_continued_minimum_voltage_equals_the_cold_search_with_fewer_newton_iterations():
    sc = scenario_from_dict(SMALL)
    mesh, _ = build_mesh_for(sc)
    cold = minimum_voltage(sc, mesh=mesh)
    warm = WarmEngine()
    hot = minimum_voltage(sc, mesh=mesh, run_fn=warm.run)
    assert hot.voltage == cold.voltage and hot.tried == cold.tried
    assert len(hot.tried) >= 3
    assert warm.engine.continued == warm.engine.solves - warm.engine.cold > 0
    assert warm.engine.cold == cold.result.train.distinct_configurations      # the first voltage only
    a, b = hot.result.tumours[0], cold.result.tumours[0]
    assert a.margin_reversible_fraction == pytest.approx(b.margin_reversible_fraction, abs=1e-9)
    assert hot.result.train.groups[0].current == pytest.approx(cold.result.train.groups[0].current, rel=1e-9)
    assert hot.result.train.nonlinear_iterations < cold.result.train.nonlinear_iterations


@pytest.fixture(scope="module")
def seeded():
    """TWO_NODULES tiled cold and seeded from the single pair's run at the same voltage."""
    sc = scenario_from_dict(TWO_NODULES)
    single = WarmEngine()
    r1 = single.run(sc, build_mesh_for(sc)[0])
    return (tile(TWO_NODULES, 4), tile(TWO_NODULES, 4, source=SingleSource(sc, r1.mesh, single.engine)), r1)


def test_seeded_tiling_is_the_cold_tiling_with_fewer_newton_iterations(seeded):
    cold, hot, _ = seeded
    assert cold is not None and hot is not None
    assert hot.centres_mm == cold.centres_mm and hot.result.covered
    for a, b in zip(hot.result.tumours, cold.result.tumours):
        assert a.margin_reversible_fraction == pytest.approx(b.margin_reversible_fraction, abs=1e-9)
    ia = [g.current for g in hot.result.train.groups]
    ib = [g.current for g in cold.result.train.groups]
    assert np.allclose(ia, ib, rtol=1e-9, atol=0)
    s = hot.sessions[-1]
    assert s["starts"]["seeded"] == s["solves"] and s["starts"]["cold"] == 0
    assert s["newton_iterations"] < cold.sessions[-1]["newton_iterations"]


def test_count_bound_is_at_most_a_covering_count_and_grows_at_lower_voltage(seeded):
    _, hot, r1 = seeded
    bound = count_lower_bound(r1)
    assert 1 <= bound <= len(hot.centres_mm)
    low = run(scenario_from_dict(TWO_NODULES).with_voltage(60.0), mesh=r1.mesh)
    assert count_lower_bound(low) > max(bound, 2)
    # a bound above every grid's count: no grid is tried
    assert tile(TWO_NODULES, 4, lower_bound=5) is None


def test_grids_come_fewest_applications_first():
    sc = scenario_from_dict(TWO_NODULES)
    ext = electrode_extent(sc.electrode)
    gs = grids(sc, ext, 50)
    counts = [len(g) for g in gs]
    assert counts == sorted(counts) and len(gs) >= 2
    assert all(g1 != g2 for i, g1 in enumerate(gs) for g2 in gs[i + 1:])
    assert [len(g) for g in grids(sc, ext, 50, lower_bound=counts[-1])] == [n for n in counts if n >= counts[-1]]
