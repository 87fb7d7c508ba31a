"""Running the points of a study: tasks, and the executors that run them (here, in N
processes, or on a Dask cluster).

A *task* is a list of runs that share field solutions (same mesh, materials and solver, and
some configuration in common), run one after another in one process; other tasks are
independent. Each task computes the same numbers wherever it runs, so rows do not depend
on the executor or on the order tasks finish in. Meshes are built once by the caller and
handed to the workers (once per worker process, not per task); a task whose mesh key is
not among them meshes its scenario itself, in the worker (robustness: one mesh per
placement draw). A task may name a nominal run (``warm``: studies.nominal) whose fields
start its Newton solves; the nominals are handed to the workers once, like the meshes.
"""
from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from simulator.studies.scaling import SharedSolutions, chain_keys, chains_of, field_family, field_keys, is_linear


@dataclass
class Task:
    """Runs that share solutions: point indices, their scenarios and their mesh's key."""

    indices: list[int]
    scenarios: list
    mesh_key: str
    engine: str | None = None
    families: list[str] = field(default_factory=list)
    warm: str = ""                # key of a studies.nominal.Nominal that starts its solves ("": none)
    coverage_only: bool = False   # reports of coverage, tumours and solver only (output.report.coverage_report)


@dataclass
class PointResult:
    """What a run gives back: its report and coverage curves (threshold grid of post.coverage)."""

    index: int
    report: dict
    curves: dict[str, list[float]]
    solves: int                   # field problems solved (not scaled or reused) for this run


_MESHES: dict[str, object] = {}
_NOMINALS: dict[str, object] = {}
_ENGINES: dict[tuple, object] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(name: str, mesh, settings, mesh_key: str):
    """One engine per (engine, mesh, settings), the last one kept (engines hold only
    structural data between solves, so reuse does not change results)."""
    from simulator.engines import create_engine
    key = (name, mesh_key, repr(settings))
    with _ENGINES_LOCK:                       # Dask workers may be threads of one process
        engine = _ENGINES.get(key)
        if engine is None:
            _ENGINES.clear()
            engine = _ENGINES[key] = create_engine(name, mesh, settings)
    return engine


def run_task(task: Task, meshes: dict | None = None,
             on_point: Callable[[PointResult], None] | None = None,
             nominals: dict | None = None, chain_workers: int = 1) -> list[PointResult]:
    """Run the task's points in order, sharing field solutions between them (and starting
    them from the task's nominal run, when it names one). ``chain_workers`` > 1: the
    nonlinear continuation chains of the embedded engine are solved in that many worker
    processes (:mod:`simulator.studies.farm`; the same bits)."""
    mesh = (meshes or _MESHES).get(task.mesh_key)          # None: run() meshes the scenario
    nominal = (nominals or _NOMINALS).get(task.warm) if task.warm else None
    uses: Counter = Counter()
    for sc, fam in zip(task.scenarios, task.families):
        uses.update(field_keys(sc, fam))
    wrappers: dict[str, SharedSolutions] = {}
    out = []
    try:
        _run_points(task, mesh, nominal, uses, wrappers, out, on_point, chain_workers)
    finally:
        for w in wrappers.values():
            if hasattr(w, "close"):
                w.close()
    return out


def _farmed(sc, fam: str, name: str, uses: Counter, workers: int) -> bool:
    """Whether a family's chains go to worker processes: nonlinear and shareable, embedded
    engine, two chains or more."""
    if workers < 2 or name != "embedded" or is_linear(sc) or not chain_keys(sc, fam):
        return False
    return len(chains_of(uses, fam)) >= 2


def _run_points(task, mesh, nominal, uses, wrappers, out, on_point, chain_workers) -> None:
    from simulator.output.report import build_report, coverage_report
    from simulator.solve.pipeline import run

    for index, sc, fam in zip(task.indices, task.scenarios, task.families):
        def make(name, m, settings, fam=fam, sc=sc):
            if fam not in wrappers:
                engine = engine_for(name, m, settings, task.mesh_key)
                if nominal is not None:
                    from simulator.studies.nominal import NominalStarts
                    engine = NominalStarts(engine, nominal, m, task.mesh_key, sc.electrode)
                elif _farmed(sc, fam, name, uses, chain_workers):
                    from simulator.studies.farm import ChainFarm
                    order = [key[1] for s, f in zip(task.scenarios, task.families) if f == fam
                             for key in field_keys(s, fam)]
                    wrappers[fam] = ChainFarm(engine, fam, uses, m, chain_workers, list(dict.fromkeys(order)))
                    return wrappers[fam]
                wrappers[fam] = SharedSolutions(engine, fam, is_linear(sc), uses)
            return wrappers[fam]
        before = sum(w.solves for w in wrappers.values())
        result = run(sc, engine=task.engine, mesh=mesh, make_engine=make, coverage_only=task.coverage_only)
        solves = sum(w.solves for w in wrappers.values()) - before
        if not field_keys(sc, fam):
            solves = result.train.distinct_configurations
        curves = {t.name: [float(x) for x in t.curve] for t in result.tumours}
        point = PointResult(index, (coverage_report if task.coverage_only else build_report)(result), curves, solves)
        del result
        out.append(point)
        if on_point is not None:
            on_point(point)


def plan_tasks(scenarios: list, mesh_keys: list[str], engine: str | None) -> list[Task]:
    """Group the runs into tasks: runs joined by a shared field problem or a continuation
    chain (the same nonlinear configurations at other voltages) go together (union of
    overlapping key sets), tasks in the order of their first run, runs within a task in
    order of voltage (each chain's warm starts then step by the sweep's voltage step). The
    plan depends only on the scenarios, so rows do not depend on the executor."""
    parent = list(range(len(scenarios)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    families, owner = [], {}
    for i, (sc, mk) in enumerate(zip(scenarios, mesh_keys)):
        fam = field_family(sc, mk, engine or sc.solver.engine)
        families.append(fam)
        for key in field_keys(sc, fam) + chain_keys(sc, fam):
            if key in owner:
                parent[root(i)] = root(owner[key])
            else:
                owner[key] = i
    groups: dict[int, list[int]] = {}
    for i in range(len(scenarios)):
        groups.setdefault(root(i), []).append(i)
    for idx in groups.values():
        idx.sort(key=lambda i: scenarios[i].protocol.max_voltage)     # stable: grid order otherwise
    tasks = [Task(idx, [scenarios[i] for i in idx], mesh_keys[idx[0]], engine, [families[i] for i in idx])
             for idx in groups.values()]
    return sorted(tasks, key=lambda t: min(t.indices))


# ----------------------------------------------------------------------------- executors
def _init_worker(meshes: dict, threads: str, nominals: dict | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # the parent handles Ctrl-C and stops us
    os.environ["EPSIM_THREADS"] = threads
    _MESHES.clear()
    _MESHES.update(meshes)
    _NOMINALS.clear()
    _NOMINALS.update(nominals or {})


def _run_in_worker(task: Task) -> list[PointResult]:
    return run_task(task)


def run_serial(tasks: list[Task], meshes: dict, on_point, nominals: dict | None = None,
               chain_workers: int = 1) -> None:
    for task in tasks:
        run_task(task, meshes, on_point, nominals, chain_workers)


def run_processes(tasks: list[Task], meshes: dict, on_point, jobs: int, nominals: dict | None = None) -> None:
    """Tasks in ``jobs`` worker processes (spawned: no forked gmsh or BLAS state); each
    worker receives the meshes and the nominal runs once, in its initial arguments (only
    tasks, which are small, go through the pool's queue). A worker that dies gives a one-line
    error naming --jobs (studies.workers; multiprocessing.Pool waited for ever on the dead
    worker's task). Ctrl-C terminates the workers."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    from simulator.studies.workers import first_death, lost_worker
    ctx = mp.get_context("spawn")
    threads = "1" if jobs > 1 else os.environ.get("EPSIM_THREADS", "")
    n = min(jobs, len(tasks))
    pool = ProcessPoolExecutor(n, mp_context=ctx, initializer=_init_worker, initargs=(meshes, threads, nominals))
    procs: dict = {}
    def lost():
        k, code = first_death(procs.values(), 1.0)
        return lost_worker(jobs, f"{k + 1} of {n}", code)

    try:
        pending = set()
        for task in tasks:
            try:
                pending.add(pool.submit(_run_in_worker, task))
            except BrokenProcessPool:       # a worker died before all tasks were queued
                raise lost() from None
            procs.update(getattr(pool, "_processes", None) or {})      # for their exit codes: best effort
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    points = future.result()
                except BrokenProcessPool:
                    raise lost() from None
                for p in points:
                    on_point(p)
    except BaseException:
        for p in procs.values():
            if p.is_alive():
                p.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


CONNECT_TIMEOUT_S = 10.0


def connect_dask(address: str):
    """A Dask distributed client of the scheduler at ``address`` (``tcp://host:port``), or a
    one-line :class:`ScenarioError` naming ``--scheduler``."""
    from simulator.errors import ScenarioError
    try:
        from distributed import Client
    except ImportError:
        raise ScenarioError("--scheduler", "needs the Dask distributed package (pip install distributed)") from None
    try:
        return Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ScenarioError("--scheduler", f"cannot connect to {address!r}: {' '.join(str(exc).split())[:200]}") \
            from None


def run_dask(tasks: list[Task], meshes: dict, on_point, client) -> None:
    """Tasks on a Dask distributed cluster (``client`` from :func:`connect_dask`, closed
    here); the meshes are scattered to every worker once (broadcast), tasks refer to them."""
    from distributed import as_completed
    try:
        scattered = {k: client.scatter(m, broadcast=True) for k, m in meshes.items()}
        futures = [client.submit(_run_on_dask, task, scattered[task.mesh_key], pure=False) for task in tasks]
        try:
            for fut in as_completed(futures):
                for p in fut.result():
                    on_point(p)
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        client.close()


def _run_on_dask(task: Task, mesh) -> list[PointResult]:
    return run_task(task, {task.mesh_key: mesh})
