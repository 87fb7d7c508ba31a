"""Bad input is refused clearly: exit 2, one line on stderr naming the field, nothing written.

Each case is a scenario (TOML text: the small valid ``BASE`` with one edit) and the exact
dotted field the message must start with, plus a piece of text (usually the offending
value) it must contain. Every case runs the CLI in-process; a few also run as a real
subprocess (``python -m simulator.cli``). Nothing here meshes: the loader refuses first.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.errors import ScenarioError
from simulator.scenario import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]

BASE = """\
name = "base"
[tissue]
size_mm = [20, 20, 12]
layers = [ { material = "skin", thickness_mm = 1.5 }, { material = "muscle" } ]
[[tumours]]
shape = "sphere"
diameter_mm = 4.0
depth_mm = 5.0
centre_mm = [0.0, 0.0]
material = "tumour"
margin_mm = 1.0
[electrode]
type = "needle-pair"
spacing_mm = 7.3
insertion_depth_mm = 9.0
[protocol]
pulses = 8
pulse_duration_us = 100
frequency_Hz = 5000
voltage_V = 730
[materials.tumour]
sigma0_S_per_m = 0.3
sigma1_S_per_m = 0.75
E_rev_V_per_cm = 400
E_irr_V_per_cm = 800
conductivity_model = "smoothstep"
[mesh]
size_mm = 2.5
accuracy = 0
[solver]
engine = "embedded"
degree = 1
model = "stationary"
"""

TWO_TUMOURS = """
[[tumours]]
name = "T2"
diameter_mm = 2.0
depth_mm = 5.0
centre_mm = [6.0, 6.0]
"""

CUSTOM = """[electrode]
type = "needles"
insertion_depth_mm = 9.0
needles = [ { name = "A", position_mm = [-3.0, 0.0] },
            { name = "B", position_mm = [3.0, 0.0] } ]
"""

PLATES = """[electrode]
type = "plates"
gap_mm = 8.0
length_mm = 10.0
depth_mm = 5.0
thickness_mm = 0.5
"""

ELECTRODE = """[electrode]
type = "needle-pair"
spacing_mm = 7.3
insertion_depth_mm = 9.0
"""


def edit(*pairs: str, append: str = "", text: str = BASE) -> str:
    """BASE with each (old, new) replaced once (old must be there) and ``append`` added."""
    assert len(pairs) % 2 == 0
    for old, new in zip(pairs[::2], pairs[1::2]):
        assert text.count(old) >= 1, old
        text = text.replace(old, new, 1)
    return text + append


def drop(line: str) -> str:
    return edit(line + "\n", "")


def case(id_: str, toml: str, field: str, value: str = ""):
    return pytest.param(toml, field, value, id=id_)


CASES = [
    # --- wrong types -----------------------------------------------------------------
    case("name-type", edit('name = "base"', "name = 5"), "name", "5"),
    case("name-empty", edit('name = "base"', 'name = "  "'), "name", "'  '"),
    case("tissue-not-table", edit("[tissue]\nsize_mm = [20, 20, 12]\nlayers = [ { material = \"skin\", "
                                  "thickness_mm = 1.5 }, { material = \"muscle\" } ]\n", "", 'name = "base"',
                                  'name = "base"\ntissue = "big"'), "tissue", "a string"),
    case("size-type", edit("size_mm = [20, 20, 12]", 'size_mm = "20x20x12"'), "tissue.size_mm", "'20x20x12'"),
    case("size-length", edit("size_mm = [20, 20, 12]", "size_mm = [20, 20]"), "tissue.size_mm", "a list"),
    case("size-item-type", edit("size_mm = [20, 20, 12]", 'size_mm = [20, "x", 12]'), "tissue.size_mm[1]", "'x'"),
    case("layer-thickness-type", edit("thickness_mm = 1.5", 'thickness_mm = "1.5"'),
         "tissue.layers[0].thickness_mm", "'1.5'"),
    case("layers-not-list", edit('layers = [ { material = "skin", thickness_mm = 1.5 }, { material = "muscle" } ]',
                                 'layers = "skin"'), "tissue.layers", "'skin'"),
    case("tumours-not-list", edit(BASE[BASE.index("[[tumours]]"):BASE.index("[electrode]")], "",
                                  'name = "base"', 'name = "base"\ntumours = 5'), "tumours", "5"),
    case("diameter-type", edit("diameter_mm = 4.0", 'diameter_mm = "4"'), "tumours[0].diameter_mm", "'4'"),
    case("depth-bool", edit("depth_mm = 5.0", "depth_mm = true"), "tumours[0].depth_mm", "True"),
    case("centre-type", edit("centre_mm = [0.0, 0.0]", "centre_mm = 0.0"), "tumours[0].centre_mm", "0.0"),
    case("electrode-type-type", edit('type = "needle-pair"', "type = 3"), "electrode.type", "3"),
    case("spacing-list", edit("spacing_mm = 7.3", "spacing_mm = [7.3]"), "electrode.spacing_mm", "a list"),
    case("pulses-float", edit("pulses = 8", "pulses = 8.5"), "protocol.pulses", "8.5"),
    case("voltage-string", edit("voltage_V = 730", 'voltage_V = "730"'), "protocol.voltage_V", "'730'"),
    case("voltage-nan", edit("voltage_V = 730", "voltage_V = nan"), "protocol.voltage_V", "nan"),
    case("voltage-inf", edit("voltage_V = 730", "voltage_V = inf"), "protocol.voltage_V", "inf"),
    case("sequence-type", edit("voltage_V = 730", 'voltage_V = 730\nsequence = "A,B"'),
         "protocol.sequence", "'A,B'"),
    case("sigma0-string", edit("sigma0_S_per_m = 0.3", 'sigma0_S_per_m = "0.3"'),
         "materials.tumour.sigma0_S_per_m", "'0.3'"),
    case("material-not-table", edit("[materials.tumour]\nsigma0_S_per_m = 0.3\nsigma1_S_per_m = 0.75\n"
                                    "E_rev_V_per_cm = 400\nE_irr_V_per_cm = 800\nconductivity_model = "
                                    "\"smoothstep\"\n", "[materials]\ntumour = 0.3\n"), "materials.tumour", "a number"),
    case("mesh-size-type", edit("size_mm = 2.5", 'size_mm = "fine"'), "mesh.size_mm", "'fine'"),
    case("mesh-cache-type", edit("size_mm = 2.5", 'size_mm = 2.5\ncache = "no"'), "mesh.cache", "'no'"),
    case("degree-float", edit("degree = 1", "degree = 1.0"), "solver.degree", "1.0"),
    case("generator-type", edit("", "", append='[generator]\nmax_voltage_V = "3 kV"\n'),
         "generator.max_voltage_V", "'3 kV'"),
    case("coverage-type", edit("", "", append="[coverage]\ntolerance = [0.1]\n"), "coverage.tolerance", "a list"),
    # --- wrong range: negative, zero, absurd ------------------------------------------
    case("size-negative", edit("size_mm = [20, 20, 12]", "size_mm = [-20, 20, 12]"), "tissue.size_mm[0]", "-20"),
    case("size-zero", edit("size_mm = [20, 20, 12]", "size_mm = [20, 20, 0]"), "tissue.size_mm[2]", "0"),
    case("size-absurd", edit("size_mm = [20, 20, 12]", "size_mm = [20, 20000, 12]"), "tissue.size_mm[1]", "20000"),
    case("layer-thickness-zero", edit("thickness_mm = 1.5", "thickness_mm = 0"),
         "tissue.layers[0].thickness_mm", "0"),
    case("diameter-zero", edit("diameter_mm = 4.0", "diameter_mm = 0"), "tumours[0].diameter_mm", "0"),
    case("diameter-negative", edit("diameter_mm = 4.0", "diameter_mm = -4"), "tumours[0].diameter_mm", "-4"),
    case("tumour-2m", edit("diameter_mm = 4.0", "diameter_mm = 2000"), "tumours[0].diameter_mm", "2000"),
    case("semi-axes-negative", edit('shape = "sphere"\ndiameter_mm = 4.0', 'shape = "ellipsoid"\n'
                                    "semi_axes_mm = [2, -1, 2]"), "tumours[0].semi_axes_mm[1]", "-1"),
    case("depth-negative", edit("depth_mm = 5.0", "depth_mm = -5"), "tumours[0].depth_mm", "-5"),
    case("margin-negative", edit("margin_mm = 1.0", "margin_mm = -1"), "tumours[0].margin_mm", "-1"),
    case("voltage-zero", edit("voltage_V = 730", "voltage_V = 0"), "protocol.voltage_V", "0"),
    case("voltage-negative", edit("voltage_V = 730", "voltage_V = -730"), "protocol.voltage_V", "-730"),
    case("voltage-100kV", edit("voltage_V = 730", "voltage_V = 100000"), "protocol.voltage_V", "100000"),
    case("ratio-zero", edit("voltage_V = 730", "field_ratio_V_per_cm = 0"), "protocol.field_ratio_V_per_cm", "0"),
    case("ratio-absurd", edit("voltage_V = 730", "field_ratio_V_per_cm = 15000"),
         "protocol.field_ratio_V_per_cm", "10950"),
    case("pulses-zero", edit("pulses = 8", "pulses = 0"), "protocol.pulses", "0"),
    case("duration-zero", edit("pulse_duration_us = 100", "pulse_duration_us = 0"),
         "protocol.pulse_duration_us", "0"),
    case("frequency-negative", edit("frequency_Hz = 5000", "frequency_Hz = -1"), "protocol.frequency_Hz", "-1"),
    case("spacing-zero", edit("spacing_mm = 7.3", "spacing_mm = 0"), "electrode.spacing_mm", "0"),
    case("needle-diameter-negative", edit("spacing_mm = 7.3", "spacing_mm = 7.3\nneedle_diameter_mm = -0.7"),
         "electrode.needle_diameter_mm", "-0.7"),
    case("insertion-zero", edit("insertion_depth_mm = 9.0", "insertion_depth_mm = 0"),
         "electrode.insertion_depth_mm", "0"),
    case("insulated-negative", edit("spacing_mm = 7.3", "spacing_mm = 7.3\ninsulated_length_mm = -2"),
         "electrode.insulated_length_mm", "-2"),
    case("insulated-too-long", edit("spacing_mm = 7.3", "spacing_mm = 7.3\ninsulated_length_mm = 9"),
         "electrode.insulated_length_mm", "9"),
    case("tilt-absurd", edit("spacing_mm = 7.3", "spacing_mm = 7.3\ntilt_deg = 85"), "electrode.tilt_deg", "85"),
    case("rows-count-zero", edit(ELECTRODE, '[electrode]\ntype = "needle-rows"\nneedles_per_row = 0\n'),
         "electrode.needles_per_row", "0"),
    case("sigma0-negative", edit("sigma0_S_per_m = 0.3", "sigma0_S_per_m = -0.3"),
         "materials.tumour.sigma0_S_per_m", "-0.3"),
    case("sigma-absurd", edit("sigma1_S_per_m = 0.75", "sigma1_S_per_m = 1e300"),
         "materials.tumour.sigma1_S_per_m", "1e+300"),
    case("E-rev-zero", edit("E_rev_V_per_cm = 400", "E_rev_V_per_cm = 0"), "materials.tumour.E_rev_V_per_cm", "0"),
    case("alpha-absurd", edit("conductivity_model = \"smoothstep\"", "temperature_coefficient_per_K = 5"),
         "materials.tumour.temperature_coefficient_per_K", "5"),
    case("mesh-size-zero", edit("size_mm = 2.5", "size_mm = 0"), "mesh.size_mm", "0"),
    case("mesh-size-tiny", edit("size_mm = 2.5", "size_mm = 0.001"), "mesh.size_mm", "0.001"),
    case("degree-3", edit("degree = 1", "degree = 3"), "solver.degree", "3"),
    case("mesh-order-3", edit("size_mm = 2.5", "size_mm = 2.5\norder = 3"), "mesh.order", "3"),
    case("mesh-order-float", edit("size_mm = 2.5", "size_mm = 2.5\norder = 2.0"), "mesh.order", "2.0"),
    case("mesh-order-2-with-p1", edit("size_mm = 2.5", "size_mm = 2.5\norder = 2"), "mesh.order",
         "solver.degree = 2, got 1"),
    case("rtol-zero", edit("degree = 1", "degree = 1\nrtol = 0"), "solver.rtol", "0"),
    case("max-iterations-zero", edit("degree = 1", "degree = 1\nmax_iterations = 0"), "solver.max_iterations", "0"),
    case("tolerance-absurd", edit("", "", append="[coverage]\ntolerance = 2\n"), "coverage.tolerance", "2"),
    # --- conflicting geometry ---------------------------------------------------------
    case("tumour-outside", edit("centre_mm = [0.0, 0.0]", "centre_mm = [50.0, 0.0]"), "tumours[0]", "lies outside"),
    case("tumour-crossing-side", edit("centre_mm = [0.0, 0.0]", "centre_mm = [9.0, 0.0]"), "tumours[0]",
         "crosses the boundary"),
    case("tumour-crossing-bottom", edit("depth_mm = 5.0", "depth_mm = 11.0"), "tumours[0]",
         "z -13..-9 mm) crosses"),
    # a nodule rising above the skin is valid (exophytic, issue 16); one wholly above it is not
    case("tumour-out-of-skin", edit("depth_mm = 5.0", "depth_mm = -5.0"), "tumours[0].depth_mm", "-5"),
    case("tumours-overlap", edit("", "", append=TWO_TUMOURS.replace("[6.0, 6.0]", "[2.0, 0.0]")),
         "tumours[1]", "overlaps"),
    case("needles-intersect", edit("spacing_mm = 7.3", "spacing_mm = 0.5"), "electrode", "overlap"),
    case("custom-needles-intersect", edit(ELECTRODE, CUSTOM.replace("[3.0, 0.0]", "[-2.8, 0.0]")),
         "electrode.needles[1]", "overlap"),
    case("needles-outside", edit("spacing_mm = 7.3", "spacing_mm = 30"), "electrode", "outside"),
    case("custom-needle-outside", edit(ELECTRODE, CUSTOM.replace("[3.0, 0.0]", "[15.0, 0.0]")),
         "electrode.needles[1]", "outside"),
    case("plates-gap-zero", edit(ELECTRODE, PLATES.replace("gap_mm = 8.0", "gap_mm = 0")), "electrode.gap_mm", "0"),
    case("plates-gap-negative", edit(ELECTRODE, PLATES.replace("gap_mm = 8.0", "gap_mm = -1")),
         "electrode.gap_mm", "-1"),
    case("plates-outside", edit(ELECTRODE, PLATES.replace("gap_mm = 8.0", "gap_mm = 19.5")),
         "electrode", "outside"),
    case("plates-too-deep", edit(ELECTRODE, PLATES.replace("depth_mm = 5.0", "depth_mm = 13")),
         "electrode.depth_mm", "13"),
    case("layers-thicker-than-block", edit('{ material = "muscle" }', '{ material = "fat", thickness_mm = 20 }'),
         "tissue.layers", "21.5"),
    case("layers-fill-block", edit('{ material = "skin", thickness_mm = 1.5 }',
                                   '{ material = "skin", thickness_mm = 12 }'), "tissue.layers", "12"),
    # --- material laws --------------------------------------------------------------
    case("E-irr-below-E-rev", edit("E_irr_V_per_cm = 800", "E_irr_V_per_cm = 300"),
         "materials.tumour.E_irr_V_per_cm", "300"),
    case("E-irr-equal-E-rev", edit("E_irr_V_per_cm = 800", "E_irr_V_per_cm = 400"),
         "materials.tumour.E_irr_V_per_cm", "400"),
    case("sigma1-below-sigma0", edit("sigma1_S_per_m = 0.75", "sigma1_S_per_m = 0.1"),
         "materials.tumour.sigma1_S_per_m", "0.1"),
    case("new-material-incomplete", edit("", "", append="[materials.gel]\nsigma0_S_per_m = 1.0\n"),
         "materials.gel.sigma1_S_per_m", "required"),
    # --- unknown names (the message lists the valid ones) -----------------------------
    case("unknown-layer-material", edit('{ material = "muscle" }', '{ material = "cartilage" }'),
         "tissue.layers[1].material", "valid: tumour, skin"),
    case("unknown-tumour-material", edit('material = "tumour"', 'material = "tumor"'),
         "tumours[0].material", "valid: tumour"),
    case("unknown-electrode", edit('type = "needle-pair"', 'type = "needle-triple"'),
         "electrode.type", "valid: needle-pair"),
    case("unknown-model", edit('conductivity_model = "smoothstep"', 'conductivity_model = "cubic"'),
         "materials.tumour.conductivity_model", "valid: "),
    case("unknown-engine", edit('engine = "embedded"', 'engine = "fenics"'), "solver.engine",
         "valid: embedded, dolfinx"),
    case("unknown-nl-model", edit('model = "stationary"', 'model = "dynamic"'), "solver.model",
         "valid: stationary, monotone"),
    case("unknown-shape", edit('shape = "sphere"', 'shape = "cube"'), "tumours[0].shape", "valid: sphere, ellipsoid"),
    case("unknown-preset", edit("voltage_V = 730", 'preset = "esop"'), "protocol.preset", "valid: esope"),
    case("unknown-based-on", edit("", "", append='[materials.gel]\nbased_on = "jelly"\n'),
         "materials.gel.based_on", "valid: tumour"),
    case("unknown-contact", edit("voltage_V = 730", 'voltage_V = 730\nsequence = [["A", "C"]]'),
         "protocol.sequence[0]", "valid: A, B"),
    case("anode-is-cathode", edit("voltage_V = 730", 'voltage_V = 730\nsequence = [["A", "A"]]'),
         "protocol.sequence[0]", "share"),
    # --- unknown keys (typos, with a suggestion) ---------------------------------------
    case("typo-top", edit("[[tumours]]", "[[tumors]]"), "tumors", "'tumours'"),
    case("typo-mesh", edit("size_mm = 2.5", "sise_mm = 2.5"), "mesh.sise_mm", "'size_mm'"),
    case("typo-electrode", edit("spacing_mm = 7.3", "spacng_mm = 7.3"), "electrode.spacng_mm", "'spacing_mm'"),
    case("typo-protocol", edit("frequency_Hz = 5000", "frequency_hz = 5000"), "protocol.frequency_hz",
         "'frequency_Hz'"),
    # a misspelt required key is named as the typo, not as the missing key it hides
    case("typo-voltage", edit("voltage_V = 730", "voltag_V = 730"), "protocol.voltag_V", "'voltage_V'"),
    case("typo-pulses-per-pair", edit("pulses = 8", "pulses_per_pai = 8"), "protocol.pulses_per_pai",
         "'pulses_per_pair'"),
    # a misspelt table: named as such, not as the missing table or key it hides
    case("typo-table-protocol", edit("[protocol]", "[protocl]"), "protocl", "'protocol'"),
    case("typo-table-electrode", edit("[electrode]", "[electrodes]"), "electrodes", "'electrode'"),
    # [materials.X] for a library material used here (muscle) with its library values: refused
    case("typo-material-table", edit("", "", append="[materials.musle]\nsigma0_S_per_m = 0.3\n"
                                     "sigma1_S_per_m = 0.7\nE_rev_V_per_cm = 200\nE_irr_V_per_cm = 450\n"),
         "materials.musle", "'muscle'"),
    case("typo-material", edit("sigma1_S_per_m = 0.75", "sigma_1_S_per_m = 0.75"),
         "materials.tumour.sigma_1_S_per_m", "'sigma1_S_per_m'"),
    case("typo-tumour", edit("margin_mm = 1.0", "margins_mm = 1.0"), "tumours[0].margins_mm", "'margin_mm'"),
    case("typo-layer", edit("thickness_mm = 1.5", "thickness = 1.5"), "tissue.layers[0].thickness", "'thickness_mm'"),
    case("sphere-with-semi-axes", edit("diameter_mm = 4.0", "diameter_mm = 4.0\nsemi_axes_mm = [2, 2, 2]"),
         "tumours[0].semi_axes_mm", "ellipsoid"),
    case("voltage-and-ratio", edit("voltage_V = 730", "voltage_V = 730\nfield_ratio_V_per_cm = 1000"),
         "protocol.voltage_V", "not both"),
    # --- duplicates ------------------------------------------------------------------
    case("duplicate-tumour", edit("", "", append=TWO_TUMOURS.replace('name = "T2"', 'name = "T1"')),
         "tumours[1].name", "'T1'"),
    case("duplicate-needle", edit(ELECTRODE, CUSTOM.replace('name = "B"', 'name = "A"')),
         "electrode.needles[1].name", "'A'"),
    case("tumour-named-as-layer", edit("", "", append=TWO_TUMOURS.replace('"T2"', '"skin"')),
         "tumours[1].name", "'skin'"),
    case("too-many-tumours", edit("", "", append=TWO_TUMOURS.replace('name = "T2"\n', "") * 10), "tumours", "11"),
    # --- missing required fields ------------------------------------------------------
    case("missing-electrode", edit(ELECTRODE, ""), "electrode", "required"),
    case("missing-electrode-type", drop('type = "needle-pair"'), "electrode.type", "required"),
    case("missing-diameter", drop("diameter_mm = 4.0"), "tumours[0].diameter_mm", "required"),
    case("missing-semi-axes", edit('shape = "sphere"\ndiameter_mm = 4.0', 'shape = "ellipsoid"'),
         "tumours[0].semi_axes_mm", "required"),
    case("missing-depth", drop("depth_mm = 5.0"), "tumours[0].depth_mm", "required"),
    case("missing-voltage", drop("voltage_V = 730"), "protocol.voltage_V", "required"),
    case("missing-needle-position", edit(ELECTRODE, CUSTOM.replace("position_mm = [3.0, 0.0]", "diameter_mm = 0.7")),
         "electrode.needles[1].position_mm", "required"),
    case("missing-layer-thickness", edit('{ material = "skin", thickness_mm = 1.5 }', '{ material = "skin" }'),
         "tissue.layers[0].thickness_mm", "required"),
    # --- TOML syntax -----------------------------------------------------------------
    case("toml-syntax", edit("pulses = 8", "pulses = = 8"), "scenario", "line 17"),
    case("toml-unclosed", edit("size_mm = [20, 20, 12]", "size_mm = [20, 20, 12"), "scenario", "line 4"),
    case("toml-duplicate-key", edit("pulses = 8", "pulses = 8\npulses = 9"), "scenario", "line 18"),
    case("toml-nested-500", edit("", "", append="x = " + "[" * 500 + "]" * 500 + "\n"), "scenario",
         "nests arrays or tables too deeply"),
    case("toml-nested-20", edit("", "", append="x = " + "[" * 20 + "]" * 20 + "\n"), "scenario",
         "more than 16 levels deep"),
    # --- names are data: no terminal control (they are echoed in messages and the summary) --
    case("name-newline", edit('name = "base"', 'name = "x\\nverdict: COVERED"'), "name", "U+000A"),
    case("name-ansi", edit('name = "base"', 'name = "\\u001b[32mgreen"'), "name", "U+001B"),
    case("name-c1", edit('name = "base"', 'name = "x\\u0085y"'), "name", "U+0085"),
    case("name-bidi", edit('name = "base"', 'name = "abc\\u202edcb"'), "name", "U+202E"),
    case("tumour-name-cr", edit("", "", append=TWO_TUMOURS.replace('"T2"', '"T2\\rT1 covered"')),
         "tumours[1].name", "U+000D"),
    case("needle-name-tab", edit(ELECTRODE, CUSTOM.replace('name = "B"', 'name = "B\\tC"')),
         "electrode.needles[1].name", "U+0009"),
    case("material-name-esc", edit("[materials.tumour]", '[materials."gel\\u001b[2J"]\nsigma0_S_per_m = 1\n'
                                   "[materials.tumour]"), 'materials."gel\\x1b[2J"', "U+001B"),
]

# --- issue 10: physical bounds, unbounded work, crossing shafts, the real cause ---------
def _many(n: int) -> str:
    """Custom needles on a 0.9 mm grid inside the 20 mm block."""
    return "[electrode]\ntype = \"needles\"\ninsertion_depth_mm = 5.0\nneedles = [ " + ", ".join(
        f'{{ position_mm = [{-9.5 + 0.9 * (i % 22):.1f}, {-9.5 + 0.9 * (i // 22):.1f}] }}' for i in range(n)) + " ]\n"



CROSSING = CUSTOM.replace('{ name = "A", position_mm = [-3.0, 0.0] }',
                          '{ name = "A", position_mm = [-3.0, 0.0], tilt_deg = 30, tilt_azimuth_deg = 0 }').replace(
    '{ name = "B", position_mm = [3.0, 0.0] }', '{ name = "B", position_mm = [3.0, 0.0], tilt_deg = 30, '
    'tilt_azimuth_deg = 180 }')
CASES += [
    case("density-tiny", edit("conductivity_model = \"smoothstep\"", "conductivity_model = \"smoothstep\"\n"
                              "density_kg_per_m3 = 1e-300"), "materials.tumour.density_kg_per_m3", "1e-300"),
    case("heat-capacity-tiny", edit("conductivity_model = \"smoothstep\"", "conductivity_model = \"smoothstep\"\n"
                                    "heat_capacity_J_per_kg_K = 1e-300"),
         "materials.tumour.heat_capacity_J_per_kg_K", "1e-300"),
    case("sigma0-tiny", edit("sigma0_S_per_m = 0.3", "sigma0_S_per_m = 1e-300"), "materials.tumour.sigma0_S_per_m",
         "stratum corneum"),
    case("alpha-negative", edit("conductivity_model = \"smoothstep\"", "conductivity_model = \"smoothstep\"\n"
                                "temperature_coefficient_per_K = -0.1"),
         "materials.tumour.temperature_coefficient_per_K", "-0.1"),
    case("tumour-diameter-tiny", edit("diameter_mm = 4.0", "diameter_mm = 1e-300"), "tumours[0].diameter_mm",
         "1e-300"),
    case("tumour-semi-axis-tiny", edit('shape = "sphere"\ndiameter_mm = 4.0', 'shape = "ellipsoid"\n'
                                       'semi_axes_mm = [2, 2, 0.001]'), "tumours[0].semi_axes_mm[2]", "0.001"),
    case("layer-thickness-tiny", edit("thickness_mm = 1.5", "thickness_mm = 1e-300"),
         "tissue.layers[0].thickness_mm", "1e-300"),
    case("needle-diameter-tiny", edit("spacing_mm = 7.3", "spacing_mm = 7.3\nneedle_diameter_mm = 1e-300"),
         "electrode.needle_diameter_mm", "1e-300"),
    case("needle-diameter-0.0007", edit("spacing_mm = 7.3", "spacing_mm = 7.3\nneedle_diameter_mm = 0.0007"),
         "electrode.needle_diameter_mm", "0.0007"),
    case("needle-diameter-0.05", edit("spacing_mm = 7.3", "spacing_mm = 7.3\nneedle_diameter_mm = 0.05"),
         "electrode.needle_diameter_mm", "0.12 mm"),
    case("custom-needle-diameter-tiny", edit(ELECTRODE, CUSTOM.replace('[3.0, 0.0] }', '[3.0, 0.0], '
                                                                       'diameter_mm = 0.05 }')),
         "electrode.needles[1].diameter_mm", "0.05"),
    case("contact-size-tiny", edit("size_mm = 2.5", "size_mm = 2.5\ncontact_size_mm = 0.001"),
         "mesh.contact_size_mm", "0.001"),
    case("tilted-needles-cross", edit(ELECTRODE, CROSSING), "electrode.needles[1]", "below the skin"),
    case("needles-500", edit(ELECTRODE, _many(500)), "electrode.needles", "500"),
    case("all-pairs-100-needles", edit(ELECTRODE, _many(100), "voltage_V = 730",
                                       "voltage_V = 730\nsequence = \"all-pairs\""), "protocol.sequence", "4950"),
    case("sequence-100k", edit("voltage_V = 730", "voltage_V = 730\nsequence = [" + ", ".join(
        ['["A", "B"]'] * 100_000) + "]"), "protocol.sequence", "100000"),
    case("total-pulses", edit(ELECTRODE, '[electrode]\ntype = "hexagonal"\n', "pulses = 8", "pulses = 1000"),
         "protocol.pulses", "12000"),
    case("margin-threshold", edit('name = "base"', 'name = "base"\ncoverage = { margin_threshold = "fat" }'),
         "coverage.margin_threshold", "'fat'"),
]

# cases that also run through a real subprocess (the installed entry point's code path)
SUBPROCESS = {"voltage-negative", "unknown-engine", "typo-mesh", "toml-syntax", "tumour-outside",
              "E-irr-below-E-rev", "toml-nested-500"}


def _check_one_line(err: str, field: str, value: str) -> None:
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert "Traceback" not in err
    assert line.startswith("epsim: error: "), line
    msg = line[len("epsim: error: "):]
    assert msg.startswith(field + ":"), f"expected field {field!r}: {msg}"
    assert value in msg, f"expected {value!r} in: {msg}"


def _nothing_written(tmp_path: Path) -> None:
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "scenario.toml")
    assert left == [], left


@pytest.mark.parametrize("toml, field, value", CASES)
def test_bad_scenario_cli(toml, field, value, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)                     # the default --out would be ./out/<name>
    path = tmp_path / "scenario.toml"
    path.write_text(toml, encoding="utf-8")
    code = main(["run", str(path), "--quiet"])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.out == ""
    _check_one_line(captured.err, field, value)
    _nothing_written(tmp_path)
    code = main(["run", str(path), "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 2
    _nothing_written(tmp_path)


@pytest.mark.parametrize("toml, field, value", [c for c in CASES if c.id in SUBPROCESS],
                         ids=sorted(SUBPROCESS, key=[c.id for c in CASES].index))
def test_bad_scenario_subprocess(toml, field, value, tmp_path):
    path = tmp_path / "scenario.toml"
    path.write_text(toml, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "simulator.cli", "run", str(path), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    _check_one_line(proc.stderr, field, value)
    _nothing_written(tmp_path)


def test_catalogue_size():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


# ----------------------------------------------------------------------------- files
def _run_file(arg: str, tmp_path: Path, capsys) -> str:
    code = main(["run", arg, "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert not (tmp_path / "o").exists()
    return err


def test_missing_file(tmp_path, capsys):
    err = _run_file(str(tmp_path / "nope.toml"), tmp_path, capsys)
    _check_one_line(err, "scenario", "does not exist")


def test_directory_as_file(tmp_path, capsys):
    (tmp_path / "d.toml").mkdir()
    err = _run_file(str(tmp_path / "d.toml"), tmp_path, capsys)
    _check_one_line(err, "scenario", "is a directory")


def test_empty_file(tmp_path, capsys):
    (tmp_path / "e.toml").write_text("  \n\n", encoding="utf-8")
    err = _run_file(str(tmp_path / "e.toml"), tmp_path, capsys)
    _check_one_line(err, "scenario", "is empty")


def test_not_utf8(tmp_path, capsys):
    (tmp_path / "l1.toml").write_bytes(BASE.replace('"base"', '"b\xe9se"').encode("latin-1"))
    err = _run_file(str(tmp_path / "l1.toml"), tmp_path, capsys)
    _check_one_line(err, "scenario", "not UTF-8 text (line 1,")


def test_binary_file(tmp_path, capsys):
    (tmp_path / "b.toml").write_bytes(bytes(range(256)) * 4)
    err = _run_file(str(tmp_path / "b.toml"), tmp_path, capsys)
    _check_one_line(err, "scenario", "not UTF-8")


def test_unreadable_file(tmp_path, capsys):
    p = tmp_path / "u.toml"
    p.write_text(BASE, encoding="utf-8")
    p.chmod(0)
    try:
        if os.access(p, os.R_OK):
            pytest.skip("running as root: permissions are not enforced")
        err = _run_file(str(p), tmp_path, capsys)
        _check_one_line(err, "scenario", "cannot read")
    finally:
        p.chmod(0o600)


def _run_limited(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The CLI in a subprocess with 1.5 GB of address space and a timeout: a regression
    (reading /dev/zero until memory runs out, blocking on a FIFO) fails, never hurts the host."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "simulator.cli", *argv], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=60, preexec_fn=limit)


def test_device_and_fifo_are_not_read(tmp_path):
    fifo = tmp_path / "s.toml"
    os.mkfifo(fifo)                                  # no writer: a plain open() would block forever
    for path, kind in (("/dev/zero", "a character device"), (str(fifo), "a FIFO (named pipe)")):
        proc = _run_limited(["run", path, "--out", str(tmp_path / "o")], tmp_path)
        assert proc.returncode == 2, proc.stderr
        _check_one_line(proc.stderr, "scenario", f"is {kind}, not a regular scenario file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_huge_file_is_refused_unread(tmp_path, capsys):
    big = tmp_path / "big.toml"
    with big.open("wb") as fh:                       # sparse: 17 MiB that take no disk
        fh.truncate(17 * 2**20)
    err = _run_file(str(big), tmp_path, capsys)
    _check_one_line(err, "scenario", "is 17 MiB, more than a scenario file can be (16 MiB)")


def test_bad_out_paths(tmp_path, capsys, monkeypatch):
    """--out values that are refused (exit 2, one line) before any meshing."""
    path = tmp_path / "s.toml"
    path.write_text(BASE, encoding="utf-8")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    for out, force, value in (("dangling", False, "is a dangling symbolic link (to "),
                              ("link", True, "is a symbolic link (to "),
                              (".", True, "'.' is the current directory or contains it"),
                              ("..", True, "'..' is the current directory or contains it"),
                              ("n" * 250, False, "is 250 bytes, too long for this file system"),
                              ("d/" + "n" * 256, False, "is 256 bytes, too long for this file system")):
        code = main(["run", str(path), "--out", out, "--quiet"] + (["--force"] if force else []))
        err = capsys.readouterr().err
        assert code == 2, err
        _check_one_line(err, "--out", value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling", "link", "real", "s.toml"]
    assert os.listdir(tmp_path / "real") == [] and (tmp_path / "link").is_symlink()


def test_utf8_bom_is_read(tmp_path):
    p = tmp_path / "bom.toml"
    p.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_scenario(p).name == "base"


def test_top_level_not_a_table():
    with pytest.raises(ScenarioError):
        scenario_from_dict([1, 2])          # type: ignore[arg-type]


# ----------------------------------------------------------------------------- CLI options
def test_bad_cli_options(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(BASE, encoding="utf-8")
    out = str(tmp_path / "o")
    for argv, field in ((["--engine", "fenics"], "--engine"), (["--fail-under", "2"], "--fail-under"),
                        (["--max-memory", "-1"], "--max-memory")):
        code = main(["run", str(path), "--out", out, "--quiet", *argv])
        err = capsys.readouterr().err
        assert code == 2, err
        _check_one_line(err, field, "")
        assert not Path(out).exists()
    code = main(["run", str(path), "--bogus"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--bogus" in err


def test_existing_output_not_overwritten(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(BASE, encoding="utf-8")
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code = main(["run", str(path), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    _check_one_line(err, "--out", "--force")
    assert (out / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "s.toml"]


# ----------------------------------------------------------------------------- allowed
def test_needle_through_tumour_is_allowed():
    """A needle inserted through the tumour is clinical practice (centre needle of the
    hexagonal array): the loader accepts it."""
    import tomllib
    text = edit("spacing_mm = 7.3", "spacing_mm = 2.0")      # needles at x = -+1 mm, tumour r = 2 mm
    sc = scenario_from_dict(tomllib.loads(text))
    assert sc.electrode.needles[0].position[0] == pytest.approx(-1e-3)
    hexa = edit(ELECTRODE, '[electrode]\ntype = "hexagonal"\nside_mm = 3.0\ninsertion_depth_mm = 9.0\n')
    assert scenario_from_dict(tomllib.loads(hexa)).electrode.type == "hexagonal"


def test_deep_needles_pass_through_the_block():
    import tomllib
    sc = scenario_from_dict(tomllib.loads(edit("insertion_depth_mm = 9.0", "insertion_depth_mm = 20.0")))
    assert sc.electrode.needles[0].insertion_depth == pytest.approx(0.02)


def test_base_is_valid():
    import tomllib
    for text in (BASE, edit(ELECTRODE, CUSTOM), edit(ELECTRODE, PLATES), edit("", "", append=TWO_TUMOURS)):
        scenario_from_dict(tomllib.loads(text))
