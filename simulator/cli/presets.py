"""Text listing of what a scenario can name: electrode types, protocol presets, materials."""
from __future__ import annotations

from electrodes.catalogue import CATALOGUE, describe
from electrodes.registry import TYPES
from protocols.esope import ESOPE_RATIO_V_PER_CM, PRESETS, RATIO_LABELS
from protocols.sequences import SEQUENCES

from simulator.physics.conductivity import MODELS
from simulator.physics.materials import LIBRARY
from simulator.units import V_PER_CM


def presets_text() -> str:
    lines = ["ELECTRODES (electrode.type; keys with defaults, mm)"]
    for t in TYPES.values():
        lines.append(f"  {t.name}: {t.description}")
        if t.source:
            lines.append(f"      source: {t.source}")
        lines.append(f"      fires: {t.fires}; ESOPE ratio {ESOPE_RATIO_V_PER_CM.get(t.name, 1000):g} V/cm "
                     f"{RATIO_LABELS.get(t.name, '[A]')}")
        keys = ", ".join(f"{k} = {p.default}" for k, p in t.params.items())
        lines.append(f"      {keys}")
    lines.append("  needles: custom list, needles = [{ name, position_mm = [x, y], diameter_mm, insertion_depth_mm }]")
    lines.append("")
    lines.append("CLINICAL CATALOGUE (electrode.catalogue; explicit electrode keys override; labels: [C] confirmed, "
                 "[R] commonly cited, unverified, [A] epsim assumption, no source)")
    for entry in CATALOGUE.values():
        lines += ["  " + line for line in describe(entry)]
        d = next(entry.dimensions[k].value for k in ("gap_mm", "row_gap_mm", "side_mm") if k in entry.dimensions)
        ratio = ESOPE_RATIO_V_PER_CM[entry.type]
        lines[-1] += f" -> {ratio:g} V/cm x {d:g} mm = {ratio * d / 10:g} V"
    lines.append("  vendor codes (N-..-4B, N-..-HG, P-30-8G) and their reading are NOT confirmed (domain.md 1.3)")
    lines.append("")
    lines.append("PROTOCOL PRESETS (protocol.preset; explicit protocol fields override; pulses = pulses_per_pair)")
    for name, text in PRESETS.items():
        lines.append(f"  {name}: {text}")
    lines.append("  source: 8 x 100 us, 1300 V/cm plates, 1000 V/cm needle arrays (ESOPE ASCO 2006 #8047 [C]); "
                 "1 Hz or 5 kHz (J Healthc Eng 2019 [C])")
    lines.append("")
    lines.append("SEQUENCES (protocol.sequence = NAME or [[anode, cathode], ...]); the hexagonal switching "
                 "order and pulses per pair are NOT confirmed")
    for name, (_, text) in SEQUENCES.items():
        lines.append(f"  {name}: {text}")
    lines.append("")
    lines.append("MATERIALS (materials.<name>; sigma S/m, E V/cm)")
    lines.append(f"  {'name':<16}{'sigma0':>8}{'sigma1':>8}{'E_rev':>8}{'E_irr':>8}  model       source")
    for m in LIBRARY.values():
        lines.append(f"  {m.name:<16}{m.sigma0:>8g}{m.sigma1:>8g}{m.E_rev / V_PER_CM:>8g}{m.E_irr / V_PER_CM:>8g}"
                     f"  {m.conductivity_model:<11} {m.source}")
    lines.append("")
    lines.append("CONDUCTIVITY MODELS (materials.<name>.conductivity_model)")
    for m in MODELS.values():
        lines.append(f"  {m.name}: {m.formula}")
    return "\n".join(lines)


def cmd_presets(args) -> int:
    """``epsim presets``: print the catalogue, protocols and materials."""
    print(presets_text())
    return 0
