"""Voltage per pair: sequence entries [anode, cathode, voltage_V] (issue 12, item 4)."""
from __future__ import annotations

import tomllib

import pytest

from simulator import run, scenario_from_dict
from simulator.errors import ScenarioError

BASE = """\
name = "pair-voltage"
[tissue]
size_mm = [20, 20, 12]
layers = [ { material = "muscle" } ]
[electrode]
type = "needle-pair"
spacing_mm = 7.3
insertion_depth_mm = 9.0
[protocol]
pulses = 8
pulse_duration_us = 100
frequency_Hz = 5000
{protocol}
[materials.muscle]
conductivity_model = "constant"
[mesh]
size_mm = 2.5
accuracy = 0
"""


def scenario(protocol: str):
    return scenario_from_dict(tomllib.loads(BASE.replace("{protocol}", protocol)))


def test_each_pair_carries_its_own_voltage_and_the_rest_the_protocol_voltage():
    sc = scenario('voltage_V = 730\nsequence = [["A", "B", 500], ["B", "A"], ["A", "B", 1000.5]]')
    assert [g.voltage for g in sc.protocol.groups] == [500.0, 730.0, 1000.5]
    assert [g.anode for g in sc.protocol.groups] == [("A",), ("B",), ("A",)]


def test_no_protocol_voltage_needed_when_every_pair_has_one():
    sc = scenario('sequence = [["A", "B", 3000], ["B", "A", 2400]]')
    assert [g.voltage for g in sc.protocol.groups] == [3000.0, 2400.0]
    with pytest.raises(ScenarioError) as exc:
        scenario('sequence = [["A", "B", 3000], ["B", "A"]]')
    assert exc.value.field == "protocol.voltage_V"


@pytest.mark.parametrize("entry, text", [('["A", "B", -5]', "-5"), ('["A", "B", 2e5]', "200000"),
                                         ('["A", "B", "high"]', "'high'"), ('["A", "B", 5, 6]', "list"),
                                         ('["A", "B", true]', "True")])
def test_bad_pair_voltage_names_the_entry(entry, text):
    with pytest.raises(ScenarioError) as exc:
        scenario(f"voltage_V = 730\nsequence = [{entry}]")
    assert exc.value.field.startswith("protocol.sequence[0]")
    assert text in str(exc.value)


def test_pair_voltage_reaches_the_solver():
    """Constant conductivity: the current is linear in the voltage, so doubling one pair's
    amplitude doubles its current (same contacts, same mesh)."""
    res = run(scenario('sequence = [["A", "B", 500], ["A", "B", 1000]]'))
    i1, i2 = (g.current for g in res.train.groups)
    assert i1 > 0
    assert i2 == pytest.approx(2 * i1, rel=1e-6)
    assert res.train.distinct_configurations == 2
