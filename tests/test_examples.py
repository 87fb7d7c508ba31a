"""Every scenario in examples/ runs, and its physics is checked against estimates.

Coverage must lie in a stated band; the current per pulse must lie in a band derived from
an analytic estimate (domain.md 5.1 two-wire / line-source conductance for needles, 5.2
plate formula for plates), not from recorded outputs:

* needles: I_2D(sigma) = G'(geometry) sigma L U, with G' the 2D conductance per unit length
  and per unit conductivity (two-wire: pi / arccosh(d/2a); rows: line sources). The lower
  bound uses the layers' intact conductivity sigma0 weighted by the thickness each layer
  contributes along the needle (tumours and electroporation only add conductance, and so
  does the tissue below the tips). The upper bound uses the fully electroporated sigma1
  (the tumour's where the tumour meets the needles) and doubles it for the 3D current that
  leaves through and below the tips.
* clamped plates: no fringing; the skin and fat between the plates see U/d = 1300 V/cm,
  above their E_irr, so they conduct at sigma1: I >= U/d sum(sigma1 A) with the tumour
  counted as fat, and I <= the same plus a tumour column spanning the gap at its sigma1.
"""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from simulator.physics import analytic
from simulator.cli import main
from simulator.solve.pipeline import run
from simulator.scenario import load_scenario
from simulator.output.report import build_report

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MM = 1e-3


def _needle_path_sigmas(sc, length: float):
    """Thickness-weighted sigma0 and sigma1 of the layers a vertical needle of ``length`` (m)
    crosses; sigma1 counts the tumours' sigma1 over their depth range where they are larger."""
    lo = hi = 0.0
    for layer, (top, bottom) in zip(sc.tissue.layers, sc.tissue.layer_bounds()):
        seg = max(0.0, min(-bottom, length) - min(-top, length))
        m = sc.materials[layer.material]
        lo += seg * m.sigma0
        hi += seg * m.sigma1
    for t in sc.tumours:
        m = sc.materials[t.material]
        z0, z1 = -t.centre[2] - t.semi_axes[2], -t.centre[2] + t.semi_axes[2]
        seg = max(0.0, min(z1, length) - max(z0, 0.0))
        hi += seg * max(0.0, m.sigma1 - min(sc.materials[la.material].sigma1 for la in sc.tissue.layers))
    return lo / length, hi / length


def _needle_band(sc, G_per_length: float, U: float):
    L = min(sc.electrode.needles[0].insertion_depth, sc.tissue.size[2])
    s_lo, s_hi = _needle_path_sigmas(sc, L)
    return G_per_length * s_lo * L * U, 2.0 * G_per_length * s_hi * L * U


@pytest.fixture(scope="module")
def results():
    cache = {}

    def get(name):
        if name not in cache:
            sc = load_scenario(EXAMPLES / f"{name}.toml")
            cache[name] = run(sc)
        return cache[name]
    return get


def test_every_example_has_a_test():
    tested = {"plates_skin_fold", "linear_array", "hexagonal", "needle_pair", "multi_lesion",
              "skin_fold", "exophytic_plates", "chest_wall_recurrence", "patient_geometry"}   # + test_anatomy.py
    assert {p.stem for p in EXAMPLES.glob("*.toml")} <= tested


def test_plates_skin_fold(results):
    r = results("plates_skin_fold")
    sc, rep = r.scenario, build_report(r)
    assert sc.electrode.type == "plates" and sc.electrode.clamped
    g = rep["pulses"][0]
    assert g["voltage_V"] == pytest.approx(1040.0) and rep["total_pulses"] == 8      # 1300 V/cm x 8 mm
    assert rep["coverage"]["tumour_reversible_fraction"] >= 0.99
    assert rep["coverage"]["covered"] is True
    U, d = g["voltage_V"], sc.electrode.distance
    X, Y, Z = sc.tissue.size
    skin, fat, tum = (sc.materials[k] for k in ("skin", "fat", "tumour"))
    t_skin = sc.tissue.layers[0].thickness
    lo = U / d * (skin.sigma1 * t_skin * Y + fat.sigma1 * (Z - t_skin) * Y)
    _, b, c = sc.tumours[0].semi_axes
    hi = lo + U / d * (tum.sigma1 - fat.sigma1) * math.pi * b * c
    assert lo <= abs(g["current_A"]) <= hi, (lo, g["current_A"], hi)


def test_linear_array(results):
    r = results("linear_array")
    sc, rep = r.scenario, build_report(r)
    g = rep["pulses"][0]
    assert (g["anode"], g["cathode"], g["voltage_V"], g["count"]) == ("row_A", "row_B", 400.0, 8)
    assert rep["coverage"]["tumour_reversible_fraction"] >= 0.99 and rep["coverage"]["covered"] is True
    e = sc.electrode
    centres = [n.position for n in e.needles]
    ls = analytic.line_sources(centres, e.needles[0].radius, [400.0 if n.name.startswith("A") else 0.0
                                                             for n in e.needles])
    G = analytic.line_sources_current(ls, 1.0, 1.0, [i for i, n in enumerate(e.needles)
                                                     if n.name.startswith("A")]) / 400.0
    lo, hi = _needle_band(sc, G, 400.0)
    assert lo <= abs(g["current_A"]) <= hi, (lo, g["current_A"], hi)


def test_hexagonal(results):
    r = results("hexagonal")
    sc, rep = r.scenario, build_report(r)
    assert len(rep["pulses"]) == 12 and rep["total_pulses"] == 96              # 12 pairs x 8 [R]
    assert {(p["anode"], p["cathode"]) for p in rep["pulses"]} == (
        {("C", f"H{i}") for i in range(1, 7)} | {(f"H{i}", f"H{i % 6 + 1}") for i in range(1, 7)})
    assert all(p["voltage_V"] == pytest.approx(730.0) for p in rep["pulses"])   # 1000 V/cm x 7.3 mm
    assert rep["coverage"]["tumour_reversible_fraction"] >= 0.99
    a = sc.electrode.needles[0].radius
    G = math.pi / math.acosh(sc.electrode.distance / (2 * a))
    lo, hi = _needle_band(sc, G, 730.0)
    for p in rep["pulses"]:
        assert lo <= abs(p["current_A"]) <= hi, (p, lo, hi)


def test_needle_pair(results):
    r = results("needle_pair")
    sc, rep = r.scenario, build_report(r)
    g = rep["pulses"][0]
    assert g["voltage_V"] == pytest.approx(1000.0 * sc.electrode.distance / 0.01)
    assert 0.9 <= rep["coverage"]["tumour_reversible_fraction"] <= 1.0
    a = sc.electrode.needles[0].radius
    G = math.pi / math.acosh(sc.electrode.distance / (2 * a))
    lo, hi = _needle_band(sc, G, g["voltage_V"])
    assert lo <= abs(g["current_A"]) <= hi, (lo, g["current_A"], hi)


def test_multi_lesion(results):
    r = results("multi_lesion")
    rep = build_report(r)
    by = {t["name"]: t for t in rep["tumours"]}
    assert set(by) == {"superficial", "between-rows", "outside"}
    # the superficial nodule really crosses the skin / fat boundary (1.5 mm)
    sup = next(t for t in r.scenario.tumours if t.name == "superficial")
    assert -sup.centre[2] - sup.semi_axes[2] < 1.5 * MM < -sup.centre[2] + sup.semi_axes[2]
    assert by["superficial"]["tumour_reversible_fraction"] >= 0.99 and by["superficial"]["covered"]
    assert by["between-rows"]["tumour_reversible_fraction"] >= 0.99 and by["between-rows"]["covered"]
    assert by["outside"]["tumour_reversible_fraction"] <= 0.05 and not by["outside"]["covered"]
    assert rep["coverage"]["covered"] is False                                  # covered only if all are
    assert rep["coverage"]["tumour_reversible_fraction"] == by["outside"]["tumour_reversible_fraction"]
    # each tumour's meshed volume is close to its ellipsoid
    for t, sct in zip(rep["tumours"], r.scenario.tumours):
        assert t["volume_mm3"] == pytest.approx(sct.volume / MM**3, rel=0.08)


def test_multi_lesion_outputs_and_coverage_curves(tmp_path, capsys):
    """The CLI writes the per-tumour coverage curves (CSV + PNG) beside report.json."""
    out = tmp_path / "out"
    assert main(["run", str(EXAMPLES / "multi_lesion.toml"), "--out", str(out), "--quiet"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"report.json", "coverage.csv", "coverage.png"} <= names
    header = (out / "coverage.csv").read_text().splitlines()[0].split(",")
    assert header == ["threshold_V_per_cm", "superficial", "between-rows", "outside"]
    text = capsys.readouterr().out
    assert "outside" in text and "NOT COVERED" in text


def test_generator_limits_warn_in_report_and_terminal(tmp_path, capsys):
    """A scenario over the generator's voltage and current limits runs, and says so."""
    src = (EXAMPLES / "plates_skin_fold.toml").read_text()
    path = tmp_path / "limits.toml"
    path.write_text(src + "\n[generator]\nmax_voltage_V = 1000\nmax_current_A = 2\n")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--no-figures"]) == 0
    warnings = json.loads((out / "report.json").read_text())["warnings"]
    assert any("1040 V exceeds the generator limit 1000 V" in w for w in warnings), warnings
    assert any("A exceeds the generator limit 2 A" in w for w in warnings), warnings
    text = capsys.readouterr().out
    assert text.count("WARNING:") == 2
    assert "exceeds the generator limit 1000 V" in text and "exceeds the generator limit 2 A" in text


def test_default_generator_limits_do_not_warn(results):
    rep = build_report(results("plates_skin_fold"))
    assert rep["generator"] == {"max_voltage_V": 3000.0, "max_current_A": 50.0}
    assert rep["warnings"] == []


def test_tilted_needles_run_end_to_end(results):
    """tilt_deg reaches the mesh: the contact nodes follow the tilted axis, and the field
    solution stays close to the untilted pair's (a 15 degree tilt of both needles)."""
    from simulator.scenario import scenario_from_dict
    base = {"tissue": {"size_mm": [30, 30, 20]},
            "electrode": {"type": "needle-pair", "spacing_mm": 7.3, "insertion_depth_mm": 10.0},
            "protocol": {"preset": "esope"}, "mesh": {"size_mm": 1.0, "contact_size_mm": 0.35}}
    straight = run(scenario_from_dict(base))
    tilted_sc = scenario_from_dict({**base, "electrode": {**base["electrode"], "tilt_deg": 15.0,
                                                          "tilt_azimuth_deg": 90.0}})
    tilted = run(tilted_sc)
    n = tilted_sc.electrode.needles[0]
    pts = tilted.mesh.points[tilted.mesh.contact_nodes("A")]
    rel = pts - n.entry
    along = rel @ n.axis
    radial = np.linalg.norm(rel - np.outer(along, n.axis), axis=1)
    side = np.abs(radial - n.radius) < 0.05 * MM                                # on the tilted cylinder
    cap = (np.abs(along - n.insertion_depth) < 0.05 * MM) & (radial <= n.radius + 0.05 * MM)   # or its tip
    assert np.all(side | cap)
    assert along.max() > 0.9 * n.insertion_depth
    assert pts[:, 1].min() < -2 * MM or pts[:, 1].max() > 2 * MM                 # displaced along y
    i0 = abs(straight.train.groups[0].current)
    i1 = abs(tilted.train.groups[0].current)
    assert i1 == pytest.approx(i0, rel=0.15)
