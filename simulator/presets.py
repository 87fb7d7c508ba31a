"""Text listing of what a scenario can name: electrode types, protocol presets, materials."""
from __future__ import annotations

from electrodes.registry import TYPES
from protocols.esope import ESOPE_RATIO_V_PER_CM, PRESETS

from .conductivity import MODELS
from .materials import LIBRARY
from .units import V_PER_CM


def presets_text() -> str:
    lines = ["ELECTRODES (electrode.type; keys with defaults, mm)"]
    for t in TYPES.values():
        lines.append(f"  {t.name}: {t.description}")
        if t.source:
            lines.append(f"      source: {t.source}")
        lines.append(f"      fires: {t.fires}; ESOPE ratio {ESOPE_RATIO_V_PER_CM.get(t.name, 1000):g} V/cm")
        keys = ", ".join(f"{k} = {p.default}" for k, p in t.params.items())
        lines.append(f"      {keys}")
    lines.append("  needles: custom list, needles = [{ name, position_mm = [x, y], diameter_mm, insertion_depth_mm }]")
    lines.append("")
    lines.append("PROTOCOL PRESETS (protocol.preset)")
    for name, text in PRESETS.items():
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
