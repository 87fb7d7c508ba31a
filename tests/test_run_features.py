"""Features through the whole run() (scenario -> gmsh mesh -> engine -> pulse train -> post),
each against a closed form or a physical inequality:

* adiabatic heating on clamped plates (uniform field): dT = n tau sigma E^2 / (rho c);
* the temperature-coefficient feedback: group k conducts with sigma (1 + alpha dT_before_k);
* ``idle_contacts = "insulating"``: an idle needle is no equipotential and carries the
  current less well than a floating one (Rayleigh: an equipotential only adds conductance);
* P2 through run(): a uniform field exact, and the two-wire current closer than P1;
* the monotone model over several pulse groups: the conductivity reached carries over;
* ``solver.converged`` in the report is the solve's verdict.
"""
import dataclasses
import math

import numpy as np
import pytest

from simulator.meshing.build import build_mesh
from simulator.output.report import build_report
from simulator.scenario import scenario_from_dict
from simulator.solve.pipeline import run

RHO, C_HEAT = 1000.0, 4000.0            # kg/m^3, J/(kg K) of the test gel [A]
GEL = {"sigma0_S_per_m": 0.2, "sigma1_S_per_m": 0.2, "E_rev_V_per_cm": 400, "E_irr_V_per_cm": 800,
       "conductivity_model": "constant", "density_kg_per_m3": RHO, "heat_capacity_J_per_kg_K": C_HEAT}
GAP, LENGTH, DEPTH = 8e-3, 10e-3, 6e-3   # m: the clamped block is GAP x LENGTH x DEPTH


def clamped(voltage, pulses, sequence=None, alpha=0.0, degree=1, model="constant"):
    protocol = {"voltage_V": voltage, "pulses": pulses, "pulse_duration_us": 100.0}
    if sequence:
        protocol["sequence"] = sequence
    gel = dict(GEL, temperature_coefficient_per_K=alpha, conductivity_model=model)
    if model != "constant":
        gel["sigma1_S_per_m"] = 0.6
    return scenario_from_dict({
        "name": "clamped-gel", "tissue": {"size_mm": [8, 10, 6], "layers": [{"material": "gel"}]},
        "electrode": {"type": "plates", "gap_mm": 8, "length_mm": 10, "depth_mm": 6},
        "protocol": protocol, "materials": {"gel": gel}, "solver": {"degree": degree},
        "mesh": {"size_mm": 3.0, "cache": False, "accuracy": 0}})


@pytest.fixture(scope="module")
def plates_mesh():
    return build_mesh(clamped(400.0, 8))


def test_adiabatic_temperature_rise_closed_form(plates_mesh):
    V, n, tau, sigma = 480.0, 8, 100e-6, 0.2
    res = run(clamped(V, n), mesh=plates_mesh)
    E = V / GAP
    dT = n * tau * sigma * E**2 / (RHO * C_HEAT)                # = 0.1152 K
    np.testing.assert_allclose(res.train.temperature_rise, dT, rtol=1e-9)
    assert build_report(res)["max_temperature_rise_K"] == pytest.approx(dT, rel=1e-5)


def test_temperature_coefficient_feeds_back_group_by_group(plates_mesh):
    """Three groups of 100 pulses at 1000 V/cm, alpha = 0.02 /K: each group conducts with
    sigma (1 + alpha dT) of the heat the groups before it deposited (exact recursion)."""
    V, n, tau, s0, alpha = 800.0, 100, 100e-6, 0.2, 0.02
    seq = [["A", "B"], ["B", "A"], ["A", "B"]]
    res = run(clamped(V, n, seq, alpha=alpha), mesh=plates_mesh)
    E, area = V / GAP, LENGTH * DEPTH
    T, expected = 0.0, []
    for _ in seq:
        sigma = s0 * (1 + alpha * T)
        expected.append(sigma * area * E)
        T += n * tau * sigma * E**2 / (RHO * C_HEAT)
    got = [abs(g.current) for g in res.train.groups]
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert expected[2] / expected[0] - 1 > 0.2                   # the feedback is large here: +21 %
    np.testing.assert_allclose(res.train.temperature_rise, T, rtol=1e-9)
    # without the coefficient every group draws the same current
    flat = run(clamped(V, n, seq), mesh=plates_mesh)
    np.testing.assert_allclose([abs(g.current) for g in flat.train.groups], expected[0], rtol=1e-9)


def test_p2_through_run_uniform_field_exact(plates_mesh):
    V = 480.0                                                    # 600 V/cm: in the smoothstep transition
    res = run(clamped(V, 8, degree=2, model="smoothstep"), mesh=plates_mesh)
    from simulator.physics.conductivity import get_model
    E = V / GAP
    sigma = get_model("smoothstep").sigma(np.array([E]), 0.2, 0.6, 4e4, 8e4)[0]
    edges = {tuple(sorted((int(t[i]), int(t[j])))) for t in plates_mesh.tets for i in range(4) for j in range(i)}
    assert res.dofs == plates_mesh.num_points + len(edges)       # quadratic Lagrange: vertices + edges
    assert res.train.E_max.shape[1] > 1                          # several sample points per cell
    np.testing.assert_allclose(res.train.E_max, E, rtol=1e-7)
    assert res.train.groups[0].current == pytest.approx(sigma * LENGTH * DEPTH * E, rel=1e-7)
    assert build_report(res)["solver"]["degree"] == 2


def test_report_converged_is_the_solves_verdict(plates_mesh):
    res = run(clamped(400.0, 8), mesh=plates_mesh)
    assert res.train.converged is True and build_report(res)["solver"]["converged"] is True
    groups = [dataclasses.replace(g, converged=False) for g in res.train.groups]
    forged = dataclasses.replace(res, train=dataclasses.replace(res.train, groups=groups))
    assert build_report(forged)["solver"]["converged"] is False


def three_needles(idle="floating", model="stationary", sequence=(("A", "B"),), material=None):
    mats = {"gel": GEL} if material is None else {}
    return scenario_from_dict({
        "name": "three-needles",
        "tissue": {"size_mm": [24, 14, 10], "layers": [{"material": material or "gel"}]},
        "electrode": {"type": "needles", "insertion_depth_mm": 6, "needle_diameter_mm": 0.7,
                      "needles": [{"name": "A", "position_mm": [-5, 0]}, {"name": "C", "position_mm": [0, 0]},
                                  {"name": "B", "position_mm": [5, 0]}]},
        "protocol": {"voltage_V": 500.0, "pulses": 8, "sequence": [list(p) for p in sequence]},
        "materials": mats, "solver": {"idle_contacts": idle, "model": model},
        "mesh": {"size_mm": 2.0, "contact_size_mm": 0.5, "cache": False, "accuracy": 0}})


def test_idle_contacts_insulating_through_a_whole_run():
    sc_f, sc_i = three_needles("floating"), three_needles("insulating")
    mesh = build_mesh(sc_f)
    fl, ins = run(sc_f, mesh=mesh), run(sc_i, mesh=mesh)
    c_nodes = mesh.contact_nodes("C")
    pf = fl.train.first_solution.potential[c_nodes]
    pi = ins.train.first_solution.potential[c_nodes]
    assert np.ptp(pf) < 1e-6 * 500                               # floating: one potential
    assert 100 < np.mean(pf) < 400                               # between the anode and the cathode
    assert np.ptp(pi) > 5.0                                      # insulating: the field crosses it
    assert set(fl.train.groups[0].floating_potentials) == {"C"}
    assert ins.train.groups[0].floating_potentials == {}
    i_f, i_i = abs(fl.train.groups[0].current), abs(ins.train.groups[0].current)
    print(f"floating {i_f:.5g} A vs insulating {i_i:.5g} A ({i_f / i_i - 1:+.2%})")
    assert i_f > i_i * (1 + 1e-3)
    assert build_report(ins)["solver"]["idle_contacts"] == "insulating"


def test_monotone_model_carries_conductivity_over_groups():
    """Monotone (sequential) model, muscle: A->B, B->A, B->C. B->A sees the same |E| as A->B,
    whose fixed point it starts from: the same current. B->C starts from the conductivity
    A->B left around B, so it draws more than B->C fired alone (stationary can't remember)."""
    seq = (("A", "B"), ("B", "A"), ("B", "C"))
    sc = three_needles(idle="insulating", model="monotone", sequence=seq, material="muscle")
    mesh = build_mesh(sc)
    train = run(sc, mesh=mesh).train
    alone = run(three_needles("insulating", "monotone", (("B", "C"),), "muscle"), mesh=mesh).train
    first = run(three_needles("insulating", "monotone", (("A", "B"),), "muscle"), mesh=mesh).train
    i = [abs(g.current) for g in train.groups]
    print(f"monotone currents {i}, B->C alone {abs(alone.groups[0].current):.5g} A")
    assert i[0] == abs(first.groups[0].current)                   # the same computation
    assert i[1] == pytest.approx(i[0], rel=1e-3)                  # tolerance of the monotone iteration
    assert i[2] > abs(alone.groups[0].current) * (1 + 1e-3)


def test_two_wire_p2_beats_p1_on_the_same_mesh():
    from test_verification import two_needles
    raw = two_needles(0.2)
    sigma, U, L, d, a = 0.2, 400.0, 2e-3, 4e-3, 0.35e-3
    exact = math.pi * sigma * L * U / math.acosh(d / (2 * a))    # domain.md 5.1
    sc1 = scenario_from_dict(raw)
    mesh = build_mesh(sc1)
    e1 = abs(run(sc1, mesh=mesh).train.groups[0].current / exact - 1)
    e2 = abs(run(scenario_from_dict({**raw, "solver": {"degree": 2}}), mesh=mesh).train.groups[0].current
             / exact - 1)
    print(f"two-wire current error on one mesh: P1 {e1:.3%}, P2 {e2:.3%}")
    assert e2 < 0.5 * e1
