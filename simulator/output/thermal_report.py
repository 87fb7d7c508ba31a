"""The report's ``thermal`` section and its terminal line (temperatures C, volumes mm3)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.physics.bioheat import CEM43_DAMAGE_MIN
from simulator.post.thermal import LEVELS_C, ThermalFigures, thermal_figures

if TYPE_CHECKING:
    from simulator.solve.result import Result

MM3 = 1e-9


def _r(x, nd: int = 6):
    return None if x is None else float(f"{float(x):.{nd}g}")


def thermal_section(result: "Result", fig: ThermalFigures | None = None) -> dict:
    """``thermal.{model, max_temperature_C, T99_C, volume_above_43C_mm3, ...}``."""
    fig = fig or thermal_figures(result)
    th = result.scenario.thermal
    out = {
        "model": fig.model, "initial_temperature_C": _r(fig.initial_C),
        "T99_C": _r(fig.T99_C), "max_temperature_C": _r(fig.max_C),
        **{f"volume_above_{lv:g}C_mm3": _r(fig.volume_above[lv] / MM3) for lv in LEVELS_C},
        "volume_above_50C_by_tissue_mm3": {k: _r(v / MM3) for k, v in fig.volume_above_by_tissue[50.0].items()},
        "cem43_max_min": _r(fig.cem43_max_min),
        f"volume_cem43_{CEM43_DAMAGE_MIN:g}min_mm3": None if fig.cem43_damage_volume is None
        else _r(fig.cem43_damage_volume / MM3),
    }
    hist = result.thermal
    if hist is None:
        out["note"] = ("adiabatic: every pulse's Joule heat stays where it was released (no conduction, "
                       "no perfusion, no cooling between pulses); max_temperature_C is one sample point, "
                       "usually on a needle rim")
    else:
        out.update({
            "skin": th.skin, "arterial_temperature_C": th.arterial_C,
            **({"skin_h_W_per_m2K": th.skin_h, "ambient_C": th.ambient_C} if th.skin == "convective" else {}),
            "time_step_pulse_us": _r(hist.dt_pulse * 1e6),
            "time_step_between_pulses_ms": {f"{f:g} Hz": _r(dt * 1e3) for f, dt in hist.dt_between.items()},
            "scheme": "backward Euler, P1, lumped capacity, perfusion and skin exchange",
            "heat_steps": hist.heat_steps, "field_solves": hist.field_solves,
            "resolve_tolerance": hist.resolve_tolerance,
            "peak_time_s": _r(hist.peak_time),
            "final_max_temperature_C": _r(float(hist.final_C.max())),
        })
    return out


def _f(x, spec: str) -> str:
    """A report number for the terminal: 'n/a' for null (a non-finite value, see warnings)."""
    return "n/a" if x is None else format(x, spec)


def thermal_line(report: dict) -> str:
    t = report["thermal"]
    line = (f"thermal ({t['model']}): T99 {_f(t['T99_C'], '.1f')} C, {_f(t['volume_above_43C_mm3'], '.3g')} mm3 "
            f"above 43 C, {_f(t['volume_above_50C_mm3'], '.3g')} mm3 above 50 C")
    if t["cem43_max_min"] is not None:
        line += f", CEM43 max {t['cem43_max_min']:.2g} min"
    return line + f" (hottest point {_f(t['max_temperature_C'], '.1f')} C)"
