"""Tiling (simulator.studies.tiling): two nodules no single needle pair covers are covered by
one pair over each; removing either application uncovers part of the lesion."""
import copy

import pytest

from simulator import run, scenario_from_dict
from simulator.studies.plan import applications_lower_bound
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
