"""studies.nominal: a sample started from the nominal run's fields converges to its own
solution (equal to its cold run to ~1e-6 on the report's numbers) in fewer iterations; the
electrode-frame map takes every moved needle's axis onto its nominal axis."""
import copy

import numpy as np
import pytest

from simulator.engines import create_engine
from simulator.meshing.cache import mesh_key
from simulator.scenario import scenario_from_dict
from simulator.solve.pipeline import build_mesh_for, run
from simulator.studies.executor import plan_tasks, run_task
from simulator.studies.robustness import Spreads, perturbed_data, perturbed_materials
from simulator.studies.nominal import Nominal, Recorder, frame_map, placement_of

# a needle pair that covers the margin only in part (so that the fractions can differ)
PARTIAL = {"name": "warm", "tissue": {"size_mm": [20, 20, 12], "layers": [{"material": "muscle"}]},
           "tumours": [{"diameter_mm": 4.0, "depth_mm": 4.0, "margin_mm": 0.5}],
           "electrode": {"type": "needle-pair", "spacing_mm": 6.0, "insertion_depth_mm": 8.0},
           "protocol": {"preset": "esope", "voltage_V": 420.0},
           "mesh": {"size_mm": 1.5, "far_size_mm": 5.0, "accuracy": 0}}


def test_frame_map_takes_each_moved_needle_onto_its_nominal_axis():
    data = {**PARTIAL, "electrode": {"catalogue": "hexagonal-20", "rotation_deg": 20.0}}
    data["tissue"] = {"size_mm": [40, 40, 30]}
    nominal = scenario_from_dict(data).electrode
    assert frame_map(placement_of(nominal), placement_of(nominal), nominal.contact_names) is None
    moved, drawn = perturbed_data(data, np.random.default_rng(2), Spreads(placement_sd_mm=1.0, tilt_sd_deg=5.0))
    assert drawn["tilt_deg"][0] > 1.0
    sample = scenario_from_dict(moved).electrode
    to_nominal = frame_map(placement_of(nominal), placement_of(sample), sample.contact_names)
    d = np.linspace(0.0, 0.02, 5)[:, None]                  # m along each needle
    for n0, n1 in zip(nominal.needles, sample.needles):
        assert not np.allclose(n0.entry + d * n0.axis, n1.entry + d * n1.axis, atol=1e-4)   # it moved
        np.testing.assert_allclose(to_nominal(n1.entry + d * n1.axis), n0.entry + d * n0.axis, atol=1e-11)
    # every configuration (pair of needles) of the moved array has the one frame: the points
    # are located once per sample, and the same map serves whichever is solved first
    from simulator.studies.nominal import _frame
    p0, p1 = placement_of(nominal), placement_of(sample)
    names = sample.contact_names
    frames = {np.concatenate(_frame(p0, p1, (a, b))).tobytes() for a in names for b in names if a < b}
    assert len(frames) == 1


def _nominal(data):
    base = scenario_from_dict(data)
    mesh, _ = build_mesh_for(base)
    rec = {}

    def recording(name, m, settings):
        rec["r"] = Recorder(create_engine(name, m, settings))
        return rec["r"]
    run(base, mesh=mesh, make_engine=recording)
    return base, mesh, Nominal.of(mesh_key(base), mesh, base.electrode, rec["r"])


def _numbers(report):
    """The report's numbers that a start could change: coverage, volumes, currents."""
    out = [t[k] for t in report["tumours"] for k in ("tumour_reversible_fraction", "tumour_irreversible_fraction",
                                                    "margin_reversible_fraction")]
    out += [v for v in report["volumes_mm3"].values() if v is not None]
    return out + [p["current_A"] for p in report["pulses"]] + [report["max_field_V_per_cm"]]


@pytest.mark.parametrize("spreads", [Spreads(placement_sd_mm=1.0, tilt_sd_deg=4.0, sigma_rel_sd=0.2),
                                     Spreads(sigma_rel_sd=0.2, threshold_rel_sd=0.1)],
                         ids=["new-mesh", "same-mesh"])
def test_warm_sample_equals_its_cold_run(spreads):
    base, mesh, nominal = _nominal(PARTIAL)
    rng = np.random.default_rng(5)
    moved, _ = perturbed_data(copy.deepcopy(PARTIAL), rng, spreads)
    sc = scenario_from_dict(moved) if spreads.moves_needles else base
    sc, _ = perturbed_materials(sc, rng, spreads)
    key = f"sample:{mesh_key(sc)}" if spreads.moves_needles else mesh_key(base)
    meshes = {} if spreads.moves_needles else {key: mesh}
    cold_task = plan_tasks([sc], [key], None)[0]
    warm_task = copy.copy(cold_task)
    warm_task.warm = "nominal"
    cold = run_task(cold_task, meshes)[0].report
    warm = run_task(warm_task, meshes, nominals={"nominal": nominal})[0].report
    assert cold["solver"]["dofs"] == warm["solver"]["dofs"] == (mesh.num_points if not spreads.moves_needles
                                                               else cold["solver"]["dofs"])
    assert 0.5 < cold["tumours"][0]["margin_reversible_fraction"] < 0.9999      # not a trivial 1.0
    assert warm["coverage"]["covered"] == cold["coverage"]["covered"]
    assert _numbers(warm) == pytest.approx(_numbers(cold), rel=1e-6, abs=1e-9)
    # the start was used: fewer Newton and CG iterations than the cold run
    assert warm["solver"]["nonlinear_iterations"] < cold["solver"]["nonlinear_iterations"]
    assert warm["solver"]["linear_iterations"] < cold["solver"]["linear_iterations"]
