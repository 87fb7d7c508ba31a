"""Diagnosis of cold regions (simulator.post.diagnosis): a lesion reaching below short needles
is cold below the tips; a lesion beside a needle pair is cold outside the electrode."""
import numpy as np
import pytest

from simulator import build_report, run, scenario_from_dict
from simulator.output.report import summary_table
from simulator.post.above import RecoveredField
from simulator.post.diagnosis import cold_volumes, connected_parts, inside_footprint


def _pair(tumour: dict, depth_mm: float = 10.0, voltage: float = 730.0) -> dict:
    return {"name": "diag", "tissue": {"size_mm": [24, 24, 16], "layers": [{"material": "muscle"}]},
            "tumours": [tumour],
            "electrode": {"type": "needle-pair", "spacing_mm": 7.3, "insertion_depth_mm": depth_mm},
            "protocol": {"preset": "esope", "voltage_V": voltage},
            "mesh": {"size_mm": 1.2, "far_size_mm": 4.0, "accuracy": 0},
            "coverage": {"margin_threshold": "tissue"}}   # calibrated on the per-tissue margin rule


@pytest.fixture(scope="module")
def below_tips():
    # needles reach 5 mm; the tumour spans 3..9 mm deep: its lower part lies below the tips
    return run(scenario_from_dict(_pair({"diameter_mm": 6.0, "depth_mm": 6.0, "margin_mm": 0.5}, depth_mm=5.0)))


@pytest.fixture(scope="module")
def beside():
    # tumour centred 9 mm off the needle axis: the pair's field there is far below E_rev
    return run(scenario_from_dict(_pair({"diameter_mm": 4.0, "depth_mm": 5.0, "centre_mm": [0.0, 9.0],
                                         "margin_mm": 0.5})))


def test_lesion_below_the_tips_is_diagnosed_below_needle_tips(below_tips):
    rep = build_report(below_tips)
    regions = rep["diagnosis"]["cold_regions"]
    assert regions, "a lesion reaching 4 mm below the tips cannot be covered"
    largest = regions[0]
    assert largest["cause"] == "below_needle_tips"
    assert largest["centroid_mm"][2] < -5.0                 # deeper than the tips (z = -5 mm)
    assert largest["tumour"] == "T1"
    tip_field = largest["min_field_V_per_cm"]
    assert 0 < tip_field < 400.0                            # below the tumour's E_rev (400 V/cm)
    line = [ln for ln in summary_table(rep).splitlines() if ln.startswith("diagnosis:")]
    assert len(line) == 1 and "below the needle tips" in line[0]


def test_lesion_beside_the_pair_is_diagnosed_outside_electrode(beside):
    rep = build_report(beside)
    regions = rep["diagnosis"]["cold_regions"]
    assert regions and regions[0]["cause"] == "outside_electrode"
    assert regions[0]["centroid_mm"][1] > 5.0
    # the cold volume is all of tumour + margin not reached: it matches the coverage fraction
    t = rep["tumours"][0]
    cold_share = rep["diagnosis"]["cold_volume_mm3"] / t["margin_volume_mm3"]
    assert cold_share == pytest.approx(1.0 - t["margin_reversible_fraction"], abs=1e-4)


def test_cold_parts_are_vertex_connected_and_cover_the_cold_cells(below_tips):
    r = below_tips
    cold = np.flatnonzero(cold_volumes(RecoveredField(r.mesh, r.train.E_max, r.train.weights), r.E_rev) > 0)
    parts = connected_parts(r.mesh, cold)
    assert sum(p.size for p in parts) == cold.size
    assert np.array_equal(np.sort(np.concatenate(parts)), cold)
    # no two parts share a vertex
    owner = {}
    for k, p in enumerate(parts):
        for v in np.unique(r.mesh.tets[p]):
            assert owner.setdefault(v, k) == k


def test_footprint_of_a_pair_is_the_grown_segment_and_of_a_hexagon_its_hull():
    seg = np.array([[-3.65e-3, 0.0], [3.65e-3, 0.0]])
    inside = inside_footprint(np.array([[0, 3e-3], [0, 4e-3], [4e-3, 0]]), seg, 3.65e-3)
    assert inside.tolist() == [True, False, False]
    a = np.radians(np.arange(6) * 60.0)
    hexagon = 7.3e-3 * np.c_[np.cos(a), np.sin(a)]
    assert inside_footprint(np.array([[6.0e-3, 0], [7.5e-3, 0], [0, 6.5e-3]]), hexagon, 0.0).tolist() == \
        [True, False, False]          # the hull's inner radius is 7.3 cos 30 = 6.32 mm
