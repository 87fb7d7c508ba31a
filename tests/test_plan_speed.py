"""The plan's speed-ups (simulator.studies.warm, tiling): Newton started from another
voltage of the same configuration (continuation) or from the single application's field
moved onto a session's mesh gives the same answer as a cold start with fewer Newton
iterations; the tiling is searched fewest applications first; the count bound from one
application's run never exceeds a count that covers, and grows when the voltage drops."""
import copy

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
    from simulator.studies.tiling import reach_bound, slab_bound
    _, hot, r1 = seeded
    # 600 V: the pair's reach is shorter than the nodules' distance: 2, the tiling found
    assert reach_bound(r1) == count_lower_bound(r1) == len(hot.centres_mm) == 2
    sc = scenario_from_dict(TWO_NODULES)
    low = run(sc.with_voltage(60.0), mesh=r1.mesh)
    assert slab_bound(low) > 2                       # at 60 V one pair covers little volume
    # 4000 V: one pair over the centre covers both margins (99.999 % at 3500 V; at 3000 V
    # T1's margin is 99.890 %, under 0.999, on the cell-fraction margin of post.margin)
    high = run(sc.with_voltage(4000.0), mesh=r1.mesh)
    assert high.covered and count_lower_bound(high) == 1     # one covers: no bound above 1
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


@pytest.fixture(scope="module")
def tiled_plan():
    """The two nodules under a 1000 V generator, linear-10 only: no single array covers both."""
    from simulator.studies.plan import PlanOptions, plan
    data = copy.deepcopy(TWO_NODULES)
    data["generator"] = {"max_voltage_V": 1000.0}
    return plan(data, PlanOptions(electrodes="linear-10", max_applications=4))


def test_plan_tiles_at_the_generator_maximum_then_lowers_the_voltage(tiled_plan):
    from simulator.studies.tiling import subset_covered
    rep = tiled_plan.report
    best = rep["best"]
    assert rep["feasible"] and best["amplitude"] == "tiling-min" and len(best["applications"]) >= 2
    top = next(e for e in rep["candidates"] if e["amplitude"] == "tiling-max")
    assert top["feasible"] and {a["voltage_V"] for a in top["applications"]} == {1000.0}
    volts = {a["voltage_V"] for a in best["applications"]}
    assert len(volts) == 1 and volts.pop() < 1000.0
    # sessions fewest applications first; every one with fewer applications than the plan failed
    sessions = [r for r in rep["stages"] if r["stage"].endswith("tiling-max")]
    counts = [r["applications"] for r in sessions]
    assert counts == sorted(counts) and counts[-1] == len(best["applications"]) and sessions[-1]["covered"]
    assert not any(r["covered"] for r in sessions if r["applications"] < counts[-1])
    # each session's Newton solves started from the single array's field moved there, and each
    # voltage of the minimum-voltage search from the last ones: no cold start after the singles
    assert all(r["starts"]["cold"] == 0 and r["starts"]["seeded"] == r["solves"] for r in sessions)
    lows = [r for r in rep["stages"] if r["stage"].endswith("tiling-min")]
    assert lows and all(r["starts"]["continued"] == r["solves"] for r in lows)
    # the planned voltage covers and 5 % less does not (a cold run on the tiling's mesh);
    # removing any one application uncovers part of the lesion
    data, result = tiled_plan.results[("linear-10", "tiling-min")]
    sc = scenario_from_dict(data)
    assert result.covered
    v = sc.protocol.max_voltage
    assert not run(sc.with_voltage(0.95 * v), mesh=result.mesh).covered
    n = len(sc.applications)
    assert all(not subset_covered(result, [j for j in range(n) if j != k]) for k in range(n))
    assert rep["timings_s"]["tiling-max"]["runs"] == len(sessions)
    # planned.toml's scenario, run from scratch (meshed again, cold Newton), is covered
    again = run(scenario_from_dict(tiled_plan.best_data))
    assert again.covered and again.mesh.num_cells == result.mesh.num_cells
