"""The clinical electrode catalogue and the ESOPE protocol presets, through the loader."""
import numpy as np
import pytest

from electrodes.catalogue import CATALOGUE
from simulator.errors import ScenarioError
from simulator.cli.presets import presets_text
from simulator.scenario import scenario_from_dict

BASE = {"tissue": {"size_mm": [40, 40, 25]}, "tumours": [{"diameter_mm": 6, "depth_mm": 6}]}


def load(electrode, protocol=None):
    d = dict(BASE, electrode=electrode)
    if protocol is not None:
        d["protocol"] = protocol
    return scenario_from_dict(d)


def test_every_dimension_has_a_label_and_source():
    for e in CATALOGUE.values():
        for key, dim in e.dimensions.items():
            assert dim.label in ("[C]", "[R]", "[D]", "[A]") and dim.source, (e.name, key)
    assert CATALOGUE["hexagonal-20"].dimensions["side_mm"].label == "[C]"          # Ongaro 2016
    assert CATALOGUE["plates-8"].dimensions["gap_mm"].label == "[R]"


@pytest.mark.parametrize("name, etype, volts, pulses", [
    ("plates-4", "plates", 520.0, 8), ("plates-8", "plates", 1040.0, 8),
    ("linear-10", "needle-rows", 400.0, 8), ("linear-20", "needle-rows", 400.0, 8),
    ("hexagonal-10", "hexagonal", 730.0, 96), ("hexagonal-30", "hexagonal", 730.0, 96)])
def test_catalogue_sets_type_defaults_and_esope(name, etype, volts, pulses):
    sc = load({"catalogue": name})
    assert sc.electrode.type == etype and sc.electrode.source == f"catalogue {name}"
    assert sc.protocol.preset == "esope"
    assert [g.voltage for g in sc.protocol.groups] == pytest.approx([volts] * len(sc.protocol.groups))
    assert sc.protocol.total_pulses == pulses
    assert {g.frequency for g in sc.protocol.groups} == {5000.0}
    assert [g.duration for g in sc.protocol.groups] == pytest.approx([100e-6] * len(sc.protocol.groups))


def test_explicit_keys_override_the_catalogue():
    sc = load({"catalogue": "hexagonal-20", "insertion_depth_mm": 12, "needle_diameter_mm": 0.5,
               "rotation_deg": 30, "tilt_deg": 5})
    n = sc.electrode.needles[0]
    assert n.insertion_depth == pytest.approx(0.012) and n.diameter == pytest.approx(0.5e-3)
    assert n.tilt_deg == 5
    assert sc.electrode.needles[1].position[1] == pytest.approx(7.3e-3 * 0.5)   # rotated by 30 deg
    sc = load({"catalogue": "hexagonal-20"}, {"voltage_V": 600})
    assert sc.protocol.preset == "" and {g.voltage for g in sc.protocol.groups} == {600.0}


def test_protocol_overrides_and_sequences():
    sc = load({"catalogue": "hexagonal-10"}, {"preset": "esope-1hz"})
    assert {g.frequency for g in sc.protocol.groups} == {1.0}
    sc = load({"catalogue": "hexagonal-10"}, {"preset": "esope", "frequency_Hz": 1, "pulses_per_pair": 4})
    assert {g.frequency for g in sc.protocol.groups} == {1.0} and sc.protocol.total_pulses == 48
    sc = load({"catalogue": "hexagonal-10"}, {"preset": "esope", "sequence": "alternating"})
    assert len(sc.protocol.groups) == 24 and sc.protocol.total_pulses == 96
    assert (sc.protocol.groups[1].anode, sc.protocol.groups[1].cathode) == (("H1",), ("C",))
    sc = load({"catalogue": "hexagonal-10"}, {"preset": "esope", "sequence": [["C", "H1"], ["H3", "H4"]]})
    assert [g.label_anode for g in sc.protocol.groups] == ["C", "H3"] and sc.protocol.total_pulses == 16
    sc = load({"type": "needles", "needles": [{"position_mm": [x, 0]} for x in (-4, 0, 4)]},
              {"preset": "esope", "sequence": "nearest-neighbour"})
    assert [(g.label_anode, g.label_cathode) for g in sc.protocol.groups] == [("N1", "N2"), ("N2", "N3")]


@pytest.mark.parametrize("electrode, protocol, field", [
    ({"catalogue": "hexagonal"}, None, "electrode.catalogue"),
    ({"catalogue": "plates-8", "type": "hexagonal"}, None, "electrode.type"),
    ({"catalogue": "hexagonal-10"}, {"preset": "esope", "pulses": 7, "sequence": "alternating"}, "protocol.pulses"),
    ({"catalogue": "hexagonal-10"}, {"preset": "esope", "sequence": "zigzag"}, "protocol.sequence"),
    ({"catalogue": "hexagonal-10"}, {"pulses": 8, "pulses_per_pair": 8}, "protocol.pulses_per_pair"),
])
def test_bad_catalogue_and_protocol_input(electrode, protocol, field):
    with pytest.raises(ScenarioError) as info:
        load(electrode, protocol)
    assert str(info.value).startswith(field)


def test_presets_lists_the_catalogue_with_sources():
    text = presets_text()
    for name in CATALOGUE:
        assert name in text
    assert "Ongaro" in text and "NOT confirmed" in text and "unconfirmed" in text
    assert "1000 V/cm x 7.3 mm = 730 V" in text and "1300 V/cm x 8 mm = 1040 V" in text
    assert "alternating" in text and "esope-1hz" in text


def test_plate_corners_in_order_around_the_footprint():
    """Plate.corners (used by the geometric checks and the figures): a plate turned by 90 deg
    spans x = centre -+ length/2 and y = centre -+ thickness/2; shoelace area = length x thickness."""
    from electrodes.contacts import Plate
    p = Plate("A", centre=(0.001, 0.002), normal_deg=90.0, length=0.004, depth=0.01, thickness=0.0002)
    c = p.corners()
    assert c.shape == (4, 2)
    np.testing.assert_allclose(sorted(set(np.round(c[:, 0], 12))), [-0.001, 0.003], atol=1e-15)
    np.testing.assert_allclose(sorted(set(np.round(c[:, 1], 12))), [0.0019, 0.0021], atol=1e-15)
    x, y = c[:, 0], c[:, 1]
    area = 0.5 * (x @ np.roll(y, -1) - y @ np.roll(x, -1))
    assert abs(area) == pytest.approx(0.004 * 0.0002, rel=1e-12)
