"""Which protocol parameters changed the result, given the models a scenario uses.

The field of the stationary model depends on the amplitudes and the pairs only; the pulse
count enters the temperature, the pulses-above-threshold counts and the cell-kill model; the
pulse duration enters the temperature; the rate enters only the Pennes model (cooling
between pulses) and, through sigma(E, T), the field. Stated so that a user does not find
out by trial that 1 Hz and 5 kHz give bit-identical fields.
"""
from __future__ import annotations


def protocol_effects(scenario) -> dict[str, str]:
    """Parameter -> what it changed in this run (plain sentences)."""
    pennes = scenario.thermal.model == "pennes"
    alpha = any(m.temperature_coefficient != 0 for m in scenario.materials.values())
    kill = scenario.cell_kill is not None
    T = scenario.protocol.train_time
    count = ["temperatures", "pulses above E_rev / E_irr"] + (["kill probability"] if kill else [])
    if alpha:
        count.append("conductivity and currents (sigma(E, T))")
    if pennes:
        rate = ("temperatures (cooling between pulses)" +
                (", and through sigma(E, T) the currents and the field" if alpha else "") +
                f"; treatment time {T:.4g} s")
    else:
        rate = (f"nothing but the treatment time ({T:.4g} s): the adiabatic model has no cooling"
                + ("" if kill else " and no cell-kill model counts time"))
    return {
        "voltage_V": "the field, coverage, zones, currents and temperatures",
        "sequence": "the field (which pairs fire) and everything that follows from it",
        "pulses": ", ".join(count) + "; not the field or coverage" + (" beyond sigma(E, T)" if alpha else ""),
        "pulse_duration_us": "temperatures" + (" and, through sigma(E, T), the field" if alpha else "")
                             + "; not the cell-kill model (it counts pulses)" * kill,
        "frequency_Hz": rate,
    }


def effects_line(effects: dict[str, str]) -> str:
    return f"protocol: frequency changes {effects['frequency_Hz']}; pulse count changes {effects['pulses']}"
