"""``epsim plan``: which electrode, voltage and placement cover the scenario's lesion."""
from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from simulator.cli.exits import EXIT_OK
from simulator.errors import ScenarioError


def add_parser(sub) -> None:
    p = sub.add_parser("plan", help="find the electrode, voltage and placement that cover the lesion")
    p.add_argument("scenario", help="scenario TOML file (its tumours and tissue are planned for)")
    p.add_argument("--out", help="output directory (default out/<scenario name>-plan)")
    p.add_argument("--electrodes", default="all", help="catalogue electrodes to try: all | NAME,NAME,...")
    p.add_argument("--max-applications", type=int, default=1, metavar="N",
                   help="most electrode applications a plan may use (default 1)")
    p.add_argument("--rank-by", default=None, metavar="KEYS",
                   help="ranking hierarchy (default covered,applications,healthy_irreversible,pulses,current)")
    p.add_argument("--reposition-s", type=float, default=None, metavar="S",
                   help="seconds to place the electrode per application (default 60 [A])")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.add_argument("--no-figures", action="store_true", help="skip plan.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_plan)


def _bar(quiet: bool):
    def tick(i: int, n: int, name: str) -> None:
        if quiet:
            return
        width = 24
        done = int(width * i / max(n, 1))
        end = "\n" if i >= n or not sys.stderr.isatty() else "\r"
        print(f"plan [{'#' * done}{'.' * (width - done)}] {i}/{n} {name:<16}", end=end, file=sys.stderr,
              flush=True)
    return tick


def cmd_plan(args) -> int:
    from simulator.output import check_target, safe_name
    from simulator.scenario import load_scenario
    from simulator.studies.candidates import select
    from simulator.studies.plan import PlanOptions, plan
    from simulator.studies.plan_output import plan_table, write_plan
    from simulator.studies.ranking import parse_hierarchy
    from simulator.studies.treatment_time import REPOSITION_S

    scenario = load_scenario(args.scenario)                  # every scenario error first, one line
    data = tomllib.loads(Path(args.scenario).read_bytes().decode("utf-8-sig"))
    select(args.electrodes)
    if not 1 <= args.max_applications <= 20:
        raise ScenarioError("--max-applications", f"must be between 1 and 20, got {args.max_applications}")
    hierarchy = parse_hierarchy(args.rank_by)
    reposition = REPOSITION_S if args.reposition_s is None else args.reposition_s
    if not 0.0 <= reposition <= 3600.0:                     # also refuses nan
        raise ScenarioError("--reposition-s", f"must be in [0, 3600] s, got {reposition:g}")
    if not scenario.tumours:
        raise ScenarioError("tumours", "epsim plan needs at least one tumour to cover")
    out = Path(args.out) if args.out else Path("out") / f"{safe_name(scenario.name)}-plan"
    check_target(out, args.force)
    options = PlanOptions(args.electrodes, args.max_applications, hierarchy, reposition)
    result = plan(data, options, bar=_bar(args.quiet))
    from simulator.output.html_report import input_files
    files = write_plan(result, out, force=args.force, figures=not args.no_figures,
                       inputs=input_files([args.scenario]))
    print(plan_table(result.report))
    print(f"outputs: {out}/ ({', '.join(p.name for p in files)})")
    return EXIT_OK
