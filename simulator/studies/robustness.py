"""Robustness of a plan: how often it still covers under placement error and tissue spread.

Each sample draws, from one seeded generator (numpy default_rng(seed)), in this order:

* placement: the electrode centre (every application's) shifted by N(0, placement_sd) in x
  and in y (custom needles: each needle's position); [A] independent errors per axis;
* tilt: every needle tilted by |N(0, tilt_sd)| degrees towards a uniform random azimuth;
* conductivity: each material's sigma0 and sigma1 scaled by one factor 1 + N(0, sigma_rel_sd);
* thresholds: each material's E_rev and E_irr scaled by one factor 1 + N(0, threshold_rel_sd).

Factors are clipped to [0.2, 5] so that no draw gives a negative conductivity or threshold.
Draws with no placement or tilt spread reuse the scenario's mesh (only the materials
change). The same seed and options give the same samples, bit for bit.

Every sample is drawn first (in the order above), then the samples run as independent
tasks through the study executor (studies.executor, as ``epsim sweep`` does): in this
process, or in ``jobs`` worker processes (one thread each); a placement draw is meshed in
the worker that runs it. Rows are kept in sample order, so the output does not depend on
``jobs``.

The nominal scenario (no draw) is run first, in this process; it is the report's
``nominal`` row, and its converged potentials start every sample's Newton solves
(studies.nominal: on a placement draw's mesh, transferred in the electrode's frame). Each
sample is still solved to the scenario's tolerance: the start changes the iterations, not
the answer beyond that tolerance (``warm=False`` runs every sample cold).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from simulator.errors import ScenarioError

FACTOR_RANGE = (0.2, 5.0)


@dataclass(frozen=True)
class Spreads:
    placement_sd_mm: float = 0.0
    tilt_sd_deg: float = 0.0
    sigma_rel_sd: float = 0.0
    threshold_rel_sd: float = 0.0

    def check(self) -> None:
        limits = {"placement_sd_mm": 20.0, "tilt_sd_deg": 30.0, "sigma_rel_sd": 1.0, "threshold_rel_sd": 1.0}
        for key, top in limits.items():
            v = getattr(self, key)
            if not 0.0 <= v <= top:                     # also refuses nan
                raise ScenarioError("--" + key.replace("_", "-"),
                                    f"must be in [0, {top:g}], got {v:g}")

    @property
    def moves_needles(self) -> bool:
        return self.placement_sd_mm > 0 or self.tilt_sd_deg > 0


def _electrode_tables(data: dict) -> list[dict]:
    return list(data["applications"]) if "applications" in data else [data["electrode"]]


def perturbed_data(data: dict, rng, spreads: Spreads) -> tuple[dict, dict]:
    """A copy of the scenario dict with moved / tilted needles, and what was drawn."""
    out = copy.deepcopy(data)
    drawn: dict = {"shift_mm": [], "tilt_deg": []}
    for table in _electrode_tables(out):
        dx, dy = rng.normal(0.0, spreads.placement_sd_mm, 2) if spreads.placement_sd_mm > 0 else (0.0, 0.0)
        tilt = abs(rng.normal(0.0, spreads.tilt_sd_deg)) if spreads.tilt_sd_deg > 0 else 0.0
        az = rng.uniform(0.0, 360.0) if spreads.tilt_sd_deg > 0 else 0.0
        if "needles" in table:
            for n in table["needles"]:
                x, y = n["position_mm"]
                n["position_mm"] = [float(x + dx), float(y + dy)]
                if tilt:
                    n["tilt_deg"], n["tilt_azimuth_deg"] = float(tilt), float(az)
        else:
            cx, cy = table.get("centre_mm", [0.0, 0.0])
            table["centre_mm"] = [float(cx + dx), float(cy + dy)]
            if tilt:
                table["tilt_deg"], table["tilt_azimuth_deg"] = float(tilt), float(az)
        drawn["shift_mm"].append([float(dx), float(dy)])
        drawn["tilt_deg"].append(float(tilt))
    return out, drawn


def perturbed_materials(scenario, rng, spreads: Spreads) -> tuple[object, dict]:
    """The scenario with every material's sigma and thresholds scaled, and the factors."""
    lo, hi = FACTOR_RANGE
    mats, factors = {}, {}
    for name in sorted(scenario.materials):
        m = scenario.materials[name]
        fs = float(np.clip(1.0 + rng.normal(0.0, spreads.sigma_rel_sd), lo, hi)) if spreads.sigma_rel_sd > 0 else 1.0
        ft = float(np.clip(1.0 + rng.normal(0.0, spreads.threshold_rel_sd), lo, hi)) \
            if spreads.threshold_rel_sd > 0 else 1.0
        mats[name] = replace(m, sigma0=m.sigma0 * fs, sigma1=m.sigma1 * fs, E_rev=m.E_rev * ft, E_irr=m.E_irr * ft)
        factors[name] = {"sigma": fs, "threshold": ft}
    return replace(scenario, materials=mats), factors


def _row(report: dict) -> dict:
    """What a sample's row keeps of its run's report: the verdict, the lowest tumour +
    margin coverage and the solver's iterations."""
    frac = min(t["margin_reversible_fraction"] for t in report["tumours"])
    return {"covered": bool(report["coverage"]["covered"]), "margin_reversible_fraction": round(frac, 6),
            "newton_iterations": report["solver"]["nonlinear_iterations"],
            "cg_iterations": report["solver"]["linear_iterations"]}


def robustness(data: dict, samples: int, spreads: Spreads, seed: int = 0,
               progress: Callable[[int, int], None] | None = None, jobs: int = 1,
               warm: bool = True) -> tuple[dict, list[float]]:
    """``robustness.json`` as a dict, and the margin coverage of every sample. ``warm``:
    start each sample from the nominal run's fields (module docstring)."""
    from simulator.engines import create_engine
    from simulator.meshing.cache import mesh_key
    from simulator.output.report import build_report
    from simulator.scenario import scenario_from_dict
    from simulator.solve.pipeline import build_mesh_for, run
    from simulator.studies.executor import plan_tasks, run_processes, run_serial
    from simulator.studies.nominal import Nominal, Recorder
    spreads.check()
    if not 1 <= samples <= 10_000:
        raise ScenarioError("--samples", f"must be between 1 and 10000, got {samples}")
    base = scenario_from_dict(data)
    if not base.tumours:
        raise ScenarioError("tumours", "robustness needs at least one tumour")
    rng = np.random.default_rng(seed)
    scenarios, draws = [], []
    for i in range(samples):
        d, drawn = perturbed_data(data, rng, spreads)
        try:
            sc = scenario_from_dict(d) if spreads.moves_needles else base
        except ScenarioError as exc:
            raise ScenarioError("--placement-sd-mm", f"sample {i + 1} moved a needle out of the block or onto "
                                f"another ({exc.message}); use a smaller spread") from None
        sc, factors = perturbed_materials(sc, rng, spreads)
        scenarios.append(sc)
        draws.append({**drawn, "material_factors": factors})
    key = mesh_key(base)
    mesh = build_mesh_for(base)[0]
    recorder = None

    def recording(name, m, settings):
        nonlocal recorder
        recorder = Recorder(create_engine(name, m, settings))
        return recorder
    nominal_report = build_report(run(base, mesh=mesh, make_engine=recording))
    nominals = {"nominal": Nominal.of(key, mesh, base.electrode, recorder)} if warm else {}
    meshes = {}
    if spreads.moves_needles:
        keys = [f"sample-{i + 1}:{mesh_key(sc)}" for i, sc in enumerate(scenarios)]   # meshed by the workers
    else:
        meshes[key] = mesh
        keys = [key] * samples
    tasks = plan_tasks(scenarios, keys, None)
    for task in tasks:
        task.warm = "nominal" if warm else ""
        task.coverage_only = True            # a row needs the coverage, not volumes, zones or figures
    rows: list[dict | None] = [None] * samples
    fractions: list[float] = [0.0] * samples
    done = 0
    if progress:
        progress(0, samples)

    def on_point(p) -> None:
        nonlocal done
        i = p.index
        fractions[i] = min(t["margin_reversible_fraction"] for t in p.report["tumours"])
        rows[i] = {"sample": i + 1, **_row(p.report), **draws[i]}
        done += 1
        if progress:
            progress(done, samples)

    if jobs > 1 and len(tasks) > 1:
        run_processes(tasks, meshes, on_point, jobs, nominals)
    else:
        run_serial(tasks, meshes, on_point, nominals)
    covered = [row["covered"] for row in rows]
    report = {
        "samples": samples, "seed": seed,
        "spreads": {"placement_sd_mm": spreads.placement_sd_mm, "tilt_sd_deg": spreads.tilt_sd_deg,
                    "sigma_rel_sd": spreads.sigma_rel_sd, "threshold_rel_sd": spreads.threshold_rel_sd},
        "probability_covered": sum(covered) / samples,
        "margin_coverage_p05": round(float(np.percentile(fractions, 5)), 6),
        "margin_coverage_mean": round(float(np.mean(fractions)), 6),
        "mesh_reused": not spreads.moves_needles,
        "warm_start": warm,
        "nominal": _row(nominal_report),
        "draws": rows,
    }
    return report, fractions


def plot_histogram(fractions: list[float], report: dict, path) -> None:
    """Histogram of the samples' tumour + margin coverage (PNG)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    values = 100.0 * np.asarray(fractions)
    lo = min(float(values.min()), 99.0)
    ax.hist(values, bins=np.linspace(lo, 100.0, 21), color="#3b75af", edgecolor="white")
    ax.axvline(100.0 * report["margin_coverage_p05"], color="black", ls="--", lw=1.0,
               label=f"5th percentile {100 * report['margin_coverage_p05']:.2f} %")
    ax.set_xlabel("tumour + margin coverage (%)")
    ax.set_ylabel("samples")
    from matplotlib.ticker import MaxNLocator
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    s = report["spreads"]
    ax.set_title(f"{report['samples']} samples: P(covered) = {report['probability_covered']:.2f}; placement sd "
                 f"{s['placement_sd_mm']:g} mm, tilt sd {s['tilt_sd_deg']:g} deg, sigma sd {s['sigma_rel_sd']:g}, "
                 f"threshold sd {s['threshold_rel_sd']:g}", fontsize=8)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=150, metadata={"Software": None})
