"""benchmarks/equal_accuracy.py's pure logic: the Richardson reference and the cheapest
setting within 1 % (no runs, no timings)."""
from __future__ import annotations

import pytest

from benchmarks.equal_accuracy import (cheapest_within, extrapolations, least_squares_limit, reference,
                                       richardson_limit, speedup)

LIMIT, C, P = 2300.0, 120.0, 1.7


def synthetic(h: list[float], noise: list[float] | None = None) -> list[float]:
    """Q(h) = Q* + C h^p (+ noise)."""
    return [LIMIT + C * x ** P + (noise[i] if noise else 0.0) for i, x in enumerate(h)]


def test_richardson_limit_is_exact_for_the_model():
    h = (1.0, 0.6)
    assert richardson_limit(h, tuple(synthetic(list(h))), P) == pytest.approx(LIMIT, rel=1e-12)
    # a wrong order misses it
    assert abs(richardson_limit(h, tuple(synthetic(list(h))), 1.0) - LIMIT) > 1.0


def test_extrapolations_observe_the_order_and_the_limit():
    h = [1.45, 1.0, 0.75, 0.56]
    ex = extrapolations(h, synthetic(h))
    assert len(ex) == 2
    for e in ex:
        assert e["order"] == pytest.approx(P, abs=1e-6)
        assert e["limit"] == pytest.approx(LIMIT, abs=1e-6)


def test_no_extrapolation_when_differences_do_not_shrink():
    h = [1.45, 1.0, 0.75]
    q = [2329.3, 2324.3, 2319.4]                   # equal steps on shrinking h: no observed order
    assert extrapolations(h, q) == []


def test_least_squares_recovers_the_limit_and_needs_four_levels():
    h = [1.0, 0.7, 0.5, 0.35, 0.25]
    fit = least_squares_limit(h, synthetic(h))
    assert fit["limit"] == pytest.approx(LIMIT, abs=0.5)
    assert fit["order"] == pytest.approx(P, abs=0.02)
    assert least_squares_limit(h[:3], synthetic(h[:3])) is None
    # equal steps on shrinking h: the best order is the search range's end, no limit
    assert least_squares_limit([1.45, 1.0, 0.75, 0.56], [2329.3, 2324.3, 2319.4, 2314.5]) is None


def test_reference_spread_covers_the_limit_with_noise():
    h1 = [1.0, 0.7, 0.5, 0.35, 0.25]
    h2 = [1.45, 1.0, 0.75, 0.56]
    series = {"a": (h1, synthetic(h1, [0.8, -0.6, 0.5, -0.3, 0.2])), "b": (h2, synthetic(h2))}
    ref = reference(series)
    assert ref["uncertainty"] > 0.0
    assert abs(ref["value"] - LIMIT) <= ref["uncertainty"] + 1e-9
    assert {e["series"] for e in ref["extrapolations"]} == {"a", "b"}
    exact = reference({"b": series["b"]})
    assert exact["value"] == pytest.approx(LIMIT, abs=0.5) and exact["uncertainty"] < 0.5


def test_reference_without_an_observed_order_fails():
    with pytest.raises(ValueError):
        reference({"x": ([1.45, 1.0, 0.75], [2329.3, 2324.3, 2319.4])})


def rows(volumes: list[float], times: list[float]) -> list[dict]:
    return [{"dofs": 1000 * 2 ** i, "volume_mm3": v, "cpu_s": t, "wall_s": 2 * t}
            for i, (v, t) in enumerate(zip(volumes, times))]


def test_cheapest_within_skips_an_accidental_crossing():
    ref = 2300.0
    # the coarsest (1000 DOFs) is within 1 % by chance, the next is not: it does not count
    r = rows([2310.0, 2340.0, 2320.0, 2310.0, 2305.0], [1, 2, 4, 8, 16])
    best = cheapest_within(r, ref)
    assert best["dofs"] == 4000
    assert cheapest_within(rows([2400.0, 2350.0], [1, 2]), ref) is None


def test_speedup_at_equal_accuracy_and_the_lower_bound():
    ref = 2300.0
    epsim = rows([2330.0, 2310.0], [1.0, 3.0])          # cheapest within 1 %: the second, 3 s
    base = rows([2400.0, 2320.0, 2305.0], [5.0, 30.0, 90.0])
    s = speedup(base, epsim, ref)
    assert s["bound"] is None and s["cpu_s"] == pytest.approx(30.0 / 3.0) and s["wall_s"] == pytest.approx(10.0)
    # no baseline setting within 1 %: the finest, and the ratio is a lower bound
    s = speedup(rows([2400.0, 2350.0], [5.0, 60.0]), epsim, ref)
    assert s["bound"] == "lower" and s["cpu_s"] == pytest.approx(20.0)
    assert speedup(base, rows([2400.0], [1.0]), ref)["epsim"] is None
