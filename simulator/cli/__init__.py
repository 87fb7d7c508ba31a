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

from simulator.errors import ConvergenceError, ScenarioError
from simulator.cli.exits import (EXIT_CONVERGENCE, EXIT_INPUT, EXIT_INT, EXIT_INTERNAL, EXIT_TERM,
                                 Terminated, allow_interrupts, defer_interrupts)



def _on_term(signum, frame):
    raise Terminated()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):            # one line, exit 2
        print(f"epsim: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="epsim", description="Electroporation pulse-protocol simulator")
    from simulator.version import __version__
    p.add_argument("--version", action="version", version=f"epsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser("run", help="simulate a scenario file and write a report")
    r.add_argument("scenario", help="scenario TOML file")
    r.add_argument("--out", help="output directory (default out/<scenario name>)")
    r.add_argument("--engine", help="embedded | dolfinx (overrides [solver] engine)")
    r.add_argument("--fail-under", type=float, default=None, metavar="F",
                   help="exit 1 when tumour + margin coverage < F (fraction)")
    r.add_argument("--force", action="store_true", help="replace an existing output directory epsim wrote (never any other)")
    r.add_argument("--no-figures", action="store_true", help="skip PNG figures")
    r.add_argument("--max-memory", type=float, default=None, metavar="GB",
                   help="refuse problems estimated to need more memory than this")
    r.add_argument("--quiet", action="store_true", help="no progress messages")
    from simulator.cli.run import cmd_run
    r.set_defaults(func=cmd_run)
    pr = sub.add_parser("presets", help="list electrodes, protocols and materials")
    from simulator.cli.presets import cmd_presets
    pr.set_defaults(func=cmd_presets)
    from simulator.cli.plan import add_parser as add_plan_parser
    add_plan_parser(sub)
    from simulator.cli.robustness import add_parser as add_robustness_parser
    add_robustness_parser(sub)
    from simulator.cli import sweep as sweep_cli
    sweep_cli.add_parser(sub)
    from simulator.cli import compare as compare_cli
    compare_cli.add_parser(sub)
    for ep in _plugin_commands():                # e.g. ``bench`` from the benchmarks package
        ep.load()(sub)
    return p


def _plugin_commands():
    """Subcommands other installed packages register under the ``epsim.commands`` entry-point
    group (a callable taking the subparsers): the library never imports them itself."""
    from importlib.metadata import entry_points
    return sorted(entry_points(group="epsim.commands"), key=lambda ep: ep.name)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (``epsim`` calls sys.exit with it)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:                  # usage error (2), --help/--version (0)
        return exc.code if isinstance(exc.code, int) else EXIT_INPUT
    old_term = signal.signal(signal.SIGTERM, _on_term) if _main_thread() else None
    try:
        if args.command not in PRELOADING:
            allow_interrupts()
        return args.func(args)
    except ScenarioError as exc:
        print(f"epsim: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except ConvergenceError as exc:
        print(f"epsim: error: {exc}", file=sys.stderr)
        return EXIT_CONVERGENCE
    except KeyboardInterrupt:
        return _interrupted()
    except Terminated:
        print("epsim: terminated; nothing written", file=sys.stderr)
        return EXIT_TERM
    except Exception as exc:          # a bug of epsim, not the user's input: say so in one line
        if _after_interrupt(exc):     # e.g. an import that a Ctrl-C broke half way
            return _interrupted()
        print(f"epsim: internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
              "(please report it with the scenario; set EPSIM_DEBUG=1 for the traceback)", file=sys.stderr)
        if os.environ.get("EPSIM_DEBUG"):
            raise
        return EXIT_INTERNAL
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


def _interrupted() -> int:
    print("epsim: interrupted; nothing written", file=sys.stderr)
    return EXIT_INT


def _after_interrupt(exc: BaseException) -> bool:
    """True when a KeyboardInterrupt is in the exception's context chain."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


PRELOADING = ("run", "sweep", "compare")     # commands that end the start-up deferral in _preload


def entry() -> None:
    """The ``epsim`` console script: Ctrl-C is deferred through start-up (imports: see
    exits.defer_interrupts) and then gives one line and exit 130."""
    defer_interrupts()
    try:
        code = main()
    except KeyboardInterrupt:           # one that came while deferred, before main's handler
        code = _interrupted()
    sys.exit(code)


