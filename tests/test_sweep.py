"""Studies (issue 14): with_changes, variations and grids, epsim sweep (rows equal single
runs, one mesh per geometry, exact voltage scaling, partial output on Ctrl-C, --jobs)."""
import csv
import json

import numpy as np
import pytest

from simulator import build_report, run, scenario_from_dict
from simulator.cli import main
from simulator.errors import ScenarioError
from simulator.studies.scaling import SharedSolutions, field_family, field_keys
from simulator.studies.sweep import plan_sweep, run_sweep
from simulator.studies.table import report_row
from simulator.studies.variation import grid, parse_variation
from study_pages import assert_self_contained, read_study_page

SMALL = {
    "name": "small-pair",
    "tissue": {"size_mm": [16, 16, 10]},
    "tumours": [{"diameter_mm": 4.0, "depth_mm": 4.0, "margin_mm": 0.5}],
    "electrode": {"type": "needle-pair", "spacing_mm": 6.0, "insertion_depth_mm": 7.0},
    "protocol": {"preset": "esope"},
    "mesh": {"size_mm": 2.5, "cache": False, "accuracy": 0},
}
SKIP = ("run_time_s", "run", "field_solves", "solver.nonlinear_iterations")


def assert_rows_equal(a: dict, b: dict, rel: float = 1e-9) -> None:
    for key, value in b.items():
        if key in SKIP or key.startswith("protocol.") or key == "conductivity_model":
            continue
        if isinstance(value, float) and not isinstance(value, bool):
            assert a[key] == pytest.approx(value, rel=rel, abs=1e-12), key
        else:
            assert a[key] == value, key


@pytest.fixture(scope="module")
def base():
    return scenario_from_dict(SMALL)


@pytest.fixture(scope="module")
def counted_sweeps(base):
    """A nonlinear (smoothstep) and a linear (constant) voltage sweep, mesh builds counted."""
    from simulator.meshing import cache as mesh_cache
    calls = []
    real = mesh_cache.build_mesh_isolated     # meshing runs in a child process: count in the parent
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mesh_cache, "build_mesh_isolated", lambda *a, **k: calls.append(1) or real(*a, **k))
        out = {}
        for model in ("smoothstep", "constant"):
            sw = plan_sweep(base.with_conductivity_model(model), [parse_variation("protocol.voltage_V=400,800")])
            before = len(calls)
            run_sweep(sw)
            out[model] = (sw, len(calls) - before)
    return out


def test_with_changes_is_read_like_a_file(base):
    sc = base.with_changes({"protocol.voltage_V": 600, "tumours.0.depth_mm": 5.0})
    data = json.loads(json.dumps(SMALL))
    data["protocol"]["voltage_V"] = 600
    data["tumours"][0]["depth_mm"] = 5.0
    assert sc == scenario_from_dict(data)
    assert sc.protocol.groups[0].voltage == 600.0 and sc.tumours[0].centre[2] == pytest.approx(-5e-3)
    assert base.with_voltage(500).with_changes({"mesh.size_mm": 3.0}).protocol.groups[0].voltage == 500.0
    ratio = base.with_changes({"protocol.field_ratio_V_per_cm": 1000})    # replaces voltage_V / preset's
    assert ratio.protocol.groups[0].voltage == pytest.approx(600.0)


@pytest.mark.parametrize("changes, field", [
    ({"protocol.voltag_V": 600}, "protocol.voltag_V"),
    ({"protocol.voltage_V": "high"}, "protocol.voltage_V"),
    ({"tumours.2.depth_mm": 5}, "tumours.2.depth_mm"),
    ({"materials.tumour.sigma0_S_per_m": -1}, "materials.tumour.sigma0_S_per_m"),
    ({"conductivity_model": "quadratic"}, "conductivity_model"),
    ({"tumours.0.depth_mm": 9.5}, "tumours[0]"),            # geometry: crosses the block bottom
])
def test_with_changes_bad_key_or_value_names_it(base, changes, field):
    with pytest.raises(ScenarioError) as info:
        base.with_changes(changes)
    assert info.value.field == field and "\n" not in str(info.value)


def test_with_changes_refuses_a_stale_source(base):
    from dataclasses import replace
    moved = replace(base, protocol=base.protocol.scaled(2.0))       # source not updated
    with pytest.raises(ScenarioError, match="with_changes only"):
        moved.with_changes({"mesh.size_mm": 3.0})


def test_conductivity_model_sets_every_material_unless_its_own(base):
    sc = base.with_conductivity_model("linear")
    assert {m.conductivity_model for m in sc.materials.values()} == {"linear"}
    own = base.with_changes({"conductivity_model": "constant", "materials.tumour.conductivity_model": "sigmoid"})
    assert own.materials["tumour"].conductivity_model == "sigmoid"
    assert own.materials["fat"].conductivity_model == "constant"


def test_variations_lists_ranges_and_grid_order():
    assert parse_variation("protocol.voltage_V=400:1200:100").values == tuple(range(400, 1201, 100))
    assert parse_variation("electrode.spacing_mm=5:6:0.25").values == (5.0, 5.25, 5.5, 5.75, 6.0)
    assert parse_variation("conductivity_model=constant,smoothstep").values == ("constant", "smoothstep")
    assert parse_variation("tumours.0.centre_mm=[6,0],[8, 0.5]").values == ([6, 0], [8, 0.5])
    points = grid([parse_variation("a.x=1,2"), parse_variation("b.y=7:9:1")])
    assert points == [{"a.x": 1, "b.y": 7}, {"a.x": 1, "b.y": 8}, {"a.x": 1, "b.y": 9},
                      {"a.x": 2, "b.y": 7}, {"a.x": 2, "b.y": 8}, {"a.x": 2, "b.y": 9}]
    for bad, field in (("protocol.voltage_V=800:400:100", "protocol.voltage_V"),
                       ("protocol.voltage_V=400:800:0", "protocol.voltage_V"),
                       ("protocol.voltage_V=", "protocol.voltage_V"), ("novalues", "--vary")):
        with pytest.raises(ScenarioError) as info:
            parse_variation(bad)
        assert info.value.field == field


def test_voltage_sweep_meshes_once_and_rows_equal_single_runs(counted_sweeps):
    for model in ("smoothstep", "constant"):
        sw, builds = counted_sweeps[model]
        assert builds == 1, model
        assert sw.tasks == 1, model          # linear: one solve, scaled; nonlinear: one continuation chain
        rows = sw.rows()
        assert [r["protocol.voltage_V"] for r in rows] == [400, 800]
        (mesh,) = sw.meshes.values()
        for sc, row in zip(sw.scenarios, rows):
            assert_rows_equal(row, report_row(build_report(run(sc, mesh=mesh))))
        # nonlinear: one field solve per point; linear: one for the whole sweep, then scaled
        assert [r["field_solves"] for r in rows] == ([1, 1] if model == "smoothstep" else [1, 0])


def test_exact_scaling_matches_a_direct_solve(counted_sweeps):
    """Raw fields (before report rounding): scaled 800 V vs solved at 800 V on the same mesh."""
    sw, _ = counted_sweeps["constant"]
    lo, hi = sw.scenarios
    (mesh,) = sw.meshes.values()
    fam = field_family(lo, "k", "embedded")
    from collections import Counter
    uses = Counter(field_keys(lo, fam) + field_keys(hi, fam))
    shared = {}

    def make(name, m, settings):
        from simulator.engines import create_engine
        return shared.setdefault("e", SharedSolutions(create_engine(name, m, settings), fam, True, uses))
    run(lo, mesh=mesh, make_engine=make)
    scaled = run(hi, mesh=mesh, make_engine=make)
    direct = run(hi, mesh=mesh)
    assert shared["e"].solves == 1 and shared["e"].reused == 1
    e_rel = np.max(np.abs(scaled.train.E_max - direct.train.E_max)) / np.max(direct.train.E_max)
    i_rel = abs(scaled.train.groups[0].current / direct.train.groups[0].current - 1)
    assert e_rel < 1e-9 and i_rel < 1e-9, (e_rel, i_rel)


def test_duplicate_points_run_once(base):
    sw = plan_sweep(base, [parse_variation("protocol.field_ratio_V_per_cm=1000,1200"),
                           parse_variation("protocol.frequency_Hz=5000,5000.0")])
    assert sw.same_as == [0, 0, 2, 2]


def _small_file(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(
        'name = "small-pair"\n[tissue]\nsize_mm = [16, 16, 10]\n[[tumours]]\ndiameter_mm = 4.0\n'
        'depth_mm = 4.0\nmargin_mm = 0.5\n[electrode]\ntype = "needle-pair"\nspacing_mm = 6.0\n'
        'insertion_depth_mm = 7.0\n[protocol]\npreset = "esope"\n[mesh]\nsize_mm = 2.5\naccuracy = 0\n')
    return path


def test_cli_sweep_grid_files_and_figures(tmp_path, capsys):
    out = tmp_path / "sw"
    code = main(["sweep", str(_small_file(tmp_path)), "--vary", "protocol.voltage_V=500,700",
                 "--vary", "conductivity_model=constant,smoothstep", "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [(r["protocol.voltage_V"], r["conductivity_model"]) for r in rows] == [
        ("500", "constant"), ("500", "smoothstep"), ("700", "constant"), ("700", "smoothstep")]
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["complete"] and doc["mesh_builds"] == 1 and len(doc["rows"]) == 4
    assert doc["warnings"] == []                      # accuracy = 0: nothing left out
    assert len(doc["coverage_curves"]["runs"]) == 4
    # more voltage, more coverage and current; smoothstep conducts more than constant
    r = doc["rows"]
    assert r[2]["max_current_A"] > r[0]["max_current_A"] and r[1]["max_current_A"] > r[0]["max_current_A"]
    assert r[3]["coverage.margin_reversible_fraction"] >= r[1]["coverage.margin_reversible_fraction"]
    from matplotlib.image import imread
    for name in ("sweep.png", "coverage_curves.png"):
        img = imread(out / name)[..., :3]
        assert img.shape[0] > 400 and img.std() > 0.05, name
        # curves in colour: pixels that are neither grey nor white
        assert (np.ptp(img, axis=2) > 0.3).mean() > 0.002, name
    # report.html: the rows of sweep.json as the table, both figures embedded, the inputs as given
    page = read_study_page(out / "report.html")
    col = {h: k for k, h in enumerate(page.head)}
    assert [(c[col["protocol.voltage_V"]], c[col["conductivity_model"]]) for c in page.rows] == [
        ("500", "constant"), ("500", "smoothstep"), ("700", "constant"), ("700", "smoothstep")]
    key = "coverage.margin_reversible_fraction"
    assert [c[col[key]] for c in page.rows] == [f"{x[key]:.6g}" for x in r]
    assert len(page.images) == 2 and page.title == "epsim sweep: small-pair"
    assert_self_contained(page, out, _small_file(tmp_path).read_text())
    assert "protocol.voltage_V=500,700" in page.inputs and "conductivity_model=constant,smoothstep" in page.inputs


@pytest.mark.parametrize("vary, field", [
    ("protocol.voltag_V=400,600", "protocol.voltag_V"),
    ("protocol.voltage_V=400,abc", "protocol.voltage_V"),
    ("protocol.voltage_V=800:400:100", "protocol.voltage_V"),
    ("tumours.3.depth_mm=4,5", "tumours.3.depth_mm"),
])
def test_cli_sweep_bad_input_is_one_line_exit_2(tmp_path, capsys, vary, field):
    out = tmp_path / "sw"
    code = main(["sweep", str(_small_file(tmp_path)), "--vary", vary, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and field in err, err
    assert not out.exists()


def _interrupt_after_first_point(monkeypatch) -> None:
    """Make the sweep's executor raise KeyboardInterrupt right after its first point."""
    from simulator.studies import executor
    real = executor.run_task

    def stop_after_first(task, meshes=None, on_point=None, nominals=None, chain_workers=1):
        def once(p):
            on_point(p)
            raise KeyboardInterrupt
        return real(task, meshes, once, nominals, chain_workers)
    monkeypatch.setattr(executor, "run_task", stop_after_first)


def test_cli_sweep_interrupted_leaves_a_partial_file(tmp_path, capsys, monkeypatch):
    _interrupt_after_first_point(monkeypatch)
    out = tmp_path / "sw"
    code = main(["sweep", str(_small_file(tmp_path)), "--vary", "protocol.voltage_V=500,600,700",
                 "--out", str(out), "--quiet"])
    assert code == 130
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["sweep.partial.csv", "sweep.partial.json"]
    assert len(list(csv.DictReader((out / "sweep.partial.csv").open()))) == 1
    assert json.loads((out / "sweep.partial.json").read_text())["complete"] is False
    assert "partial" in capsys.readouterr().err


def test_cli_sweep_interrupted_with_force_keeps_the_earlier_sweep(tmp_path, capsys, monkeypatch):
    """--force over a complete sweep, then Ctrl-C after one point: the earlier sweep stays as
    it was (every file, the same bytes) and the rows done go to <out>.partial beside it."""
    out = tmp_path / "sw"
    args = ["sweep", str(_small_file(tmp_path)), "--vary", "protocol.voltage_V=500,600,700", "--out", str(out), "--quiet"]
    assert main(args) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    _interrupt_after_first_point(monkeypatch)
    capsys.readouterr()
    assert main(args + ["--force"]) == 130
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    partial = tmp_path / "sw.partial"
    assert sorted(p.name for p in partial.iterdir() if not p.name.startswith(".")) == [
        "sweep.partial.csv", "sweep.partial.json"]
    err = capsys.readouterr().err
    assert "sw.partial/sweep.partial.csv" in err and "is kept as it was" in err


def test_cli_sweep_interrupted_while_drawing_keeps_every_row_as_partial(tmp_path, capsys, monkeypatch):
    """Ctrl-C after the last point (while sweep.png is drawn): all rows in the partial pair,
    no file named like a finished sweep, exit 130."""
    from simulator.studies import figures

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(figures, "plot_sweep", interrupted)
    out = tmp_path / "sw"
    code = main(["sweep", str(_small_file(tmp_path)), "--vary", "protocol.voltage_V=500,700",
                 "--out", str(out), "--quiet"])
    assert code == 130
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["sweep.partial.csv", "sweep.partial.json"]
    assert len(list(csv.DictReader((out / "sweep.partial.csv").open()))) == 2
    doc = json.loads((out / "sweep.partial.json").read_text())
    assert doc["complete"] is False and doc["interrupted"] is True and doc["points_done"] == 2
    assert "after 2 of 2 points" in capsys.readouterr().err

MODELS = [parse_variation("conductivity_model=constant,linear")]


@pytest.fixture(scope="module")
def serial_models(base):
    return run_sweep(plan_sweep(base, MODELS))


def test_jobs_rows_identical_to_serial(base, serial_models):
    serial, pooled = serial_models, plan_sweep(base, MODELS)
    run_sweep(pooled, jobs=2)
    assert pooled.tasks == 2
    for a, b in zip(serial.rows(), pooled.rows()):
        assert {k: v for k, v in a.items() if k != "run_time_s"} == {k: v for k, v in b.items() if k != "run_time_s"}


def test_dask_cluster_rows_identical_to_serial(base, serial_models):
    """A local two-worker Dask cluster (loopback only) started here; rows as serial. The
    workers are threads of this process (processes=False: spawning two Python workers costs
    ~30 s on the shared CI machine; pickling across processes is covered by the --jobs test)."""
    distributed = pytest.importorskip("distributed")
    serial, farmed = serial_models, plan_sweep(base, MODELS)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        run_sweep(farmed, scheduler=cluster.scheduler_address)
    assert farmed.tasks == 2
    for a, b in zip(serial.rows(), farmed.rows()):
        assert {k: v for k, v in a.items() if k != "run_time_s"} == {k: v for k, v in b.items() if k != "run_time_s"}


def test_scheduler_unreachable_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    from simulator.studies import executor
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT_S", 1.0)
    code = main(["sweep", str(_small_file(tmp_path)), "--vary", "protocol.voltage_V=500,600",
                 "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "sw"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--scheduler" in err and len(err.splitlines()) == 1, err


def test_geometry_sweep_one_mesh_per_geometry_and_shared_fields(base):
    """Spacing changes the mesh (2 builds); pulse count does not change the field, so each
    spacing's field is solved once for both counts (nonlinear smoothstep)."""
    sw = run_sweep(plan_sweep(base, [parse_variation("electrode.spacing_mm=5,6"),
                                     parse_variation("protocol.pulses=4,8")]))
    rows = sw.rows()
    assert sw.mesh_builds == 2 and len(sw.meshes) == 2
    assert [r["field_solves"] for r in rows] == [1, 0, 1, 0]
    assert [r["total_pulses"] for r in rows] == [4, 8, 4, 8]
    for a, b in ((rows[0], rows[1]), (rows[2], rows[3])):       # same field, twice the pulses
        assert a["max_current_A"] == b["max_current_A"]
        assert b["delivered_energy_J"] == pytest.approx(2 * a["delivered_energy_J"], rel=1e-5)
    assert rows[2]["max_voltage_V"] > rows[0]["max_voltage_V"]          # ESOPE ratio x spacing


def test_a_sweep_says_it_does_not_refine_to_an_accuracy_target():
    """A sweep meshes each geometry once: with [mesh] accuracy > 0 it says the target is not applied."""
    from simulator.studies.sweep import plan_sweep
    from simulator.studies.variation import parse_variation
    base = scenario_from_dict({**SMALL, "mesh": {**SMALL["mesh"], "accuracy": 0.02}})
    sweep = plan_sweep(base, [parse_variation("protocol.voltage_V=500,700")])
    assert len(sweep.warnings) == 1 and "[mesh] accuracy = 0.02 is not applied in a sweep" in sweep.warnings[0]
    assert plan_sweep(base.with_changes({"mesh.accuracy": 0}), [parse_variation("protocol.voltage_V=500")]).warnings == []


def test_jobs_farm_the_chains_of_a_nonlinear_voltage_sweep(base, monkeypatch):
    """A nonlinear voltage sweep is one task (its points are a continuation); with --jobs 2
    its two configurations' chains (A -> B, B -> A) are solved in two worker processes
    (studies.farm), each chain's next voltage queued while this process post-processes, and
    the rows are the same bits as in one process."""
    from simulator.studies import farm
    sc = base.with_changes({"protocol.sequence": [["A", "B"], ["B", "A"]]})
    serial = run_sweep(plan_sweep(sc, [parse_variation("protocol.voltage_V=500,600,700")]))
    made = []
    real = farm.ChainFarm.__init__
    monkeypatch.setattr(farm.ChainFarm, "__init__", lambda self, *a, **k: made.append(a[4]) or real(self, *a, **k))
    queued = []
    submit = farm.ChainFarm._submit
    monkeypatch.setattr(farm.ChainFarm, "_submit", lambda self, w, cfg, *a: queued.append((w, cfg.voltage)) or
                        submit(self, w, cfg, *a))
    farmed = run_sweep(plan_sweep(sc, [parse_variation("protocol.voltage_V=500,600,700")]), jobs=2)
    assert farmed.tasks == 1 and made == [2]
    # each chain in one worker, every solve asked for once, the next voltage queued behind
    assert sorted(queued) == [(0, 500.0), (0, 600.0), (0, 700.0), (1, 500.0), (1, 600.0), (1, 700.0)]
    for w in (0, 1):
        k = queued.index((w, 500.0))
        assert queued[k + 1] == (w, 600.0)          # queued with the first, before it is done
    rows = farmed.rows()
    assert [r["solver.nonlinear_iterations"] for r in rows] == [r["solver.nonlinear_iterations"] for r in serial.rows()]
    assert rows[1]["solver.nonlinear_iterations"] < rows[0]["solver.nonlinear_iterations"]    # warm starts
    for a, b in zip(serial.rows(), rows):
        assert {k: v for k, v in a.items() if k != "run_time_s"} == {k: v for k, v in b.items() if k != "run_time_s"}


def test_a_farm_worker_that_dies_is_named_in_one_line(base, monkeypatch):
    """A chain-farm worker that ends abruptly (here killed with SIGKILL, as the kernel's
    out-of-memory killer does) gives a ResourceError naming --jobs, the worker and its
    signal, not the pool's internal BrokenProcessPool."""
    import os
    import signal

    from simulator.errors import ResourceError
    from simulator.studies import farm
    sc = base.with_changes({"protocol.sequence": [["A", "B"], ["B", "A"]]})
    submit = farm.ChainFarm._submit

    def submit_then_kill(self, w, *a):
        future = submit(self, w, *a)
        for proc in self._procs[w].values():
            os.kill(proc.pid, signal.SIGKILL)
        return future
    monkeypatch.setattr(farm.ChainFarm, "_submit", submit_then_kill)
    with pytest.raises(ResourceError) as err:
        run_sweep(plan_sweep(sc, [parse_variation("protocol.voltage_V=500,600")]), jobs=2)
    text = str(err.value)
    assert err.value.field == "--jobs" and "\n" not in text
    assert "ended abruptly (exit code -9, SIGKILL: usually the kernel's out-of-memory killer)" in text, text
    assert "of 2" in text


def test_a_pool_worker_that_dies_is_named_in_one_line(base, monkeypatch):
    """--jobs on a sweep of several tasks (studies.executor.run_processes): a worker killed
    with SIGKILL gives the one-line ResourceError naming --jobs (multiprocessing.Pool, used
    before, waited for ever on the dead worker's task)."""
    import os
    import signal
    from concurrent.futures import ProcessPoolExecutor

    from simulator.errors import ResourceError
    real = ProcessPoolExecutor.submit

    def submit_then_kill(self, *a, **k):
        future = real(self, *a, **k)
        for proc in list(self._processes.values()):
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:      # killed by an earlier submit and already reaped
                pass
        return future
    monkeypatch.setattr(ProcessPoolExecutor, "submit", submit_then_kill)
    sweep = plan_sweep(base, MODELS)
    with pytest.raises(ResourceError) as err:
        run_sweep(sweep, jobs=2)
    assert sweep.tasks == 2
    text = str(err.value)
    assert err.value.field == "--jobs" and "\n" not in text
    assert "ended abruptly (exit code -9, SIGKILL: usually the kernel's out-of-memory killer)" in text, text


def test_sweep_axis_labels_and_threshold_lines_in_the_legend(tmp_path, monkeypatch):
    """sweep.png's x axis reads 'voltage (V)', not the raw key; coverage_curves.png names the
    E_rev / E_irr lines in its legend (no text over the title strip)."""
    from matplotlib.figure import Figure
    from simulator.studies.figures import key_label, plot_coverage_overlay
    assert key_label("protocol.voltage_V") == "voltage (V)"
    assert key_label("protocol.field_ratio_V_per_cm") == "field ratio (V/cm)"
    assert key_label("tumours.0.diameter_mm") == "tumour 0 diameter (mm)"
    assert key_label("materials.tumour.sigma0_S_per_m") == "tumour sigma0 (S/m)"
    assert key_label("conductivity_model") == "conductivity model"
    figs = []
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: figs.append(self))
    from simulator.post.coverage import CURVE_THRESHOLDS_V_PER_M
    frac = list(np.linspace(1, 0, len(CURVE_THRESHOLDS_V_PER_M)))
    plot_coverage_overlay([("a", {"T1": frac})], tmp_path / "c.png", "t", {"E_rev tumour": 400.0, "E_irr tumour": 800.0})
    ax = figs[0].axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["a", "E_rev tumour = 400 V/cm", "E_irr tumour = 800 V/cm"]
    assert len(ax.texts) == 0
