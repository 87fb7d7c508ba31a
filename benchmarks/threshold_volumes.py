"""Convergence of the volume above a threshold on an exact case (issue 11).

    python benchmarks/threshold_volumes.py [FACTOR ...]      (default 1 0.7 0.5 0.35 0.25)

Two needles (0.7 mm, 4 mm apart, 100 V) through a 2 mm gel slab (tests/test_accuracy.py's
case): the region above a threshold is bounded by an exact iso-line of the two-wire field,
so its volume is L x that area (2 um grid). For each mesh (every element size x FACTOR,
[mesh] accuracy = 0) and each threshold, the volume is measured three ways: the recovered
field clipped per tet (``spr``, what epsim reports: simulator.post.above), the same with
the plain volume-weighted vertex average (``avg``), and the sum of whole cells above the
threshold (``cell``, the measure before). Prints the errors per level, the fitted order and
the effectivity (Richardson estimate / true error) of the estimate at each level.
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from simulator.post import above                          # noqa: E402
from simulator.post.richardson import order_fit, richardson_error   # noqa: E402
from simulator.scenario import scenario_from_dict          # noqa: E402
from simulator.solve.pipeline import run                  # noqa: E402
from test_accuracy import exact_volume_above, two_wire    # noqa: E402

THRESHOLDS = (250e2, 300e2, 400e2)      # V/m; the mid-gap field is 209 V/cm; 400: a 0.15 mm ring


def main(factors: list[float]) -> None:
    exact = {t: exact_volume_above(t) for t in THRESHOLDS}
    rows = []
    for f in factors:
        sc = scenario_from_dict(two_wire(accuracy=0))
        t0 = time.perf_counter()
        r = run(replace(sc, mesh=replace(sc.mesh, refinement=f)))
        tr = r.train
        row = {"f": f, "dofs": r.dofs, "s": time.perf_counter() - t0}
        for name, flat in (("spr", above.FLAT), ("avg", np.inf)):
            saved, above.FLAT = above.FLAT, flat
            try:
                fld = above.RecoveredField(r.mesh, tr.E_max, tr.weights)
            finally:
                above.FLAT = saved
            for t in THRESHOLDS:
                row[(name, t)] = float(fld.volume_above(t).sum())
        for t in THRESHOLDS:
            row[("cell", t)] = float((tr.weights * (tr.E_max >= t)).sum())
        rows.append(row)
        print(f"sizes x {f}: {r.dofs} DOFs, {row['s']:.1f} s; errors " + ", ".join(
            f"{m}{t / 100:g} {row[(m, t)] / exact[t] - 1:+.2%}" for m in ("spr", "avg", "cell") for t in THRESHOLDS),
            flush=True)
    h = [r["f"] for r in rows]
    for m in ("spr", "avg", "cell"):
        for t in THRESHOLDS:
            q = [r[(m, t)] for r in rows]
            eff = [richardson_error(h[:k], q[:k], (1.0, 2.0)).error / abs(q[k - 1] - exact[t])
                   for k in range(2, len(rows) + 1)]
            print(f"{m} {t / 100:g} V/cm: exact {exact[t] * 1e9:.4f} mm3, fitted order {order_fit(h, q, exact[t]):.2f}, "
                  f"effectivity per level {', '.join(f'{e:.2f}' for e in eff)}")


if __name__ == "__main__":
    main([float(v) for v in sys.argv[1:]] or [1.0, 0.7, 0.5, 0.35, 0.25])
