"""The whole path as one call: ``run(scenario) -> Result`` (mesh, field, train, coverage)."""
from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np

from simulator.errors import ScenarioError
from simulator.memory import release_freed_memory
from simulator.physics.conductivity import CellConductivity
from simulator.engines import SolverSettings, check_engine_name, create_engine
from simulator.post.above import RecoveredField
from simulator.post.coverage import tissue_volumes, tumour_coverage
from simulator.post.field import recover_sliver_fields
from simulator.post.zones import electrode_axes, lesion_zones
from simulator.solve.result import Result
from simulator.meshing.mesh import Mesh
from simulator.scenario import Scenario
from simulator.solve.applications import run_session

log = logging.getLogger(__name__)


def cell_law(mesh: Mesh, scenario: Scenario) -> tuple[CellConductivity, np.ndarray, np.ndarray]:
    """Per-cell conductivity law, volumetric heat capacity rho*c (J/(m^3 K)) and alpha (1/K)."""
    mats = [scenario.materials[r.material] for r in mesh.regions]
    models = tuple(sorted({m.conductivity_model for m in mats}))
    per_region = {
        "sigma0": [m.sigma0 for m in mats], "sigma1": [m.sigma1 for m in mats],
        "E_rev": [m.E_rev for m in mats], "E_irr": [m.E_irr for m in mats],
        "model": [models.index(m.conductivity_model) for m in mats],
        "rho_c": [m.density * m.heat_capacity for m in mats],
        "alpha": [m.temperature_coefficient for m in mats],
    }
    cr = mesh.cell_region
    M = len(cr)

    def per_cell(values, dtype):
        # a parameter equal in every region is a read-only broadcast view (no (M,) array:
        # 7 of them are 56 bytes per cell, ~10 % of the peak of a large solve)
        v = np.asarray(values, dtype=dtype)
        if len(v) and np.all(v == v[0]):
            return np.broadcast_to(v[:1], (M,))
        return v[cr]

    f = {k: per_cell(v, np.int64 if k == "model" else float) for k, v in per_region.items()}
    law = CellConductivity(f["sigma0"], f["sigma1"], f["E_rev"], f["E_irr"], f["model"], models)
    return law, f["rho_c"], f["alpha"]


def cell_kill_of(mesh: Mesh, scenario: Scenario, train) -> np.ndarray | None:
    """(M, Q) kill probability of the scenario's cell-kill model (None without one), from each
    sample point's max field and the pulses it saw at E >= E_rev (physics.cell_kill)."""
    if scenario.cell_kill is None:
        return None
    from simulator.physics.cell_kill import cell_kill_probability
    names = sorted({r.material for r in mesh.regions})
    index = np.array([names.index(r.material) for r in mesh.regions])[mesh.cell_region]
    return cell_kill_probability(train.E_max, train.pulses_above_rev,
                                 [scenario.cell_kill.for_material(n) for n in names], index)


def kill_volume(mesh: Mesh, scenario: Scenario, train, field: RecoveredField, E_rev: np.ndarray,
                p: float) -> float:
    """Volume (m^3) with kill probability >= p on the smooth measure of every threshold volume
    (post.above): where the recovered field reaches max(E_rev, E_p(n)) of each cell, E_p(n)
    the field that kills p after n pulses (P rises with E at fixed n). n is the most pulses a
    cell or a neighbour through a vertex saw at E >= E_rev: the part of a cell cut by the
    E_rev iso-surface is electroporated by the pulses its neighbour saw."""
    names = sorted({r.material for r in mesh.regions})
    index = np.array([names.index(r.material) for r in mesh.regions])[mesh.cell_region]
    n_vertex = np.zeros(mesh.num_points)
    for k in range(4):
        np.maximum.at(n_vertex, mesh.tets[:, k], train.pulses_above_rev.max(axis=1))
    n = n_vertex[mesh.tets].max(axis=1)
    th = np.full(mesh.num_cells, np.inf)
    for k, name in enumerate(names):
        cells = (index == k) & (n > 0)
        th[cells] = scenario.cell_kill.for_material(name).field_for_kill(p, n[cells])
    return float(field.volume_above(np.maximum(th, E_rev)).sum())


def mpi_comm():
    """MPI_COMM_WORLD when running under mpirun with more than one rank, else None.

    mpi4py is imported only when the environment says an MPI launcher started us."""
    import os
    if not any(k in os.environ for k in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")):
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI.COMM_WORLD if MPI.COMM_WORLD.size > 1 else None


def build_mesh_for(scenario: Scenario, progress=None) -> tuple[Mesh, bool]:
    """Mesh the scenario (from the cache when possible)."""
    from simulator.meshing.cache import cached_build_mesh
    return cached_build_mesh(scenario, progress)


def run(scenario: Scenario, *, engine: str | None = None, mesh: Mesh | None = None,
        progress: Callable[[str], None] | None = None,
        memory_check: Callable[[Mesh, int], object] | None = None,
        make_engine: Callable[[str, Mesh, SolverSettings], object] | None = None,
        max_memory_gb: float | None = None, coverage_only: bool = False) -> Result:
    """Mesh, solve every pulse configuration, accumulate the train and measure coverage.

    ``memory_check(mesh, degree)`` may raise before anything is assembled (resource guard);
    before meshing, the cell count estimated from the size field must fit ``max_memory_gb``
    (default: the available memory). With ``scenario.mesh.accuracy > 0`` and no mesh given,
    meshes of decreasing size are solved until the error estimates meet it
    (:mod:`simulator.solve.accuracy`).
    ``make_engine(name, mesh, settings)`` replaces :func:`create_engine` (studies reuse one
    engine across runs on the same mesh, or wrap it).
    ``coverage_only``: post-process only what the tumours' coverage needs (a study that keeps
    one row per run): no tissue volumes, zones, kill volume or per-application fields.
    """
    if mesh is None and scenario.mesh.accuracy > 0:
        from simulator.solve.accuracy import run_to_accuracy
        comm = mpi_comm() if (engine or scenario.solver.engine) == "dolfinx" else None
        return run_to_accuracy(scenario, run, engine=engine, progress=progress, memory_check=memory_check, comm=comm,
                               max_memory_gb=max_memory_gb)
    say = progress or (lambda _m: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    from_cache = False
    engine_name = check_engine_name(engine or scenario.solver.engine,
                                    "--engine" if engine else "solver.engine")
    if scenario.thermal.model == "pennes" and scenario.applications:
        raise ScenarioError("thermal.model", "pennes steps one electrode application; it does not yet "
                            f"support [[applications]] ({len(scenario.applications)} given)")
    comm = mpi_comm() if engine_name == "dolfinx" else None
    if mesh is None:
        from simulator.engines.resources import check_mesh_budget
        check_mesh_budget(scenario, scenario.solver.degree, max_memory_gb)
        say("meshing")
        error = None
        if comm is None or comm.rank == 0:      # rank 0 meshes, the others receive it
            try:
                mesh, from_cache = build_mesh_for(scenario, say)
            except Exception as exc:            # re-raised on every rank below
                error = exc
        if comm is not None:
            mesh, from_cache, error = comm.bcast((mesh, from_cache, error), root=0)
        if error is not None:
            raise error
    timings["mesh"] = time.perf_counter() - t0
    say(f"mesh: {mesh.num_cells} cells, {mesh.num_points} nodes{' (cached)' if from_cache else ''}")
    if memory_check is not None:
        memory_check(mesh, scenario.solver.degree)
    settings = SolverSettings(degree=scenario.solver.degree, rtol=scenario.solver.rtol,
                              max_iterations=scenario.solver.max_iterations)
    t1 = time.perf_counter()
    eng = (make_engine or create_engine)(engine_name, mesh, settings)
    timings["setup"] = time.perf_counter() - t1
    law, rho_c, alpha = cell_law(mesh, scenario)
    t2 = time.perf_counter()
    heat = None
    if scenario.thermal.model == "pennes":
        from simulator.solve.thermal import pennes_train
        train, heat = pennes_train(eng, mesh, scenario, law, rho_c, alpha, say)
    else:
        train = run_session(eng, scenario, law, rho_c, alpha,
                            model=scenario.solver.model, idle=scenario.solver.idle_contacts,
                            monotone_tol=settings.monotone_tol, max_steps=max(scenario.solver.max_iterations, 100),
                            progress=say)
    timings["solve"] = time.perf_counter() - t2
    dofs = eng.dofs
    del eng                 # memory: post-processing runs without the engine's structures (~430 MB
    release_freed_memory()  # at 1e6 DOFs: edge maps, reduced systems), unless the caller keeps it
    t3 = time.perf_counter()                    # post: sliver recovery, coverage, volumes
    recover_sliver_fields(mesh, train.E_max, train.sigma_at_max, train.pulses_above_rev, train.pulses_above_irr,
                          train.temperature_rise)
    for E_app in () if coverage_only else train.application_E_max:     # each application's own field
        recover_sliver_fields(mesh, E_app)
    for k, v in train.timings.items():
        if k != "train":
            timings[f"solve.{k}"] = v
    field = RecoveredField(mesh, train.E_max, train.weights)     # one recovery for every threshold volume
    tumours = tumour_coverage(mesh, scenario.tumours, train.E_max, train.weights, law.E_rev, law.E_irr,
                              scenario.coverage_tolerance, scenario.margin_threshold, field)
    volumes, kill, zones = {}, None, []
    if not coverage_only:
        volumes = tissue_volumes(mesh, train.E_max, train.weights, law.E_rev, law.E_irr, field)
        kill = cell_kill_of(mesh, scenario, train)
        if kill is not None:
            volumes["kill_probability_0_9"] = kill_volume(mesh, scenario, train, field, law.E_rev, 0.9)
        first = scenario.protocol.groups[0]
        zones = lesion_zones(mesh, train.E_max, train.weights, law.E_rev, law.E_irr, scenario.zone_thresholds,
                             electrode_axes(mesh, first.anode, first.cathode), field)
    timings["post"] = time.perf_counter() - t3
    timings["total"] = time.perf_counter() - t0
    return Result(scenario, mesh, train, tumours, volumes, law.E_rev, law.E_irr, engine_name, dofs,
                  from_cache, timings, zones, kill, heat, recovered=field)
