"""P1, P2 on straight cells and P2 on curved (second-order) cells on the two-needle exact case.

    EPSIM_THREADS=1 python benchmarks/curved_p2.py [CONTACT_MM ...]   (default 0.4 0.28 0.2 0.14)
    EPSIM_THREADS=1 python benchmarks/curved_p2.py --p1 0.1 0.07 0.05  (P1 only: equal accuracy)

tests/test_accuracy.py's curved case: two needles (0.7 mm, 4 mm apart, 100 V) through a 2 mm
gel slab in a 400 mm block, exact current pi sigma L U / arccosh(d / 2a); contact size as
given, the fine zone 2.5x it, far size 10 mm, ``[mesh] accuracy = 0``. Prints per run the
DOFs, cells, current error and CPU seconds (user + system of this process and of its
children: gmsh runs in a child process; meshing + solve), then the fitted order per discretisation (least squares on log error vs log h).
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from simulator.post.richardson import order_fit             # noqa: E402
from simulator.scenario import scenario_from_dict          # noqa: E402
from simulator.solve.pipeline import run                   # noqa: E402
from test_accuracy import A, D, L, SIGMA, U, curved_case   # noqa: E402

KINDS = {"P1": (1, 1), "P2 straight": (2, 1), "P2 curved": (2, 2)}


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(argv: list[str]) -> None:
    kinds = {"P1": KINDS["P1"]} if "--p1" in argv else KINDS
    sizes = [float(a) for a in argv if a != "--p1"] or [0.4, 0.28, 0.2, 0.14]
    exact = math.pi * SIGMA * L * U / math.acosh(D / (2 * A))
    print(f"exact current {exact:.6g} A; load {os.getloadavg()[0]:.1f}; EPSIM_THREADS="
          f"{os.environ.get('EPSIM_THREADS', '')}")
    print("| discretisation | contact mm | DOFs | cells | current error | CPU s |")
    print("|---|---:|---:|---:|---:|---:|")
    currents: dict[str, list[float]] = {k: [] for k in kinds}
    for name, (degree, order) in kinds.items():
        for h in sizes:
            raw = curved_case(h, degree, order)
            raw["mesh"]["cache"] = False
            t0 = cpu_seconds()
            res = run(scenario_from_dict(raw))
            cpu = cpu_seconds() - t0
            current = res.train.groups[0].current
            currents[name].append(current)
            print(f"| {name} | {h:g} | {res.train.first_solution.dofs:,} | {res.mesh.num_cells:,} | "
                  f"{current / exact - 1:+.3%} | {cpu:.1f} |", flush=True)
    for name, cur in currents.items():
        if len(cur) > 1:
            print(f"{name}: fitted order {order_fit(sizes, cur, exact):.2f}")
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
