"""``epsim sweep SCENARIO --vary KEY=VALUES [--vary ...]``: a grid of variations, one row per
point in sweep.csv / sweep.json, sweep.png and coverage_curves.png."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from simulator.cli.exits import EXIT_INT, EXIT_OK, EXIT_TERM, Terminated
from simulator.errors import ScenarioError


def add_parser(sub) -> None:
    s = sub.add_parser("sweep", help="run a grid of scenario variations and tabulate the results")
    s.add_argument("scenario", help="scenario TOML file")
    s.add_argument("--vary", action="append", required=True, metavar="KEY=VALUES",
                   help="dotted scenario key and a list (400,600,800) or range (400:1200:100); "
                        "repeat for a grid")
    s.add_argument("--out", help="output directory (default out/<scenario name>-sweep)")
    s.add_argument("--engine", help="embedded | dolfinx (overrides [solver] engine)")
    s.add_argument("--jobs", type=int, default=1, metavar="N", help="N worker processes: independent points, or the configuration chains of a nonlinear voltage sweep")
    s.add_argument("--scheduler", metavar="ADDRESS",
                   help="run points on the Dask distributed cluster at ADDRESS (tcp://host:port)")
    s.add_argument("--force", action="store_true", help="replace an existing sweep output directory")
    s.add_argument("--no-figures", action="store_true", help="skip sweep.png and coverage_curves.png")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_sweep)


def check_jobs(jobs: int) -> None:
    if not 1 <= jobs <= 256:
        raise ScenarioError("--jobs", f"must be an integer from 1 to 256, got {jobs}")


def cmd_sweep(args) -> int:
    from simulator.engines import check_engine_name
    from simulator.output import check_target, safe_name
    from simulator.scenario import load_scenario
    from simulator.studies.files import write_sweep
    from simulator.studies.sweep import plan_sweep, run_sweep
    from simulator.studies.table import HEADLINES
    from simulator.studies.variation import parse_variation

    check_jobs(args.jobs)
    base = load_scenario(args.scenario)
    variations = [parse_variation(v) for v in args.vary]
    sweep = plan_sweep(base, variations)               # every point validated here
    if args.engine:
        check_engine_name(args.engine, "--engine")
    out = Path(args.out) if args.out else Path("out") / f"{safe_name(base.name)}-sweep"
    check_target(out, args.force)
    replacing = os.path.lexists(out)        # --force over an earlier output: kept if we stop early
    from simulator.cli.run import _preload
    _preload(args.engine)
    bar = progress_bar(len(sweep.points), args.quiet)
    from simulator.output.html_report import input_files
    try:
        run_sweep(sweep, engine=args.engine, jobs=args.jobs, scheduler=args.scheduler,
                  progress=(lambda m: bar.set_postfix_str(m, refresh=True)) if bar else None,
                  on_point=(lambda p: bar.update(sweep.same_as.count(p.index))) if bar else None)
        if bar:
            bar.close()
        files = write_sweep(sweep, out, force=args.force, figures=not args.no_figures,
                            inputs=input_files([args.scenario], vary="\n".join(args.vary)))
    except (KeyboardInterrupt, Terminated) as exc:
        # an interrupt, even after the last point (while the figures are drawn), leaves only
        # the partial pair: the complete files are written all together or not at all
        if bar:
            bar.close()
        return _write_partial(sweep, out, EXIT_INT if isinstance(exc, KeyboardInterrupt) else EXIT_TERM,
                              keep=replacing)
    rows = sweep.rows()
    keys = [v.key for v in variations]
    print(text_table(rows, keys + [k for k, _ in HEADLINES[:5]] + ["run_time_s"]))
    print(f"{len(rows)} points, {sweep.distinct} distinct runs, {sweep.mesh_builds} mesh(es), "
          f"{sweep.timings['total']:.1f} s; outputs: {out}/ ({', '.join(p.name for p in files)})")
    for w in sweep.warnings:
        print(f"WARNING: {w}")
    warned = [r for r in rows if r.get("warnings")]
    if warned:
        first = warned[0]["warnings"].split(" | ")[0]
        print(f"WARNING: {len(warned)} of {len(rows)} points carry warnings of their runs (the warnings column "
              f"of sweep.csv), e.g. row {rows.index(warned[0])}: {first}")
    return EXIT_OK


def _write_partial(sweep, out: Path, code: int, keep: bool = False) -> int:
    """After an interrupt: the rows done so far as sweep.partial.csv/.json ("complete": false),
    or nothing when no point was done; returns the exit code. ``keep``: ``out`` holds an
    earlier output that --force was to replace: it stays, and the partial pair goes to
    ``<out>.partial`` beside it (a folder epsim may replace, else nothing is written)."""
    from simulator.output import check_target
    from simulator.studies.files import write_sweep
    sweep.interrupted = True
    done = sum(r is not None for r in sweep.reports)
    stopped = "interrupted" if code == EXIT_INT else "terminated"
    if done == 0:
        print(f"epsim: {stopped}; nothing written", file=sys.stderr)
        return code
    target = out.with_name(out.name + ".partial") if keep else out
    kept = f"; {out} is kept as it was" if keep else ""
    try:
        check_target(target, True)
    except ScenarioError as exc:
        print(f"epsim: {stopped} after {done} of {len(sweep.points)} points; nothing written{kept} "
              f"({exc})", file=sys.stderr)
        return code
    write_sweep(sweep, target, force=True)
    print(f"epsim: {stopped} after {done} of {len(sweep.points)} points; the rows done are in "
          f"{target}/sweep.partial.csv (incomplete{'' if done < len(sweep.points) else ': no figures'}){kept}",
          file=sys.stderr)
    return code


def progress_bar(total: int, quiet: bool):
    """A tqdm bar on stderr with the time left, or None when quiet."""
    if quiet:
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="point", file=sys.stderr, dynamic_ncols=True, leave=False)


def text_table(rows: list[dict], cols: list[str]) -> str:
    """Rows as aligned text columns (numbers to 4 significant digits)."""
    def cell(v):
        if isinstance(v, bool) or v is None:
            return "-" if v is None else ("yes" if v else "no")
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    heads = [c.rsplit(".", 1)[-1] if c.count(".") else c for c in cols]
    body = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(heads)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(heads, widths))]
    lines += ["  ".join(x.rjust(w) for x, w in zip(b, widths)) for b in body]
    return "\n".join(lines)
