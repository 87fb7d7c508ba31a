"""Lesion zones (issue 12, item 3): volume and extent [width, depth, height] above a
threshold along the electrode axes, against the exact iso-lines of the two-wire field."""
from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy.optimize import brentq

from benchmarks.validation_table import _slab_scenario
from simulator import build_report, run, scenario_from_dict
from simulator.errors import ScenarioError
from simulator.physics.analytic import two_wire_field

MM = 1e-3
D, A, U = 7.3 * MM, 0.35 * MM, 730.0
THRESHOLDS_V_PER_CM = [300, 400, 800]        # E_mid = 662 V/cm: one region, one region, two blobs


@pytest.fixture(scope="module")
def slab():
    """A needle pair through a 1 mm slab in a 100 mm block: the two-wire (2D) problem."""
    raw = _slab_scenario("zones", {"type": "needle-pair", "spacing_mm": 7.3, "needle_diameter_mm": 0.7},
                         U, 100.0, 1.0, 0.3, 0.1, 3.0, (8.0, 5.0))
    raw["coverage"] = {"thresholds_V_per_cm": THRESHOLDS_V_PER_CM[::-1]}
    return run(scenario_from_dict(raw))


def exact_extent(threshold: float) -> tuple[float, float]:
    """Width (along the needle axis) and depth (across) of {|E| >= threshold}, m."""
    x_out = brentq(lambda x: two_wire_field(np.array([x]), np.array([0.0]), D, A, U)[0] - threshold,
                   D / 2 + A, 0.1)
    Y, E = _grid()
    return 2 * x_out, 2 * Y[E >= threshold].max()


@functools.cache
def _grid():
    """|E| on a 0.01 mm grid of the upper half plane (the region's y-extent is < 5 mm)."""
    X, Y = np.meshgrid(np.arange(-10, 10, 0.01) * MM, np.arange(0, 6, 0.01) * MM, indexing="ij")
    return Y, two_wire_field(X, Y, D, A, U)


def test_zone_extent_matches_the_two_wire_iso_lines(slab):
    zones = slab.zones
    assert [z.threshold / 100 for z in zones] == THRESHOLDS_V_PER_CM       # sorted, V/cm
    for z in zones:
        width, depth = exact_extent(z.threshold)
        # measured at h = 0.3 mm: width +0.3..+0.8 %, depth +2.7..+3.3 % (1.8..2.8 % at h = 0.15 mm)
        assert z.extent[0] == pytest.approx(width, rel=0.015), z.name
        assert z.extent[1] == pytest.approx(depth, rel=0.04), z.name
        assert z.extent[2] == pytest.approx(1.0 * MM, rel=1e-9), z.name    # through the slab
    vols = [z.volume for z in zones]
    assert vols[0] > vols[1] > vols[2] > 0


def test_zones_are_in_the_report(slab):
    rep = build_report(slab)
    assert [z["threshold_V_per_cm"] for z in rep["zones"]] == THRESHOLDS_V_PER_CM
    assert all(len(z["extent_mm"]) == 3 and z["volume_mm3"] > 0 for z in rep["zones"])


def test_default_zones_are_each_tissues_E_rev_and_E_irr():
    raw = _slab_scenario("zones-default", {"type": "needle-pair", "spacing_mm": 7.3}, U, 24.0, 1.0, 1.0, 0.3,
                         4.0, (6.0, 4.0))
    res = run(scenario_from_dict(raw))
    rev, irr = res.zones
    assert (rev.name, irr.name) == ("reversible", "irreversible")
    assert rev.threshold is None and rev.threshold_by_tissue == {"muscle": pytest.approx(200e2)}
    assert rev.volume == pytest.approx(res.volumes["reversible"], rel=1e-12)
    assert irr.volume == pytest.approx(res.volumes["irreversible"], rel=1e-12)
    assert rev.extent[0] > irr.extent[0] > D


@pytest.mark.parametrize("value, text", [("[]", "list"), ("[400, -1]", "-1"), ("400", "400"),
                                         ('["high"]', "'high'")])
def test_bad_thresholds_name_the_field(value, text):
    import tomllib
    raw = _slab_scenario("bad", {"type": "needle-pair", "spacing_mm": 7.3}, U, 30.0, 1.0, 1.0, 0.3, 3.0, (6.0, 4.0))
    raw["coverage"] = tomllib.loads(f"thresholds_V_per_cm = {value}")
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(raw)
    assert exc.value.field.startswith("coverage.thresholds_V_per_cm") and text in str(exc.value)


def test_clamped_plates_zone_spans_the_block_exactly():
    """examples/plates_skin_fold.toml (a fold clamped between plates, everything above E_rev
    at 1300 V/cm): the reversible zone is the whole 8 x 20 x 16 mm block, so its extent
    along the electrode axes is the block's. The axes come from the contacts' area-weighted
    centroids (a plain node mean leaned with the mesh: 8.052 x 20.02 mm)."""
    from pathlib import Path
    from simulator import load_scenario
    sc = load_scenario(Path(__file__).resolve().parents[1] / "examples" / "plates_skin_fold.toml"
                       ).with_changes({"mesh.accuracy": 0})
    zones = {z["name"]: z for z in build_report(run(sc))["zones"]}
    assert zones["reversible"]["extent_mm"] == pytest.approx([8.0, 20.0, 16.0], abs=1e-6)
