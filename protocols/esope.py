"""ESOPE electrochemotherapy protocol presets.

Eight pulses of 100 us (ESOPE, ASCO 2006 abstract #8047 [C]) at 5 kHz (default) or 1 Hz
(J Healthc Eng 2019, 2784516 [C]); amplitude = voltage-to-distance ratio x electrode
distance, with 1300 V/cm for plates and 1000 V/cm for linear and hexagonal needle arrays
(ASCO 2006 abstract [C]). See ../shared/domain.md section 1.2.

The count applies to every pair in the firing sequence: plates and needle rows fire one
pair (8 pulses); the hexagonal array fires its 12 nearest-neighbour pairs, 8 pulses each
(96 pulses). That hexagonal switching sequence and split are NOT CONFIRMED (domain.md 1.3,
"commonly quoted" [R]); ``protocol.pulses_per_pair`` and ``protocol.sequence`` change them.
"""
from __future__ import annotations

from electrodes.contacts import Electrode

ESOPE_PULSES = 8
ESOPE_DURATION_US = 100.0
ESOPE_FREQUENCY_HZ = 5000.0
ESOPE_SLOW_FREQUENCY_HZ = 1.0
ESOPE_RATIO_V_PER_CM = {"plates": 1300.0, "needle-rows": 1000.0, "hexagonal": 1000.0,
                        "needle-pair": 1000.0, "needles": 1000.0}
# Which ratios are sourced: plates 1300 and linear/hexagonal 1000 V/cm [C]; a needle pair or
# custom needles use the needle value by analogy [A].
RATIO_LABELS = {"plates": "[C]", "needle-rows": "[C]", "hexagonal": "[C]", "needle-pair": "[A]",
                "needles": "[A]"}

PRESETS = {
    "esope": "8 x 100 us per pair at 5 kHz; V = 1300 V/cm x gap (plates) or 1000 V/cm x distance "
             "(needles); hexagonal: 12 nearest-neighbour pairs x 8 = 96 pulses (sequence unconfirmed [R])",
    "esope-1hz": "as esope, at 1 Hz (or esope with frequency_Hz = 1)",
}


def esope_voltage(electrode: Electrode) -> float:
    """ESOPE amplitude (V) for an electrode: ratio (V/m) x electrode distance (m)."""
    return ESOPE_RATIO_V_PER_CM.get(electrode.type.split(":")[0], 1000.0) * 100.0 * electrode.distance


def preset_defaults(name: str, electrode: Electrode) -> dict:
    """Scenario-unit defaults (pulses per pair, pulse_duration_us, frequency_Hz,
    field_ratio_V_per_cm) of a preset; explicit scenario fields override them."""
    if name not in PRESETS:
        raise KeyError(f"unknown protocol preset {name!r}; valid: {', '.join(PRESETS)}")
    return {
        "pulses": ESOPE_PULSES,
        "pulse_duration_us": ESOPE_DURATION_US,
        "frequency_Hz": ESOPE_SLOW_FREQUENCY_HZ if name == "esope-1hz" else ESOPE_FREQUENCY_HZ,
        "field_ratio_V_per_cm": ESOPE_RATIO_V_PER_CM.get(electrode.type.split(":")[0], 1000.0),
    }
