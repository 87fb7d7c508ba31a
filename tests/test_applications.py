"""Several applications in one scenario ([[applications]]): one conformal mesh with every
application's needles as tissue; the session's field is the cell-wise max of the
applications' fields (exact, same mesh) and pulse counts add up."""
import copy

import numpy as np
import pytest

from simulator import build_report, run, scenario_from_dict
from simulator.cli import main
from simulator.engines import SolverSettings, create_engine
from simulator.post.field import recover_sliver_fields
from simulator.solve.pipeline import cell_law
from simulator.solve.train import run_train

TWO = {"name": "two-apps", "tissue": {"size_mm": [24, 24, 12], "layers": [{"material": "muscle"}]},
       "tumours": [{"shape": "ellipsoid", "semi_axes_mm": [5.0, 2.5, 2.5], "depth_mm": 4.0, "margin_mm": 0.5}],
       "applications": [
           {"type": "needle-pair", "spacing_mm": 6.0, "centre_mm": [-3.5, 0.0], "rotation_deg": 90,
            "insertion_depth_mm": 8.0},
           {"type": "needle-pair", "spacing_mm": 6.0, "centre_mm": [3.5, 0.0], "rotation_deg": 90,
            "insertion_depth_mm": 8.0, "voltage_V": 450.0}],
       "protocol": {"preset": "esope", "voltage_V": 420.0},
       "mesh": {"size_mm": 1.5, "far_size_mm": 5.0, "accuracy": 0}}


@pytest.fixture(scope="module")
def session():
    return run(scenario_from_dict(TWO))


def test_session_field_is_the_max_of_the_application_fields(session):
    r, sc = session, session.scenario
    eng = create_engine("embedded", r.mesh, SolverSettings(degree=1, rtol=sc.solver.rtol))
    law, rho_c, alpha = cell_law(r.mesh, sc)
    singles = [run_train(eng, a.protocol, law, a.electrode.contact_names, rho_c, alpha) for a in sc.applications]
    E = np.maximum(singles[0].E_max, singles[1].E_max)
    n_rev = singles[0].pulses_above_rev + singles[1].pulses_above_rev
    recover_sliver_fields(r.mesh, E, n_rev)
    assert np.array_equal(E, r.train.E_max)
    assert np.array_equal(n_rev, r.train.pulses_above_rev)
    # the session keeps each application's own field (tiling judges subsets from them)
    for single, kept in zip(singles, r.train.application_E_max):
        recover_sliver_fields(r.mesh, single.E_max)
        assert np.array_equal(single.E_max, kept)
    # each application contributes somewhere: neither field dominates everywhere
    first_wins = singles[0].E_max[:, 0] > singles[1].E_max[:, 0]
    assert 0.2 < first_wins.mean() < 0.8
    # the other application's needles conduct as tissue: application 1 drives current there
    a2_nodes = np.unique(np.concatenate([r.mesh.contact_nodes(n) for n in sc.applications[1].electrode.contact_names]))
    assert np.ptp(singles[0].first_solution.potential[a2_nodes]) > 1.0      # not one equipotential


def test_report_lists_pulses_and_currents_per_application(session):
    rep = build_report(session)
    apps = rep["applications"]
    assert [a["voltage_V"] for a in apps] == [420.0, 450.0]
    assert [a["pulses"] for a in apps] == [8, 8] and rep["total_pulses"] == 16
    assert apps[0]["contacts"] == ["a1.A", "a1.B"] and apps[1]["contacts"] == ["a2.A", "a2.B"]
    # mirror-image placements: the current scales with the voltage (within the nonlinearity)
    i1, i2 = apps[0]["max_current_A"], apps[1]["max_current_A"]
    assert i2 > i1 * 450 / 420 * 0.98
    assert [p["anode"] for p in rep["pulses"]] == ["a1.A", "a2.A"]


@pytest.mark.parametrize("change, field", [
    (lambda d: d.update(electrode={"type": "needle-pair"}), "applications"),
    (lambda d: d["applications"][1].update(centre_mm=[-3.5, 0.2]), "applications"),
    (lambda d: d["applications"][0].update(voltage_V=400, field_ratio_V_per_cm=700), "applications[0].voltage_V"),
    (lambda d: d["applications"][0].update(spacng_mm=4), "applications[0].spacng_mm"),
    (lambda d: d.update(applications=[]), "applications"),
])
def test_bad_applications_exit_2_with_one_line(tmp_path, capsys, change, field):
    import tomli_w
    data = copy.deepcopy(TWO)
    change(data)
    src = tmp_path / "s.toml"
    src.write_text(tomli_w.dumps(data))
    assert main(["run", str(src), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"error: {field}:" in err
