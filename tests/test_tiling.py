"""Tiling (simulator.studies.tiling): two nodules no single needle pair covers are covered by
one pair over each; removing either application uncovers part of the lesion. The plan's
tiling stages: when no tiling covers at the ESOPE amplitude, the grids are tried at the
generator's maximum (``tiling-max``), then at the lowest covering voltage (``tiling-min``),
which covers while 5 % less does not."""
import copy

import pytest

from simulator import run, scenario_from_dict
from simulator.studies.candidates import with_voltage
from simulator.studies.plan import PlanOptions, applications_lower_bound, plan
from simulator.studies.tiling import session_data, tile

TWO_NODULES = {
    "name": "two-nodules", "tissue": {"size_mm": [36, 20, 12], "layers": [{"material": "muscle"}]},
    "tumours": [{"name": "T1", "diameter_mm": 4.0, "depth_mm": 4.0, "centre_mm": [-6.0, 0.0], "margin_mm": 0.5},
                {"name": "T2", "diameter_mm": 4.0, "depth_mm": 4.0, "centre_mm": [6.0, 0.0], "margin_mm": 0.5}],
    "electrode": {"type": "needle-pair", "spacing_mm": 6.0, "rotation_deg": 90, "insertion_depth_mm": 8.0},
    # 650 V: one pair over each nodule covers its margin (99.99 / 99.94 %; at 600 V T2's
    # margin is 99.82 %, under the 0.999 of the coverage tolerance, on the cell-fraction
    # margin of post.margin)
    "protocol": {"preset": "esope", "voltage_V": 650.0},
    "mesh": {"size_mm": 1.5, "far_size_mm": 5.0, "accuracy": 0}}


@pytest.fixture(scope="module")
def tiling():
    return tile(TWO_NODULES, max_applications=4)


def test_single_pair_over_the_lesion_centre_does_not_cover():
    assert run(scenario_from_dict(TWO_NODULES)).covered is False


def test_tiling_covers_and_removing_any_application_uncovers(tiling):
    assert tiling is not None and tiling.result.covered
    centres = tiling.centres_mm
    assert len(centres) == 2
    assert sorted(round(c[0]) for c in centres) == [-6, 6]
    assert tiling.tried <= 2        # the grid, then the pruned tiling once: pruning solves nothing
    for k in range(len(centres)):
        rest = [tuple(v * 1e-3 for v in c) for j, c in enumerate(centres) if j != k]
        r = run(scenario_from_dict(session_data(TWO_NODULES, rest)))
        assert not r.covered, f"application {k + 1} is redundant"
        assert min(t.margin_reversible_fraction for t in r.tumours) < 0.5    # a whole nodule goes cold


def test_tiling_respects_max_applications():
    assert tile(TWO_NODULES, max_applications=1) is None


def test_lower_bound_on_applications():
    one = [{}]
    entries = [{"amplitude": "maximum", "reversible_mm3": 40.0, "applications": one},
               {"amplitude": "esope", "reversible_mm3": 500.0, "applications": one},
               {"amplitude": "maximum", "reversible_mm3": 900.0, "applications": [{}, {}]}]
    assert applications_lower_bound(100.0, entries, covered=False) == 3     # ceil(100 / 40): single ones only
    assert applications_lower_bound(10.0, entries, covered=False) == 1      # no evidence beyond one
    assert applications_lower_bound(10.0, entries[1:], covered=False) == 1
    assert applications_lower_bound(100.0, copy.deepcopy(entries), covered=True) == 1


# two 3.3 mm nodules 16 mm apart under linear-10 (two rows of 4 needles 4 mm apart, ESOPE
# 400 V): no single linear-10 covers both up to the generator's 1200 V; one over each covers
# at 1200 V (margin 0.9993) but not at 400 V (0.997); the own electrode is the catalogue
# candidate (same depth: evaluated once)
TWO_FAR = {
    "name": "two-far", "tissue": {"size_mm": [34, 16, 12], "layers": [{"material": "muscle"}]},
    "tumours": [{"name": "T1", "diameter_mm": 3.3, "depth_mm": 3.0, "centre_mm": [-8.0, 0.0], "margin_mm": 0.5},
                {"name": "T2", "diameter_mm": 3.3, "depth_mm": 3.0, "centre_mm": [8.0, 0.0], "margin_mm": 0.5}],
    "electrode": {"catalogue": "linear-10", "centre_mm": [0.0, 0.0], "insertion_depth_mm": 7.1},
    "protocol": {"preset": "esope"}, "generator": {"max_voltage_V": 1200.0},
    "mesh": {"size_mm": 1.5, "far_size_mm": 5.0, "accuracy": 0}}


@pytest.fixture(scope="module")
def far_plan():
    p = plan(copy.deepcopy(TWO_FAR), PlanOptions(electrodes="linear-10", max_applications=2))
    return p, {(e["electrode"], e["amplitude"]): e for e in p.report["candidates"]}


def test_tiling_max_is_tried_at_the_generators_maximum_when_esope_tilings_fail(far_plan):
    p, entries = far_plan
    assert not entries[("linear-10", "esope")]["feasible"] and not entries[("linear-10", "maximum")]["feasible"]
    assert ("linear-10", "tiling") not in entries                  # no grid covered at ESOPE
    e = entries[("linear-10", "tiling-max")]
    assert e["feasible"] and len(e["applications"]) == 2
    assert [a["voltage_V"] for a in e["applications"]] == [1200.0, 1200.0]
    data, result = p.results[("linear-10", "tiling-max")]
    assert result.covered
    at_esope = run(scenario_from_dict(with_voltage(data, 400.0)), mesh=result.mesh)   # the same grid at ESOPE
    assert not at_esope.covered


def test_tiling_min_is_a_lower_covering_voltage_and_5_percent_less_does_not_cover(far_plan):
    p, entries = far_plan
    e = entries[("linear-10", "tiling-min")]
    v = e["applications"][0]["voltage_V"]
    assert 400.0 < v < 1200.0 and all(a["voltage_V"] == v for a in e["applications"])
    assert [a["centre_mm"] for a in e["applications"]] == [a["centre_mm"] for a in
                                                          entries[("linear-10", "tiling-max")]["applications"]]
    sc = scenario_from_dict(p.results[("linear-10", "tiling-min")][0])     # the plan as planned.toml has it
    at = run(sc)
    below = run(sc.with_voltage(0.95 * v), mesh=at.mesh)
    assert at.covered and not below.covered
    # the lower voltage damages less healthy tissue: the plan is the tiling at its minimum
    assert e["healthy_irreversible_mm3"] < entries[("linear-10", "tiling-max")]["healthy_irreversible_mm3"]
    assert p.report["best"]["amplitude"] == "tiling-min" and p.report["feasible"]
