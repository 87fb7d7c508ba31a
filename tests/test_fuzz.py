"""Fuzzing the scenario loader: any dict gives a Scenario or a ScenarioError, never a crash.

Hypothesis mutates valid base scenarios (delete keys, insert random keys, replace values
by random values of any TOML type, wrap values in lists/tables, swap in other valid names)
and also feeds wholly random dicts. The profile is fixed (derandomize) so CI is
deterministic; nothing is meshed.
"""
from __future__ import annotations

import copy
import datetime as dt
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.errors import ScenarioError
from simulator.scenario import Scenario, scenario_from_dict

from test_bad_input import BASE, CUSTOM, ELECTRODE, PLATES, TWO_TUMOURS, edit

PROFILE = settings(max_examples=400, derandomize=True, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BASES = [tomllib.loads(t) for t in (
    BASE,
    edit(ELECTRODE, CUSTOM, append=TWO_TUMOURS),
    edit(ELECTRODE, PLATES),
    edit(ELECTRODE, '[electrode]\ntype = "hexagonal"\nside_mm = 4.0\ninsertion_depth_mm = 9.0\n',
         "voltage_V = 730", 'preset = "esope"', "pulses = 8\n", "", "pulse_duration_us = 100\n", "",
         "frequency_Hz = 5000\n", ""),
    edit(ELECTRODE, '[electrode]\ntype = "needle-rows"\nneedles_per_row = 3\ninsertion_depth_mm = 9.0\n'
         'tilt_deg = 5.0\ninsulated_length_mm = 2.0\n', "voltage_V = 730",
         'field_ratio_V_per_cm = 1000\nsequence = [["row_A", "row_B"], ["A1", "B3"]]',
         'shape = "sphere"\ndiameter_mm = 4.0', 'shape = "ellipsoid"\nsemi_axes_mm = [2.0, 1.5, 1.0]',
         append="[materials.gel]\nbased_on = \"fat\"\nsigma0_S_per_m = 0.05\n[generator]\nmax_voltage_V = 2000\n"
                "[coverage]\ntolerance = 0.01\n"),
)]

NAMES = ["tumour", "skin", "fat", "muscle", "gel", "needle-pair", "needle-rows", "hexagonal", "plates",
         "needles", "sphere", "ellipsoid", "esope", "esope-1hz", "embedded", "dolfinx", "stationary",
         "monotone", "constant", "linear", "smoothstep", "sigmoid", "floating", "insulating", "A", "B",
         "C", "H1", "row_A", "row_B", "A1", "B3", "T1", "T2", ""]

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-10**20, max_value=10**20),
    st.integers(min_value=-3, max_value=60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e3, max_value=1e3),
    st.sampled_from([0, 0.0, -0.0, 1e-300, 5e-324, 1e308, 0.05, 0.5, 1, 2, 7.3, 10, 1000, 3000, 10_000]),
    st.text(max_size=12),
    st.sampled_from(NAMES),
    st.dates(), st.times(), st.datetimes(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(NAMES)),
                                               children, max_size=4)),
    max_leaves=12,
)
keys = st.one_of(st.text(max_size=15), st.sampled_from(
    ["name", "tissue", "tumours", "electrode", "protocol", "materials", "mesh", "solver", "size_mm",
     "layers", "material", "thickness_mm", "diameter_mm", "semi_axes_mm", "depth_mm", "centre_mm",
     "type", "needles", "position_mm", "spacing_mm", "gap_mm", "voltage_V", "field_ratio_V_per_cm",
     "sequence", "preset", "pulses", "based_on", "sigma0_S_per_m", "E_irr_V_per_cm", "engine", "degree"]))


def _containers(node, path=()):
    """Every (path, container) in the tree: dicts and lists."""
    out = [(path, node)]
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        if isinstance(v, (dict, list)):
            out.extend(_containers(v, path + (k,)))
    return out


@st.composite
def mutated(draw):
    data = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        path, node = draw(st.sampled_from(_containers(data)))
        op = draw(st.sampled_from(["delete", "insert", "replace", "replace", "wrap", "swap"]))
        if isinstance(node, dict):
            existing = list(node)
            if op == "insert" or not existing:
                node[draw(keys)] = draw(values)
                continue
            k = draw(st.sampled_from(existing))
        else:
            if op == "insert" or not node:
                node.insert(draw(st.integers(0, len(node))), draw(values))
                continue
            k = draw(st.integers(0, len(node) - 1))
        if op == "delete":
            del node[k]
        elif op == "replace":
            node[k] = draw(values)
        elif op == "wrap":
            node[k] = draw(st.sampled_from([[node[k]], {"x": node[k]}, [node[k], node[k]]]))
        elif op == "swap":                  # another valid-looking value of the same kind
            old = node[k]
            if isinstance(old, str):
                node[k] = draw(st.sampled_from(NAMES))
            elif isinstance(old, (int, float)) and not isinstance(old, bool):
                node[k] = old * draw(st.sampled_from([-1, 0, 0.001, 0.5, 2, 10, 1000]))
            else:
                node[k] = draw(values)
    return data


def _load(data) -> None:
    try:
        sc = scenario_from_dict(data)
    except ScenarioError as exc:
        text = str(exc)
        assert text and "\n" not in text, repr(text)
        assert exc.field is not None
        return
    assert isinstance(sc, Scenario)


@PROFILE
@given(mutated())
def test_mutated_scenarios(data):
    _load(data)


@settings(PROFILE, max_examples=100)
@given(st.dictionaries(keys, values, max_size=6))
def test_random_dicts(data):
    _load(data)


def test_bases_are_valid():
    for b in BASES:
        assert isinstance(scenario_from_dict(copy.deepcopy(b)), Scenario)


@pytest.mark.parametrize("bad", [None, 5, "x", [], [{}], dt.date(2024, 1, 1)])
def test_top_level_not_a_dict(bad):
    with pytest.raises(ScenarioError):
        scenario_from_dict(bad)                      # type: ignore[arg-type]
