"""``epsim robustness``: how often a plan still covers under placement error and tissue spread."""
from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from simulator.cli.exits import EXIT_OK


def add_parser(sub) -> None:
    p = sub.add_parser("robustness", help="coverage under needle placement error and tissue parameter spread")
    p.add_argument("scenario", help="scenario TOML file (e.g. a planned.toml)")
    p.add_argument("--samples", type=int, required=True, metavar="N", help="number of seeded draws")
    p.add_argument("--placement-sd-mm", type=float, default=0.0, metavar="S", help="sd of the centre shift per axis")
    p.add_argument("--tilt-sd-deg", type=float, default=0.0, metavar="T", help="sd of the needle tilt")
    p.add_argument("--sigma-rel-sd", type=float, default=0.0, metavar="R", help="relative sd of sigma0, sigma1")
    p.add_argument("--threshold-rel-sd", type=float, default=0.0, metavar="Q", help="relative sd of E_rev, E_irr")
    p.add_argument("--seed", type=int, default=0, metavar="K", help="random seed (default 0)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="run the samples in N processes (the study executor; default 1)")
    p.add_argument("--out", help="output directory (default out/<scenario name>-robustness)")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_robustness)


def cmd_robustness(args) -> int:
    from simulator.output import check_target, safe_name
    from simulator.output.atomic import atomic_directory, write_json
    from simulator.scenario import load_scenario
    from simulator.studies.robustness import Spreads, plot_histogram, robustness
    from simulator.errors import ScenarioError

    scenario = load_scenario(args.scenario)
    data = tomllib.loads(Path(args.scenario).read_bytes().decode("utf-8-sig"))
    spreads = Spreads(args.placement_sd_mm, args.tilt_sd_deg, args.sigma_rel_sd, args.threshold_rel_sd)
    spreads.check()
    if not 1 <= args.samples <= 10_000:
        raise ScenarioError("--samples", f"must be between 1 and 10000, got {args.samples}")
    if not 0 <= args.seed < 2**63:
        raise ScenarioError("--seed", f"must be a non-negative integer, got {args.seed}")
    from simulator.cli.sweep import check_jobs
    check_jobs(args.jobs)
    out = Path(args.out) if args.out else Path("out") / f"{safe_name(scenario.name)}-robustness"
    check_target(out, args.force)

    def bar(i: int, n: int) -> None:
        if not args.quiet:
            done = int(24 * i / n)
            print(f"robustness [{'#' * done}{'.' * (24 - done)}] {i}/{n}", file=sys.stderr,
                  end="\n" if i >= n or not sys.stderr.isatty() else "\r", flush=True)

    report, fractions = robustness(data, args.samples, spreads, args.seed, progress=bar, jobs=args.jobs)
    with atomic_directory(out, args.force) as tmp:
        write_json(tmp / "robustness.json", report)
        plot_histogram(fractions, report, tmp / "robustness.png")
        from simulator.output.html_report import input_files, study_html
        (tmp / "report.html").write_text(study_html(f"epsim robustness: {scenario.name}", report, tmp,
                                                    table_key="draws", inputs=input_files([args.scenario])),
                                         encoding="utf-8")
    print(f"robustness of {scenario.name}: P(covered) = {report['probability_covered']:.3f} over {args.samples} "
          f"samples; 5th percentile of tumour + margin coverage {100 * report['margin_coverage_p05']:.2f} %")
    print(f"outputs: {out}/ (report.html, robustness.json, robustness.png)")
    return EXIT_OK
