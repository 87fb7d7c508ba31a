"""Markdown table of a benchmark JSON: ``python -m benchmarks.table results.json``."""
from __future__ import annotations

import json
import sys


def _f(x, fmt="{:.2f}"):
    return "-" if x is None else fmt.format(x)


def markdown(data: dict) -> str:
    env = data.get("environment", {})
    lines = [f"epsim benchmarks ({data.get('suite')}, schema {data.get('schema_version')}, {data.get('created')}; "
             f"{env.get('cpus')} CPUs, load {_f(env.get('load_average_1min'), '{:.1f}')}, numpy {env.get('numpy')}, "
             f"scipy {env.get('scipy')}, pyamg {env.get('pyamg')})", "",
             "| case | DOFs | cells | mesh s | setup s | solve s | post+out s | total s | Newton its | CG its "
             "| peak MB | solve MB/1e6 DOFs | us/DOF | current A | reversible mm3 | tumour cov. |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    studies = [c for c in data.get("cases", []) if c.get("kind") == "study"]
    for c in data.get("cases", []):
        if c.get("kind") in ("study", "mesh"):
            continue
        if "error" in c:
            lines.append(f"| {c['name']} | failed: {c['error']} |" + " |" * 15)
            continue
        t = c["times_s"]
        a = c["answer"]
        cov = a.get("tumour_reversible_fraction")
        lines.append(
            f"| {c['name']} | {c['dofs']} | {c['cells']} | {t['mesh']:.2f} | {t['setup']:.2f} | "
            f"{t['nonlinear_total']:.2f} | {t['post'] + t['output']:.2f} | {t['total']:.2f} | "
            f"{c['iterations']['nonlinear']} | {c['iterations']['linear']} | {c['memory_mb']['peak']:.0f} | "
            f"{c['memory_mb'].get('peak_solve_per_million_dofs', c['memory_mb']['peak_per_million_dofs']):.0f} | {c['time_per_dof_us']:.1f} | {a['max_current_A']:.4f} | "
            f"{a['reversible_volume_mm3']:.1f} | {_f(cov, '{:.4f}')} |")
    base = [c for c in data.get("cases", []) if c.get("baseline")]
    if base:
        lines += ["", "DOLFINx baseline (damped Picard 0.5, CG + BoomerAMG re-assembled per iteration), same machine, "
                  "same run; speedup = baseline time / epsim time:", "",
                  "| case | mesh | DOFs | baseline s | epsim s | speedup | Picard its | reversible vol. diff % "
                  "| current diff % |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for c in base:
            b = c["baseline"]
            s = b.get("same_mesh", {})
            if s and "error" not in s:
                lines.append(f"| {c['name']} | same mesh (solve only) | {s['dofs']} | {s['baseline_solve_s']:.2f} | "
                             f"{s['epsim_solve_s']:.2f} | **{s['solve_speedup']:.1f}x** | "
                             f"{s['baseline_iterations']['nonlinear']} | {_f(s['reversible_volume_diff_pct'], '{:+.3f}')} | "
                             f"{_f(s['current_diff_pct'], '{:+.3f}')} |")
            elif s:
                lines.append(f"| {c['name']} | same mesh | failed: {s['error']} | | | | | | |")
            o = b.get("own_mesh", {})
            if o and "error" not in o:
                lines.append(f"| {c['name']} | own gmsh mesh (end to end) | {o['dofs']} | {o['baseline_total_s']:.2f} | "
                             f"{o['epsim_total_s']:.2f} | **{o['end_to_end_speedup']:.1f}x** | "
                             f"{o['baseline_iterations']['nonlinear']} | {_f(o['reversible_volume_diff_pct'], '{:+.3f}')} | "
                             f"{_f(o['current_diff_pct'], '{:+.3f}')} |")
            elif o:
                lines.append(f"| {c['name']} | own mesh | failed: {o['error']} | | | | | | |")
    if studies:
        lines += ["", "Study targets (issue 13), end to end in one process (cpu: with its worker processes):", "",
                  "| study | wall s | target s | within | cpu s | load 1 min (start, end) |", "|---|---:|---:|---|---:|---|"]
        for c in studies:
            if "error" in c:
                lines.append(f"| {c['name']} | failed: {c['error']} | | | | |")
                continue
            lines.append(f"| {c['name']} | {c['wall_s']:.1f} | {c['target_s']:.0f} | "
                         f"{'yes' if c['within_target'] else '**no**'} | {c['cpu_s']:.1f} | "
                         f"{', '.join(f'{x:.1f}' for x in c['load_average_1min'])} |")
    meshing = [c for c in data.get("cases", []) if c.get("kind") == "mesh"]
    if meshing:
        lines += ["", "Meshing only (benchmarks/meshing.py):", "",
                  "| case | cells | nodes | mesh s | target s | cpu s | peak MB |", "|---|---:|---:|---:|---:|---:|---:|"]
        for c in meshing:
            if "error" in c:
                lines.append(f"| {c['name']} | failed: {c['error']} | | | | | |")
                continue
            ok = "" if c["within_target"] else " (over)"
            lines.append(f"| {c['name']} | {c['cells']} | {c['points']} | {c['times_s']['mesh']:.1f}{ok} | "
                         f"{c['target_s']:g} | {c['cpu_s']:.1f} | {c['memory_mb']['peak']:.0f} |")
    sc = data.get("scaling") or {}
    if sc:
        lines += ["", f"time per DOF (setup + solve), needle pair: {', '.join(f'{p:.1f}' for p in sc['time_per_dof_us'])}"
                  f" us at {', '.join(str(d) for d in sc['needle_pair_dofs'])} DOFs: max/min {sc['max_over_min']:.2f}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m benchmarks.table results.json", file=sys.stderr)
        return 2
    with open(argv[0]) as fh:
        print(markdown(json.load(fh)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
