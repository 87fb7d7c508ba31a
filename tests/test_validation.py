"""Validation against closed forms and published reference values (domain.md section 5).

The cases live in benchmarks/validation_table.py, which also writes docs/validation.md;
the numbers in that document are what these tests measure. Each row is asserted within
the bound it states (1 % for fields and currents, 2 % for the sphere's interior field).
"""
import math

import numpy as np
import pytest

from benchmarks import validation_table as vt
from simulator.physics import analytic


# ----------------------------------------------------------------------------- references
def test_two_wire_table_of_domain_md():
    """domain.md 5.1 table: E_mid 836.5 / 661.9 / 671.5 V/cm, I/(sigma L U) 1.2937 / 1.0350 / 1.0496."""
    for d, a, U, e_mid, g in ((4e-3, 0.35e-3, 400, 836.5, 1.2937), (7.3e-3, 0.35e-3, 730, 661.9, 1.0350),
                              (10e-3, 0.5e-3, 1000, 671.5, 1.0496)):
        assert analytic.two_wire_mid_field(d, a, U) / 100 == pytest.approx(e_mid, abs=0.05)
        assert analytic.two_wire_current(d, a, U, 1.0, 1.0) / U == pytest.approx(g, abs=5e-4)
        b = math.sqrt((d / 2) ** 2 - a * a)
        assert analytic.two_wire_field(np.array([0.0]), np.array([0.0]), d, a, U)[0] == pytest.approx(
            U / (math.acosh(d / (2 * a)) * b))


def test_line_sources_reproduce_two_wire_exactly():
    """The multipole line-source reference is exact for two wires; plain thin wires are not."""
    d, a, U = 4e-3, 0.35e-3, 400.0
    ls = analytic.line_sources([[-d / 2, 0], [d / 2, 0]], a, [U, 0.0], order=6)
    x = np.linspace(-1.5e-3, 1.5e-3, 7)
    y = np.full_like(x, 0.7e-3)
    exact = analytic.two_wire_field(x, y, d, a, U)
    assert np.allclose(np.hypot(*ls.field(x, y).T), exact, rtol=1e-6)
    assert analytic.line_sources_current(ls, 0.2, 1e-2, [0]) == pytest.approx(
        analytic.two_wire_current(d, a, U, 0.2, 1e-2), rel=1e-6)
    thin = analytic.line_sources([[-d / 2, 0], [d / 2, 0]], a, [U, 0.0], order=0)
    assert abs(np.hypot(*thin.field(x, y).T)[3] / exact[3] - 1) > 0.01     # thin wire: ~2 % off at d/a = 11


def test_sphere_ratio_table():
    """domain.md 5.5 table: sigma_i/sigma_e 0.25 .. 4 -> 1.333, 1.2, 1, 0.75, 0.5."""
    for ratio, expected in ((0.25, 4 / 3), (0.5, 1.2), (1, 1.0), (2, 0.75), (4, 0.5)):
        assert analytic.sphere_interior_ratio(ratio, 1.0) == pytest.approx(expected)


def test_layered_fields_conserve_voltage():
    E = analytic.layered_fields(100.0, [1.5e-3, 4e-3, 4.5e-3], [0.1, 0.02, 0.1])
    assert (E * [1.5e-3, 4e-3, 4.5e-3]).sum() == pytest.approx(100.0)


# ----------------------------------------------------------------------------- FE vs references
def _check(result: vt.CaseResult) -> None:
    bad = [f"{r.case}: {r.quantity}: epsim {r.epsim:.5g} vs {r.reference:.5g} {r.unit} ({r.error:+.2%}, "
           f"bound {r.bound:.0%})" for r in result.rows if not abs(r.error) <= r.bound]
    assert not bad, "\n".join(bad)


def test_needle_pair_through_slab_matches_two_wire():
    _check(vt.needle_pair())


def test_linear_array_through_slab_matches_line_sources():
    _check(vt.linear_array())


def test_layered_plates_field_per_layer():
    res = vt.layered_plates()
    _check(res)
    assert all(abs(r.error) < 1e-9 for r in res.rows)      # P1 is exact for a piecewise-linear potential


def test_sphere_in_uniform_plate_field():
    cases = vt.sphere_cases()
    for c in cases:
        _check(c)
    fine, _, coarse, large = (c.rows[0].error for c in cases)
    assert abs(fine) < abs(coarse)                          # refining approaches the closed form
    assert abs(large - coarse) < 0.005                      # the 16 mm block is large enough (< 0.5 %)
