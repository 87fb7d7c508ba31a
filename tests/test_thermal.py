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


# ----------------------------------------------------------------------------- engines and skin
def compare_engines(a: dict, b: dict) -> dict:
    """Largest relative differences of two runs of pennes_case.run_case."""
    rise = a["peak"] - a["initial"]
    return dict(current=float(np.max(np.abs(np.array(b["currents"]) / np.array(a["currents"]) - 1))),
                temperature=float(np.max(np.abs(b["final"] - a["final"]) / np.abs(a["final"]))),
                rise=float(np.max(np.abs((b["peak"] - b["initial"]) - rise)) / rise.max()),
                basal=float(np.max(np.abs(b["initial"] - a["initial"]) / np.abs(a["initial"]))))


@pytest.fixture(scope="module")
def embedded_case():
    from pennes_case import run_case
    return run_case("embedded")


def test_pennes_dolfinx_agrees_with_embedded(monkeypatch, capsys):
    """The same train (sigma(E) crossed, alpha = 0.02/K, perfusion, convective skin, field
    re-solves) through the one driver on both engines, with the heat solves at 1e-13: the two
    engines solve the same discrete problem (at the default 1e-11 / 1e-12 see the MPI test)."""
    pytest.importorskip("dolfinx")
    import simulator.engines.dolfinx.heat as dfx_heat
    import simulator.engines.embedded.heat as emb_heat
    from pennes_case import run_case
    monkeypatch.setattr(emb_heat, "STEP_RTOL", 1e-13)
    monkeypatch.setattr(dfx_heat, "STEP_RTOL", 1e-13)
    a, b = run_case("embedded"), run_case("dolfinx")
    assert a["solves"] == b["solves"] > 2                    # the same re-solves (and some stale pulses)
    assert np.allclose(b["exchange"], a["exchange"], rtol=1e-12, atol=1e-15 * a["exchange"].max())
    assert a["exchange"].sum() == pytest.approx(500.0 * 0.01 * 0.004, rel=1e-12)     # h x skin area
    assert np.allclose(b["capacity"], a["capacity"], rtol=1e-12)
    d = compare_engines(a, b)
    with capsys.disabled():
        print(f"\n[pennes dolfinx vs embedded, heat CG 1e-13] {d}")
    assert max(d.values()) < 1e-12
    currents = np.array(a["currents"])
    assert currents[0, -1] > currents[0, 0] * 1.005          # sigma(E, T): the current rises


MPI_PENNES = """
import json, sys
sys.path[:0] = [{root!r}, {tests!r}]
import numpy as np
from mpi4py import MPI
from pennes_case import run_case
r = run_case("dolfinx")
if MPI.COMM_WORLD.rank == 0:
    np.savez({out!r}, **{{k: np.asarray(v) for k, v in r.items()}})
    print("RESULT{{}}")
"""


def test_pennes_mpi_two_ranks_agree_with_embedded(embedded_case, tmp_path, capsys):
    """Default tolerances, DOLFINx on 2 ranks: currents and temperatures to 1e-9; the rise
    (~1.2 K over ~29 C) to 1e-7, as the heat CG stops at 1e-11 of |b| ~ C/dt T per step."""
    pytest.importorskip("dolfinx")
    from pathlib import Path

    from test_dolfinx_engine import _run_ranks
    script = tmp_path / "pennes.py"
    root = Path(__file__).resolve().parents[1]
    script.write_text(MPI_PENNES.format(root=str(root), tests=str(root / "tests"), out=str(tmp_path / "r.npz")))
    _run_ranks(2, script, tmp_path)
    z = np.load(tmp_path / "r.npz")
    b = {k: z[k] for k in z.files}
    d = compare_engines(embedded_case, b)
    with capsys.disabled():
        print(f"\n[pennes dolfinx 2 ranks vs embedded] {d}")
    assert int(b["solves"]) == embedded_case["solves"]
    assert d["current"] < 1e-9 and d["temperature"] < 1e-9 and d["basal"] < 1e-9
    assert d["rise"] < 1e-7


def convective_error(engine_name: str, nz: int, dt: float) -> float:
    """Semi-infinite solid at T_i whose surface z = 0 exchanges heat with ambient T_amb through
    h (Carslaw & Jaeger, Conduction of Heat in Solids, 2nd ed., 1959, section 2.7, eq. (1)):
    (T - T_i) / (T_amb - T_i) = erfc(X) - exp(h x / k + h^2 kappa t / k^2) erfc(X + h sqrt(kappa t) / k),
    X = x / (2 sqrt(kappa t)), x the depth. The max nodal error at t_end / (T_amb - T_i)."""
    from scipy.special import erfc, erfcx

    from simulator.engines.registry import create_engine
    from simulator.meshing.mesh import skin_facets
    h, t_end, depth, Ti, Tamb = 500.0, 10.0, 8e-3, 37.0, 25.0
    dz = depth / nz
    mesh = box_mesh(L=(dz, dz, depth), n=(1, 1, nz))
    M = mesh.num_cells
    eng = create_engine(engine_name, mesh, None)
    heat = eng.heat_operator(np.full(M, K_TISSUE), np.full(M, RHO_C), np.zeros(M), skin_facets(mesh), h)
    T = np.full(mesh.num_points, Ti)
    b = heat.exchange_load(0.0, Tamb)
    for _ in range(round(t_end / dt)):
        T = heat.step(T, dt, b)
    x = -mesh.points[:, 2]
    r = math.sqrt(KAPPA * t_end)
    X, beta = x / (2 * r), h * r / K_TISSUE
    theta = erfc(X) - np.exp(-X * X) * erfcx(X + beta)       # the exp . erfc product, overflow-free
    return float(np.max(np.abs((T - Ti) / (Tamb - Ti) - theta)))


@pytest.mark.parametrize("engine_name", ["embedded", "dolfinx"])
def test_convective_skin_matches_the_semi_infinite_solution(engine_name, capsys):
    """h sqrt(kappa t) / k = 1.14: the surface cools by 61 % of T_i - T_amb in 10 s. Refining
    h by 2 and dt by 4 together: P1 + backward Euler converge at order 2 in h."""
    if engine_name == "dolfinx":
        pytest.importorskip("dolfinx")
    levels = [(16, 0.4), (32, 0.1), (64, 0.025)]
    errors = [convective_error(engine_name, nz, dt) for nz, dt in levels]
    order = fitted_order([8e-3 / nz for nz, _ in levels], errors)
    with capsys.disabled():
        print(f"\n[convective skin, {engine_name}] errors {errors}, order {order:.3f}")
    assert errors[-1] < 2e-3
    assert order == pytest.approx(2.0, abs=0.15)


@pytest.mark.parametrize("old, new, field, text", [
    ("[thermal]", '[thermal]\nskin = "wet"', "thermal.skin", "'wet'"),
    ("[thermal]", '[thermal]\nskin = "convective"\nskin_h_W_per_m2K = -5', "thermal.skin_h_W_per_m2K", "-5"),
    ("[thermal]", '[thermal]\nskin = "convective"\nskin_h_W_per_m2K = 0', "thermal.skin_h_W_per_m2K", "> 0"),
    ("[thermal]", '[thermal]\nskin = "convective"\nambient_C = 400', "thermal.ambient_C", "400"),
    ("[thermal]", "[thermal]\nskin_h_W_per_m2K = 10", "thermal.skin_h_W_per_m2K", "convective"),
])
def test_bad_skin_input_names_the_field(old, new, field, text):
    test_bad_thermal_input_names_the_field(old, new, field, text)


def test_convective_skin_in_the_resolved_scenario_and_report(needle_runs):
    """The needle pair with a convective skin (default h and T_amb): the settings are in the
    resolved scenario and in the report, and the skin cools the basal state below 37 C (an
    insulated block sits at T_a + q_m / (rho_b c_b w_b) everywhere)."""
    import tomllib

    from simulator import build_report, run, scenario_from_dict
    from simulator.scenario.resolve import resolved_dict
    text = NEEDLES.replace("FREQ", "1.0").replace("[thermal]", '[thermal]\nskin = "convective"')
    sc = scenario_from_dict(tomllib.loads(text))
    th = resolved_dict(sc)["thermal"]
    assert (th["skin"], th["skin_h_W_per_m2K"], th["ambient_C"]) == ("convective", 10.0, 25.0)
    assert scenario_from_dict(resolved_dict(sc)).thermal == sc.thermal
    res = run(sc, mesh=needle_runs[False, 1.0].mesh)
    rep = build_report(res)["thermal"]
    assert (rep["skin"], rep["skin_h_W_per_m2K"], rep["ambient_C"]) == ("convective", 10.0, 25.0)
    insulated = needle_runs[False, 1.0].thermal
    from simulator.meshing.mesh import facet_areas, skin_facets
    skin = skin_facets(res.mesh)                             # the 16 x 16 mm top minus two needle holes
    assert np.all(res.mesh.points[skin, 2] == 0.0)
    hole = math.pi * 0.35e-3 ** 2                            # 0.7 mm needles (polygonal holes: 2e-4 smaller)
    assert facet_areas(res.mesh.points, skin).sum() == pytest.approx(0.016 ** 2 - 2 * hole, rel=5e-4)
    assert res.thermal.initial_C.min() < 37.0 - 0.1 and insulated.initial_C.min() == pytest.approx(37.0 + 420.0 / (1060.0 * 3600.0 * 0.0044), abs=1e-9)
    assert res.thermal.peak_C.max() < insulated.peak_C.max()


def test_thermal_figures_by_tissue_sum_each_materials_cells():
    """Volumes above 43 / 50 C per tissue (materials indexed, not a per-cell array of names):
    each material's sum over its own hot cells, materials without a hot cell left out, a
    region without cells absent, names sorted."""
    from types import SimpleNamespace as NS
    from simulator.post.thermal import thermal_figures
    rng = np.random.default_rng(4)
    M, Q = 400, 1
    regions = [NS(material="muscle"), NS(material="fat"), NS(material="tumour"), NS(material="skin"),
               NS(material="bone")]
    cell_region = rng.choice([0, 1, 2, 3], size=M)                 # "bone" has no cell
    rise = rng.uniform(0.0, 20.0, (M, Q))
    rise[cell_region == 3] = 1.0                                    # skin stays below 43 C
    w = rng.uniform(1e-12, 2e-12, (M, Q))
    result = NS(scenario=NS(thermal=NS(model="adiabatic", initial_C=37.0)), thermal=None,
                mesh=NS(regions=regions, cell_region=cell_region),
                train=NS(temperature_rise=rise, weights=w))
    fig = thermal_figures(result)
    names = np.array([r.material for r in regions])[cell_region]
    for lv in (43.0, 50.0):
        want = {m: float(w[:, 0][(37.0 + rise[:, 0] > lv) & (names == m)].sum())
                for m in sorted(set(names)) if ((37.0 + rise[:, 0] > lv) & (names == m)).any()}
        assert fig.volume_above_by_tissue[lv] == want
        assert list(want) == ["fat", "muscle", "tumour"]
