"""Pennes bioheat stepping (issue 12, item 1): exact solutions of the temperature and the
per-pulse current, the order of the scheme, and the role of the pulse rate."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import erf

from protocols.pulses import Protocol, PulseGroup
from simulator.engines.base import SolverSettings
from simulator.engines.embedded import EmbeddedEngine
from simulator.engines.embedded.heat import assemble_heat
from simulator.physics.bioheat import cell_average
from simulator.physics.conductivity import CellConductivity
from simulator.solve.thermal import PennesSettings, run_pennes
from structured import box_mesh

RHO_C = 1050.0 * 3600.0          # J/(m^3 K)
K_TISSUE = 0.512                 # W/(m K)
L = 0.01


def constant_law(M, sigma0):
    return CellConductivity(np.full(M, sigma0), np.full(M, sigma0), np.full(M, 4e4), np.full(M, 8e4),
                            np.zeros(M, dtype=np.int64), ("constant",))


@pytest.fixture(scope="module")
def plates():
    mesh = box_mesh(L=(L, 0.004, 0.004), n=(5, 2, 2))
    return mesh, EmbeddedEngine(mesh, SolverSettings())


@pytest.mark.parametrize("frequency", [1.0, 5000.0])
def test_clamped_plates_follow_the_closed_form_at_every_pulse(plates, frequency):
    """Uniform field E = V/L, sigma = sigma0 (1 + alpha dT), no perfusion: at every pulse end
    dT(t) = (exp(alpha sigma0 E^2 t / (rho c)) - 1) / alpha with t the on-time so far, and
    the current of pulse k is sigma0 (1 + alpha dT((k - 1) tau)) E A; the rate changes
    nothing (the field is uniform: diffusion does nothing)."""
    mesh, eng = plates
    M = mesh.num_cells
    sigma0, alpha, V, tau, n = 0.5, 0.02, 1000.0, 100e-6, 80
    protocol = Protocol((PulseGroup(("A",), ("B",), V, n, tau, frequency, "A", "B"),))
    heat = assemble_heat(mesh, np.full(M, K_TISSUE), np.full(M, RHO_C), np.zeros(M))
    train, hist = run_pennes(eng, protocol, constant_law(M, sigma0), ("A", "B"), heat, np.full(M, RHO_C),
                             np.full(M, alpha), np.zeros(M), PennesSettings(steps_per_pulse=2), progress=None)
    E = V / L
    a = sigma0 * E * E / RHO_C                                  # K/s at T0: 1323 K/s
    closed = lambda t: math.expm1(alpha * a * t) / alpha        # noqa: E731
    assert closed(n * tau) > 10.0                               # alpha dT ~ 0.2: the exponential matters
    currents = np.array(train.groups[0].currents)
    I0 = sigma0 * E * 0.004 * 0.004
    expected = I0 * (1 + alpha * np.array([closed(k * tau) for k in range(n)]))
    assert np.max(np.abs(currents / expected - 1)) < 1e-3
    assert hist.final_C.max() - 37.0 == pytest.approx(closed(n * tau), rel=1e-3)
    assert np.ptp(hist.final_C) < 1e-6 * closed(n * tau)       # stays uniform
    assert train.groups[0].current == currents[0]


# ----------------------------------------------------------------------------- 1-D diffusion
KAPPA = K_TISSUE / RHO_C
A_SLAB, Q, T_ON, T_END, LX = 0.5e-3, 1e8, 0.2, 0.5, 4e-3     # heated slab |x - LX/2| < A_SLAB


def slab_exact(x: np.ndarray, t: float) -> np.ndarray:
    """Heated slab in an infinite medium: source Q (W/m^3) for 0 < t < T_ON (erf solution)."""
    xi = x - LX / 2

    def phi(s, xv):
        r = 2 * math.sqrt(KAPPA * s)
        return 0.5 * (erf((A_SLAB - xv) / r) + erf((A_SLAB + xv) / r))

    lo = max(0.0, t - T_ON)
    return np.array([Q / RHO_C * quad(phi, lo, t, args=(v,), epsabs=1e-13, epsrel=1e-11)[0] for v in xi])


def slab_error(nx: int, dt: float) -> float:
    h = LX / nx
    mesh = box_mesh(L=(LX, h, h), n=(nx, 1, 1))
    M = mesh.num_cells
    heat = assemble_heat(mesh, np.full(M, K_TISSUE), np.full(M, RHO_C), np.zeros(M))
    inside = np.abs(mesh.centroids()[:, 0] - LX / 2) < A_SLAB
    f = heat.load(np.where(inside, Q, 0.0))
    T = np.zeros(mesh.num_points)
    for _ in range(round(T_ON / dt)):
        T = heat.step(T, dt, f)
    for _ in range(round((T_END - T_ON) / dt)):
        T = heat.step(T, dt, np.zeros_like(f))
    x = mesh.points[:, 0]
    on_axis = (mesh.points[:, 1] == 0) & (mesh.points[:, 2] == 0)
    ref = slab_exact(x[on_axis], T_END)
    return float(np.max(np.abs(T[on_axis] - ref)) / ref.max())


def fitted_order(sizes, errors) -> float:
    return float(np.polyfit(np.log(sizes), np.log(errors), 1)[0])


def test_heated_slab_backward_euler_is_first_order_in_time():
    dts = [0.05, 0.025, 0.0125]
    errors = [slab_error(160, dt) for dt in dts]
    assert errors[-1] < 5e-3
    assert fitted_order(dts, errors) == pytest.approx(1.0, abs=0.15)


def test_heated_slab_p1_is_second_order_in_space():
    hs = [LX / 16, LX / 32, LX / 64]
    errors = [slab_error(round(LX / h), 1e-3) for h in hs]
    assert errors[-1] < 5e-3
    assert fitted_order(hs, errors) == pytest.approx(2.0, abs=0.25)


def test_cell_average_and_load_are_consistent():
    mesh = box_mesh(L=(L, L, L), n=(3, 3, 3))
    heat = assemble_heat(mesh, np.ones(mesh.num_cells), np.ones(mesh.num_cells), np.zeros(mesh.num_cells))
    x = mesh.points[:, 0]
    assert np.allclose(cell_average(mesh.tets, x), mesh.centroids()[:, 0])
    assert heat.load(np.full(mesh.num_cells, 2.0)).sum() == pytest.approx(2.0 * L ** 3, rel=1e-12)
    assert np.allclose(heat.K @ np.ones(mesh.num_points), 0.0, atol=1e-12)


# ----------------------------------------------------------------------------- needle pair
NEEDLES = """\
name = "needles-pennes"
[tissue]
size_mm = [16, 16, 10]
layers = [ { material = "muscle" } ]
[electrode]
type = "needle-pair"
spacing_mm = 7.3
insertion_depth_mm = 7.0
[protocol]
pulses = 8
voltage_V = 1300
frequency_Hz = FREQ
[mesh]
size_mm = 2.5
accuracy = 0
[thermal]
model = "pennes"
resolve_tolerance = 0.01
[materials.muscle]
temperature_coefficient_per_K = 0.015
"""
STILL = "thermal_conductivity_W_per_m_K = 0\nperfusion_per_s = 0\nmetabolic_heat_W_per_m3 = 0\n"


@pytest.fixture(scope="module")
def needle_runs():
    import tomllib

    from simulator import run, scenario_from_dict
    out, mesh = {}, None
    for still in (False, True):
        for f in (1.0, 5000.0):
            sc = scenario_from_dict(tomllib.loads(NEEDLES.replace("FREQ", str(f)) + (STILL if still else "")))
            out[still, f] = run(sc, mesh=mesh)
            mesh = out[still, f].mesh
    return out


def test_needle_pair_cools_between_slow_pulses(needle_runs):
    slow, fast = needle_runs[False, 1.0].thermal, needle_runs[False, 5000.0].thermal
    rise_slow, rise_fast = slow.peak_C.max() - 37.0, fast.peak_C.max() - 37.0
    assert rise_fast > 2.0                                   # the needle surface heats by a few K
    assert rise_slow < 0.7 * rise_fast                       # at 1 Hz it cools between pulses
    assert needle_runs[False, 1.0].thermal.dt_between == {1.0: pytest.approx(0.9999 / 20)}


def test_without_conduction_and_perfusion_the_rate_changes_nothing(needle_runs):
    slow, fast = needle_runs[True, 1.0], needle_runs[True, 5000.0]
    assert slow.thermal.peak_C == pytest.approx(fast.thermal.peak_C, rel=1e-9, abs=1e-9)
    assert slow.train.groups[0].currents == pytest.approx(fast.train.groups[0].currents, rel=1e-9)
    currents = slow.train.groups[0].currents
    assert currents[-1] > currents[0] * 1.001                # sigma(E, T): the current rises


def test_pennes_without_temperature_coefficient_keeps_the_adiabatic_field():
    """alpha = 0: the thermal model changes temperatures only: fields and coverage are those
    of the adiabatic (default) run, bit for bit."""
    import tomllib

    from simulator import run, scenario_from_dict
    text = NEEDLES.replace("FREQ", "5000").replace("temperature_coefficient_per_K = 0.015",
                                                   "temperature_coefficient_per_K = 0.0")
    pennes = run(scenario_from_dict(tomllib.loads(text)))
    adiabatic = run(scenario_from_dict(tomllib.loads(text.replace('model = "pennes"', 'model = "adiabatic"'))),
                    mesh=pennes.mesh)
    assert np.array_equal(pennes.train.E_max, adiabatic.train.E_max)
    assert pennes.volumes == adiabatic.volumes
    assert [z.extent for z in pennes.zones] == [z.extent for z in adiabatic.zones]
    assert pennes.train.groups[0].current == adiabatic.train.groups[0].current
    # and the adiabatic rise bounds the Pennes one (conduction and perfusion only remove heat)
    assert pennes.train.temperature_rise.max() <= adiabatic.train.temperature_rise.max()


def test_report_states_what_the_rate_changed(needle_runs):
    """Adiabatic, no cell kill: 1 Hz and 5 kHz give identical results, and the report says the
    rate changed nothing but the treatment time; with Pennes it names the temperatures."""
    import tomllib

    from simulator import build_report, run, scenario_from_dict
    mesh = needle_runs[False, 1.0].mesh
    reports = []
    for f in (1.0, 5000.0):
        text = NEEDLES.replace("FREQ", str(f)).replace('model = "pennes"\nresolve_tolerance = 0.01', "")
        res = run(scenario_from_dict(tomllib.loads(text)), mesh=mesh)
        reports.append((res, build_report(res)))
    (slow, r1), (fast, r2) = reports
    assert np.array_equal(slow.train.E_max, fast.train.E_max)
    assert np.array_equal(slow.train.temperature_rise, fast.train.temperature_rise)
    assert r1["thermal"] == r2["thermal"]
    assert r1["protocol"]["effects"]["frequency_Hz"].startswith("nothing but the treatment time (7 s)")
    assert r2["protocol"]["treatment_time_s"] == pytest.approx(7 / 5000 + 100e-6)
    pennes = build_report(needle_runs[False, 1.0])
    assert pennes["protocol"]["effects"]["frequency_Hz"].startswith("temperatures (cooling between pulses)")
    assert pennes["thermal"]["max_temperature_C"] < build_report(needle_runs[False, 5000.0])["thermal"][
        "max_temperature_C"]
    assert len(pennes["pulses"][0]["currents_A"]) == 8


def test_pulse_temperature_figure_shows_both_rates(needle_runs, tmp_path):
    from matplotlib.image import imread

    from simulator.output.thermal_figure import plot_pulse_temperatures
    slow, fast = needle_runs[False, 1.0].thermal, needle_runs[False, 5000.0].thermal
    assert len(slow.pulse_end_max_C) == 8 and slow.pulse_end_max_C[-1] < fast.pulse_end_max_C[-1]
    assert slow.pulse_end_max_C[0] == pytest.approx(fast.pulse_end_max_C[0], rel=1e-3)   # same first pulse
    img = imread(plot_pulse_temperatures({"5 kHz": fast, "1 Hz": slow}, tmp_path / "t.png"))[..., :3]
    red = (img[..., 0] > 0.7) & (img[..., 1] < 0.3) & (img[..., 2] < 0.3)
    blue = (img[..., 2] > 0.6) & (img[..., 0] < 0.3)
    assert red.sum() > 200 and blue.sum() > 200


@pytest.mark.parametrize("old, new, field, text", [
    ('model = "pennes"', 'model = "bioheat"', "thermal.model", "'bioheat'"),
    ("[thermal]", "[thermal]\nsteps_per_pulse = 0", "thermal.steps_per_pulse", "0"),
    ("[thermal]", "[solver]\ndegree = 2\n[thermal]", "thermal.model", "degree"),
    ("[thermal]", '[solver]\nmodel = "monotone"\n[thermal]', "thermal.model", "monotone"),
    ("frequency_Hz = 5000", "frequency_Hz = 20000", "protocol.frequency_Hz", "20000"),
    ("[materials.muscle]", "[materials.muscle]\nperfusion_per_s = -1", "materials.muscle.perfusion_per_s", "-1"),
])
def test_bad_thermal_input_names_the_field(old, new, field, text):
    import tomllib

    from simulator import scenario_from_dict
    from simulator.errors import ScenarioError
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(tomllib.loads(NEEDLES.replace("FREQ", "5000").replace(old, new, 1)))
    assert exc.value.field == field and text in str(exc.value)


def test_pennes_with_dolfinx_is_refused_in_one_line(tmp_path, capsys):
    pytest.importorskip("dolfinx")
    from simulator.cli import main
    path = tmp_path / "p.toml"
    path.write_text(NEEDLES.replace("FREQ", "5000"))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--engine", "dolfinx", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("epsim: error: thermal.model: pennes is implemented for the embedded")
    assert not (tmp_path / "out").exists()
