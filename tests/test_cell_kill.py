"""Peleg-Fermi cell kill (issue 12, item 2; domain.md 3.1)."""
from __future__ import annotations

import tomllib

import meshio
import numpy as np
import pytest

from simulator import build_report, run, scenario_from_dict, write_outputs
from simulator.errors import ScenarioError
from simulator.physics.cell_kill import PelegFermi

V_PER_CM = 100.0

# domain.md 3.1 table: n, E_c (V/cm), A (V/cm), S at 1000 V/cm, S at 1300 V/cm, E for 90 % kill (V/cm)
TABLE = [(8, 3143, 892, 0.92, 0.89, 5103), (48, 947, 81, 0.34, 0.01, 1124), (90, 269, 6.5, 0.0, 0.0, 283)]


@pytest.mark.parametrize("n, Ec, A, S1000, S1300, E90", TABLE)
def test_peleg_fermi_reproduces_the_domain_table(n, Ec, A, S1000, S1300, E90):
    pf = PelegFermi()
    assert pf.critical_field(n) / V_PER_CM == pytest.approx(Ec, abs=0.5)
    assert pf.width(n) / V_PER_CM == pytest.approx(A, abs=0.5 if A > 10 else 0.05)
    assert pf.survival(1000 * V_PER_CM, n) == pytest.approx(S1000, abs=0.005)
    assert pf.survival(1300 * V_PER_CM, n) == pytest.approx(S1300, abs=0.005)
    assert pf.field_for_kill(0.9, n) / V_PER_CM == pytest.approx(E90, abs=0.5)
    assert pf.kill_probability(pf.field_for_kill(0.9, n), n) == pytest.approx(0.9, abs=1e-12)


def test_no_pulse_no_kill_and_no_overflow():
    pf = PelegFermi()
    assert pf.kill_probability(5000 * V_PER_CM, 0) == 0.0
    assert pf.kill_probability(1e7, 200) == 1.0                  # exp overflow avoided
    assert np.all(np.diff(pf.kill_probability(np.linspace(0, 1e6, 50), 8)) >= 0)


BASE = """\
name = "kill"
[tissue]
size_mm = [24, 24, 12]
layers = [ {{ material = "muscle" }} ]
[electrode]
type = "needle-pair"
spacing_mm = 7.3
insertion_depth_mm = 9.0
[protocol]
pulses = {pulses}
voltage_V = 730
[mesh]
size_mm = 2.0
accuracy = 0
[coverage]
thresholds_V_per_cm = [{E90_80:.6f}, {E90_8:.6f}]
[cell_kill]
model = "peleg-fermi"
"""


def scenario(pulses: int, extra: str = ""):
    pf = PelegFermi()
    text = BASE.format(pulses=pulses, E90_80=pf.field_for_kill(0.9, 80) / V_PER_CM,
                       E90_8=pf.field_for_kill(0.9, 8) / V_PER_CM) + extra
    return scenario_from_dict(tomllib.loads(text))


@pytest.fixture(scope="module")
def runs():
    r8 = run(scenario(8))
    return r8, run(scenario(80), mesh=r8.mesh)


def test_8_and_80_pulses_kill_different_volumes(runs):
    """P >= 0.9 after n pulses is E >= E_90(n) where the cell was electroporated (one pair:
    every electroporated cell saw all n pulses), so the volume equals the zone at E_90(n)
    (388 V/cm for 80 pulses, above muscle's E_rev; 5103 V/cm for 8)."""
    r8, r80 = runs
    v8, v80 = r8.volumes["kill_probability_0_9"], r80.volumes["kill_probability_0_9"]
    assert v80 > 20 * max(v8, 1e-12)
    assert v80 == pytest.approx(r80.zones[0].volume, rel=1e-9)
    assert v8 == pytest.approx(r8.zones[1].volume, rel=1e-9, abs=1e-15)
    assert 0 < v80 < r80.volumes["reversible"]
    assert np.array_equal(r8.train.E_max, r80.train.E_max)       # the field did not change
    rep = build_report(r80)
    assert rep["volumes_mm3"]["kill_probability_0_9"] == pytest.approx(v80 * 1e9, rel=1e-5)
    assert rep["cell_kill"]["constants"]["muscle"]["E_c0_V_per_cm"] == 3996


def test_kill_probability_is_a_vtu_array_and_a_figure(runs, tmp_path):
    from matplotlib.image import imread

    from simulator.output.kill_figure import plot_kill_probability
    r80 = runs[1]
    write_outputs(r80, tmp_path / "out", figures=False)
    img = imread(plot_kill_probability(r80, tmp_path / "kill.png"))[..., :3]
    cyan = (img[..., 0] < 0.3) & (img[..., 1] > 0.8) & (img[..., 2] > 0.8)
    assert cyan.sum() > 100                                      # the P = 0.9 contour is drawn
    assert len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50
    m = meshio.read(tmp_path / "out" / "field.vtu")
    P = m.cell_data["kill_probability"][0]
    assert P.shape == (r80.mesh.num_cells,) and 0 <= P.min() and P.max() <= 1
    assert np.allclose(P, r80.kill_probability.max(axis=1))


def test_constants_per_tissue_override_and_bad_input():
    sc = scenario(8, "[cell_kill.muscle]\nE_c0_V_per_cm = 2000\nk1 = 0.05\n")
    c = sc.cell_kill.for_material("muscle")
    assert (c.E_c0, c.A0, c.k1, c.k2) == (2000 * V_PER_CM, 1441 * V_PER_CM, 0.05, 0.06)
    for extra, where in (("[cell_kill.unobtainium]\nk1 = 1\n", "cell_kill.unobtainium"),
                         ("[cell_kill.muscle]\nk3 = 1\n", "cell_kill.muscle.k3"),
                         ("[cell_kill.muscle]\nA0_V_per_cm = -1\n", "cell_kill.muscle.A0_V_per_cm")):
        with pytest.raises(ScenarioError) as exc:
            scenario(8, extra)
        assert exc.value.field == where
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(tomllib.loads(BASE.format(pulses=8, E90_80=400, E90_8=500).replace(
            '"peleg-fermi"', '"weibull"')))
    assert exc.value.field == "cell_kill.model" and "weibull" in str(exc.value)
