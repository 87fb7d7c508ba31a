"""``epsim compare A.toml B.toml ...``: the same figures side by side (terminal, compare.csv,
compare.json) and the field slices of every scenario on one colour scale (compare.png)."""
from __future__ import annotations

from pathlib import Path

from simulator.cli.exits import EXIT_OK
from simulator.errors import ScenarioError


def add_parser(sub) -> None:
    c = sub.add_parser("compare", help="run several scenarios and compare them side by side")
    c.add_argument("scenarios", nargs="+", help="scenario TOML files (at least 2)")
    c.add_argument("--out", help="output directory (default out/compare)")
    c.add_argument("--engine", help="embedded | dolfinx (overrides [solver] engine)")
    c.add_argument("--force", action="store_true", help="replace an existing compare output directory")
    c.add_argument("--no-figures", action="store_true", help="skip compare.png")
    c.add_argument("--quiet", action="store_true", help="no progress messages")
    c.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    from simulator.cli.run import _preload, _progress
    from simulator.engines import check_engine_name
    from simulator.output import check_target
    from simulator.scenario import load_scenario
    from simulator.studies.compare import compare_rows, compare_text, run_compare, write_compare

    if len(args.scenarios) < 2:
        raise ScenarioError("compare", f"needs at least 2 scenario files, got {len(args.scenarios)}")
    scenarios = [load_scenario(p) for p in args.scenarios]        # all checked before any work
    if args.engine:
        check_engine_name(args.engine, "--engine")
    out = Path(args.out) if args.out else Path("out") / "compare"
    check_target(out, args.force)
    _preload(args.engine)
    results, reports = run_compare(scenarios, engine=args.engine, progress=_progress(args.quiet))
    rows = compare_rows(reports, [str(p) for p in args.scenarios])
    from simulator.output.html_report import input_files
    files = write_compare(results, rows, out, force=args.force, figures=not args.no_figures,
                          inputs=input_files(args.scenarios))
    print(compare_text(rows))
    for r in rows:                          # each run's own warnings (its report's), not lost in the table
        for w in filter(None, r.get("warnings", "").split(" | ")):
            print(f"WARNING ({r['name']}): {w}")
    print(f"outputs: {out}/ ({', '.join(p.name for p in files)})")
    return EXIT_OK
