"""Command line: a thin layer over the Python API.

Exit codes (design.md section 5): 0 ran (and coverage >= --fail-under), 1 coverage below
--fail-under, 2 bad input (one line naming the field), 3 a solve did not converge,
130/143 interrupted (SIGINT/SIGTERM; nothing left behind); 4 an internal error (a bug of
epsim: one line, EPSIM_DEBUG=1 shows the traceback) - an addition to the contract.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from .errors import ConvergenceError, ScenarioError

EXIT_OK, EXIT_UNDER, EXIT_INPUT, EXIT_CONVERGENCE, EXIT_INTERNAL, EXIT_INT, EXIT_TERM = 0, 1, 2, 3, 4, 130, 143


class Terminated(BaseException):
    """Raised from the SIGTERM handler so that cleanup code runs."""


def _on_term(signum, frame):
    raise Terminated()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):            # one line, exit 2
        print(f"epsim: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT)


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

    for name in ("simulator.geometry", "simulator.mesh_cache", "simulator.engines.embedded",
                 "simulator.train", "simulator.coverage", "simulator.report", "simulator.plot",
                 "matplotlib.figure", "matplotlib.backends.backend_agg", "meshio", "pyamg"):
        importlib.import_module(name)
    if engine == "dolfinx":
        try:
            importlib.import_module("simulator.engines.dolfinx_engine")
        except ImportError:
            pass        # reported as a one-line input error when the engine is created


def cmd_run(args) -> int:
    from .output import check_target, safe_name, write_outputs
    from .pipeline import run
    from .report import summary_table
    from .scenario import load_scenario

    scenario = load_scenario(args.scenario)
    if args.fail_under is not None and not 0.0 <= args.fail_under <= 1.0:
        raise ScenarioError("--fail-under", f"must be a fraction in [0, 1], got {args.fail_under:g}")
    if args.max_memory is not None and not args.max_memory > 0:      # also refuses nan
        raise ScenarioError("--max-memory", f"must be > 0 GB, got {args.max_memory:g}")
    out = Path(args.out) if args.out else Path("out") / safe_name(scenario.name)
    check_target(out, args.force)
    if args.engine:
        from .scenario import ENGINES
        if args.engine not in ENGINES:
            raise ScenarioError("--engine", f"unknown engine {args.engine!r}; valid: {', '.join(ENGINES)}")
    engine = args.engine or scenario.solver.engine
    _preload(engine)
    # under mpirun (DOLFINx engine) every rank solves; rank 0 meshes, prints and writes
    from .pipeline import mpi_comm
    comm = mpi_comm() if engine == "dolfinx" else None
    root = comm is None or comm.rank == 0
    say = _progress(args.quiet or not root)
    from .resources import check_memory
    result = run(scenario, engine=args.engine, progress=say,
                 memory_check=lambda mesh, degree: check_memory(mesh, degree, args.max_memory,
                                                                 scenario.mesh.size))
    report = result.report()
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


def cmd_presets(args) -> int:
    from .presets import presets_text
    print(presets_text())
    return EXIT_OK


def cmd_bench(args) -> int:
    from benchmarks.suite import main as bench_main
    return bench_main(quick=args.quick, json_path=args.json, dolfinx=not args.no_baseline)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="epsim", description="Electroporation pulse-protocol simulator")
    from . import __version__
    p.add_argument("--version", action="version", version=f"epsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser("run", help="simulate a scenario file and write a report")
    r.add_argument("scenario", help="scenario TOML file")
    r.add_argument("--out", help="output directory (default out/<scenario name>)")
    r.add_argument("--engine", help="embedded | dolfinx (overrides [solver] engine)")
    r.add_argument("--fail-under", type=float, default=None, metavar="F",
                   help="exit 1 when tumour + margin coverage < F (fraction)")
    r.add_argument("--force", action="store_true", help="replace an existing output directory")
    r.add_argument("--no-figures", action="store_true", help="skip PNG figures")
    r.add_argument("--max-memory", type=float, default=None, metavar="GB",
                   help="refuse problems estimated to need more memory than this")
    r.add_argument("--quiet", action="store_true", help="no progress messages")
    r.set_defaults(func=cmd_run)
    pr = sub.add_parser("presets", help="list electrodes, protocols and materials")
    pr.set_defaults(func=cmd_presets)
    b = sub.add_parser("bench", help="run the solver-speed benchmarks")
    b.add_argument("--quick", action="store_true", help="small cases only (< 2 minutes)")
    b.add_argument("--json", help="write the machine-readable results here")
    b.add_argument("--no-baseline", action="store_true", help="skip the DOLFINx baseline")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (``epsim`` calls sys.exit with it)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:                  # usage error (2), --help/--version (0)
        return exc.code if isinstance(exc.code, int) else EXIT_INPUT
    old_term = signal.signal(signal.SIGTERM, _on_term) if _main_thread() else None
    try:
        return args.func(args)
    except ScenarioError as exc:
        print(f"epsim: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except ConvergenceError as exc:
        print(f"epsim: error: {exc}", file=sys.stderr)
        return EXIT_CONVERGENCE
    except KeyboardInterrupt:
        print("epsim: interrupted; nothing written", file=sys.stderr)
        return EXIT_INT
    except Terminated:
        print("epsim: terminated; nothing written", file=sys.stderr)
        return EXIT_TERM
    except Exception as exc:          # a bug of epsim, not the user's input: say so in one line
        print(f"epsim: internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
              "(please report it with the scenario; set EPSIM_DEBUG=1 for the traceback)", file=sys.stderr)
        if os.environ.get("EPSIM_DEBUG"):
            raise
        return EXIT_INTERNAL
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


def _main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
