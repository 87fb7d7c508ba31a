"""``epsim bench``: run every case in a fresh subprocess, compare with the DOLFINx baseline,
write the JSON record (SCHEMA.md) and print the markdown table (table.py).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .cases import QUICK_SIZES, all_cases
from .runner import SCHEMA_VERSION, environment

ROOT = Path(__file__).resolve().parents[1]
CASE_TIMEOUT = 3600.0


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _run_case(name: str, tmp: Path, size: float | None = None, cached: bool = False,
              npz: Path | None = None) -> dict:
    out = tmp / f"{name}{'-cached' if cached else ''}.json"
    cmd = [sys.executable, "-m", "benchmarks.runner", name, str(out)]
    if size is not None:
        cmd += ["--size", repr(size)]
    if cached:
        cmd.append("--cached")
    if npz is not None:
        cmd += ["--npz", str(npz)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=CASE_TIMEOUT)
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"name": name, "error": tail[0][:300], "wall_s": round(time.perf_counter() - t, 2)}
    rec = json.loads(out.read_text())
    rec["process_wall_s"] = round(time.perf_counter() - t, 3)
    return rec


def find_dolfinx_python() -> str | None:
    """An interpreter that imports dolfinx: $EPSIM_DOLFINX_PYTHON, this one, /usr/bin/python3."""
    cands = [os.environ.get("EPSIM_DOLFINX_PYTHON"), sys.executable, "/usr/bin/python3", shutil.which("python3")]
    seen = set()
    for c in cands:
        if not c or c in seen or not Path(c).exists():
            continue
        seen.add(c)
        try:
            r = subprocess.run([c, "-c", "import dolfinx, dolfinx.fem.petsc"], capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return c
    return None


def _gmsh_path() -> str | None:
    try:
        import gmsh
        return str(Path(gmsh.__file__).resolve().parent)
    except Exception:                                               # pragma: no cover
        return None


def _run_baseline(python: str, tmp: Path, tag: str, *, size: float | None = None,
                  npz: Path | None = None, target_dofs: int | None = None) -> dict:
    out = tmp / f"baseline-{tag}.json"
    cmd = [python, str(ROOT / "benchmarks" / "dolfinx_baseline.py"), "--json", str(out)]
    cmd += ["--npz", str(npz)] if npz is not None else ["--size", repr(size)]
    if target_dofs:
        cmd += ["--target-dofs", str(target_dofs)]
    gp = _gmsh_path()
    if gp:
        cmd += ["--gmsh-path", gp]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)          # keep the epsim venv's numpy out of the system interpreter
    env.setdefault("OMP_NUM_THREADS", "1")
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=CASE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    if not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": tail[0][:300]}
    rec = json.loads(out.read_text())
    rec["process_wall_s"] = round(time.perf_counter() - t, 3)
    return rec


def _pct(a: float, b: float) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(100.0 * (a - b) / abs(b), 4)


def compare(epsim: dict, same: dict | None, plain: dict | None) -> dict:
    """Ratios baseline / epsim (> 1: epsim faster) and the answers' agreement (%)."""
    out: dict = {}
    et = epsim["times_s"]
    e_solve = et["setup"] + et["nonlinear_total"]
    e_total = et["mesh"] + et["setup"] + et["nonlinear_total"] + et["post"] + et["output"]
    if same and "error" not in same:
        bt = same["times_s"]
        out["same_mesh"] = {
            "dofs": same["dofs"], "baseline_solve_s": round(bt["setup"] + bt["nonlinear_total"], 4),
            "epsim_solve_s": round(e_solve, 4),
            "solve_speedup": round((bt["setup"] + bt["nonlinear_total"]) / e_solve, 3),
            "baseline_iterations": same["iterations"], "baseline_converged": same["converged"],
            "reversible_volume_diff_pct": _pct(epsim["answer"]["reversible_volume_mm3"],
                                               same["answer"]["reversible_volume_mm3"]),
            "current_diff_pct": _pct(epsim["answer"]["max_current_A"], same["answer"]["max_current_A"]),
        }
    elif same:
        out["same_mesh"] = {"error": same["error"]}
    if plain and "error" not in plain:
        bt = plain["times_s"]
        b_total = bt["total"]
        out["own_mesh"] = {
            "dofs": plain["dofs"], "baseline_mesh_s": bt["mesh"],
            "baseline_solve_s": round(bt["setup"] + bt["nonlinear_total"], 4), "baseline_total_s": b_total,
            "epsim_total_s": round(e_total, 4),
            "end_to_end_speedup": round(b_total / e_total, 3),
            "solve_speedup_per_dof": round((bt["setup"] + bt["nonlinear_total"]) / plain["dofs"]
                                           / (e_solve / epsim["dofs"]), 3),
            "baseline_iterations": plain["iterations"], "baseline_converged": plain["converged"],
            "reversible_volume_diff_pct": _pct(epsim["answer"]["reversible_volume_mm3"],
                                               plain["answer"]["reversible_volume_mm3"]),
            "current_diff_pct": _pct(epsim["answer"]["max_current_A"], plain["answer"]["max_current_A"]),
        }
    elif plain:
        out["own_mesh"] = {"error": plain["error"]}
    return out


def run_suite(quick: bool = False, dolfinx: bool = True, cases: list[str] | None = None,
              progress=None) -> dict:
    say = progress or (lambda m: print(m, file=sys.stderr, flush=True))
    specs = all_cases()
    names = cases or [n for n, s in specs.items() if s["quick"] or not quick]
    t0 = time.perf_counter()
    python = find_dolfinx_python() if dolfinx else None
    if dolfinx and python is None:
        say("bench: DOLFINx not importable: no baseline")
    results = []
    with tempfile.TemporaryDirectory(prefix="epsim-bench-") as td:
        tmp = Path(td)
        for name in names:
            spec = specs[name]
            size = QUICK_SIZES.get(name) if quick else None
            want_baseline = python is not None and spec.get("baseline") and (not quick or name.endswith("-s"))
            npz = tmp / f"{name}.npz" if want_baseline else None
            say(f"bench: {name} ...")
            rec = _run_case(name, tmp, size=size, npz=npz)
            if "error" not in rec and spec["kind"] == "study":
                say(f"bench: {name}: {rec['wall_s']:.1f} s (target {rec['target_s']:.0f} s), cpu {rec['cpu_s']:.1f} s")
            elif "error" not in rec and spec["kind"] == "mesh":
                say(f"bench: {name}: {rec['cells']} cells in {rec['times_s']['mesh']:.1f} s "
                    f"(target {rec['target_s']:g} s)")
            elif "error" not in rec:
                say(f"bench: {name}: {rec['dofs']} DOFs, {rec['times_s']['total']:.1f} s, "
                    f"peak {rec['memory_mb']['peak']:.0f} MB")
            else:
                say(f"bench: {name}: FAILED: {rec['error']}")
            results.append(rec)
            if spec["kind"] == "hexagonal" and "error" not in rec:
                say(f"bench: {name} (cached mesh) ...")
                results.append(_run_case(name, tmp, size=size, cached=True))
            if want_baseline and "error" not in rec:
                say(f"bench: {name}: DOLFINx baseline on the same mesh ...")
                same = _run_baseline(python, tmp, f"{name}-same", npz=npz)
                say(f"bench: {name}: DOLFINx baseline, its own gmsh mesh ...")
                plain = _run_baseline(python, tmp, f"{name}-gmsh", size=rec["mesh_size_mm"],
                                      target_dofs=rec["dofs"])
                rec["baseline"] = {"interpreter": python, "same_mesh_record": same, "own_mesh_record": plain,
                                   **compare(rec, same, plain)}
    return {"schema_version": SCHEMA_VERSION, "suite": "quick" if quick else "full",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "environment": environment(), "wall_s": round(time.perf_counter() - t0, 2),
            "dolfinx_baseline": python is not None, "cases": results,
            "scaling": scaling(results)}


def scaling(results: list[dict]) -> dict:
    """Time per DOF (setup + nonlinear solve) across the needle-pair sizes: max/min ratio."""
    pts = [(r["dofs"], r["time_per_dof_us"]) for r in results if r.get("kind") == "needle-pair" and "error" not in r]
    if len(pts) < 2:
        return {}
    per = [p for _, p in pts]
    return {"needle_pair_dofs": [d for d, _ in pts], "time_per_dof_us": per,
            "max_over_min": round(max(per) / min(per), 3)}


def main(quick: bool = False, json_path: str | None = None, dolfinx: bool = True) -> int:
    """Entry point of ``epsim bench``; returns the exit code (0: every case ran)."""
    from .table import markdown
    data = run_suite(quick=quick, dolfinx=dolfinx)
    if json_path:
        Path(json_path).write_text(json.dumps(data, indent=1))
    print(markdown(data))
    return 0 if all("error" not in c and c.get("within_target", True) for c in data["cases"]) else 1


if __name__ == "__main__":
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json")
    p.add_argument("--no-baseline", action="store_true")
    a = p.parse_args()
    sys.exit(main(a.quick, a.json, not a.no_baseline))


def register_cli(subparsers) -> None:
    """The ``epsim bench`` subcommand (entry point ``epsim.commands``: the library does not
    import the benchmarks)."""
    b = subparsers.add_parser("bench", help="run the solver-speed benchmarks")
    b.add_argument("--quick", action="store_true", help="small cases only (< 2 minutes)")
    b.add_argument("--json", help="write the machine-readable results here")
    b.add_argument("--no-baseline", action="store_true", help="skip the DOLFINx baseline")
    b.set_defaults(func=lambda args: main(quick=args.quick, json_path=args.json, dolfinx=not args.no_baseline))

