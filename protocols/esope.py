"""ESOPE electrochemotherapy protocol presets.

Eight pulses of 100 us (ESOPE, ASCO 2006 abstract #8047 [C]) at 5 kHz (default) or 1 Hz
(J Healthc Eng 2019, 2784516 [C]); amplitude = voltage-to-distance ratio x electrode
distance, with 1300 V/cm for plates and 1000 V/cm for linear and hexagonal needle arrays
(ASCO 2006 abstract [C]). See ../shared/domain.md section 1.2.
"""
from __future__ import annotations

from electrodes.contacts import Electrode

ESOPE_PULSES = 8
ESOPE_DURATION_US = 100.0
ESOPE_FREQUENCY_HZ = 5000.0
ESOPE_RATIO_V_PER_CM = {"plates": 1300.0, "needle-rows": 1000.0, "hexagonal": 1000.0,
                        "needle-pair": 1000.0, "needles": 1000.0}

PRESETS = {
    "esope": "8 x 100 us at 5 kHz; V = 1300 V/cm x gap (plates) or 1000 V/cm x distance (needles)",
    "esope-1hz": "as esope, at 1 Hz",
}


def preset_defaults(name: str, electrode: Electrode) -> dict:
    """Scenario-unit defaults (pulses, pulse_duration_us, frequency_Hz, field_ratio_V_per_cm)."""
    return {
        "pulses": ESOPE_PULSES,
        "pulse_duration_us": ESOPE_DURATION_US,
        "frequency_Hz": 1.0 if name == "esope-1hz" else ESOPE_FREQUENCY_HZ,
        "field_ratio_V_per_cm": ESOPE_RATIO_V_PER_CM.get(electrode.type.split(":")[0], 1000.0),
    }
