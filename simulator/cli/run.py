"""``epsim run``: one scenario in, report, field and figures out."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from simulator.cli.exits import EXIT_OK, EXIT_UNDER
from simulator.errors import ScenarioError


def _progress(quiet: bool):
    start = time.perf_counter()

    def say(msg: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - start:7.1f} s] {msg}", file=sys.stderr, flush=True)
    return say


def _preload(engine: str | None) -> None:
    """Import every module a run needs before the run starts.

    A SIGINT that lands inside a lazy import is swallowed by importlib's module-lock
    callback ("Exception ignored in ... _get_module_lock"), so Ctrl-C during the run could be
    lost (the run then completes) or surface only at exit (seen: exit -2 under ``-m``).
    With everything imported up front, interrupts during meshing and solving are clean.
    """
    import importlib

    for name in ("simulator.meshing.build", "simulator.meshing.cache", "simulator.engines.embedded",
                 "simulator.solve.pipeline", "simulator.output.report", "simulator.output.figures",
                 "simulator.output.writer",
                 "matplotlib.figure", "matplotlib.backends.backend_agg", "meshio", "pyamg"):
        importlib.import_module(name)
    if engine == "dolfinx":
        try:
            importlib.import_module("simulator.engines.dolfinx.engine")
        except ImportError:
            pass        # reported as a one-line input error when the engine is created
    from simulator.cli.exits import allow_interrupts
    allow_interrupts()          # a Ctrl-C during the imports above (deferred by cli.entry) acts now


def cmd_run(args) -> int:
    """Load, check (before any work), run, write, summarise; the exit code."""
    from simulator.output import check_target, safe_name, write_outputs
    from simulator.solve.pipeline import run
    from simulator.output.report import build_report, summary_table
    from simulator.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    if args.fail_under is not None and not 0.0 <= args.fail_under <= 1.0:
        raise ScenarioError("--fail-under", f"must be a fraction in [0, 1], got {args.fail_under:g}")
    if args.max_memory is not None and not args.max_memory > 0:      # also refuses nan
        raise ScenarioError("--max-memory", f"must be > 0 GB, got {args.max_memory:g}")
    out = Path(args.out) if args.out else Path("out") / safe_name(scenario.name)
    check_target(out, args.force)
    from simulator.engines import check_engine_name
    engine = check_engine_name(args.engine, "--engine") if args.engine else \
        check_engine_name(scenario.solver.engine)
    _preload(engine)
    # under mpirun (DOLFINx engine) every rank solves; rank 0 meshes, prints and writes
    from simulator.solve.pipeline import mpi_comm
    comm = mpi_comm() if engine == "dolfinx" else None
    root = comm is None or comm.rank == 0
    say = _progress(args.quiet or not root)
    from simulator.engines.resources import check_memory
    result = run(scenario, engine=args.engine, progress=say,
                 memory_check=lambda mesh, degree: check_memory(mesh, degree, args.max_memory,
                                                                 scenario.mesh.size, scenario),
                 max_memory_gb=args.max_memory)
    report = build_report(result)
    if root:
        say("writing outputs")
        files = write_outputs(result, out, force=args.force, figures=not args.no_figures)
        print(summary_table(report))
        print(f"outputs: {out}/ ({', '.join(p.name for p in files)})")
    if comm is not None:
        comm.Barrier()
    cov = report["coverage"]["margin_reversible_fraction"]
    if args.fail_under is not None and cov is not None and cov < args.fail_under:
        if root:
            print(f"coverage {cov:.4f} is below --fail-under {args.fail_under:g}", file=sys.stderr)
        return EXIT_UNDER
    return EXIT_OK
