"""Words on the figures and pages of a run: the run's title (scenario, electrode, voltage,
pulses, preset, model) and a tumour's coverage line (matplotlib mathtext; names literal)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.output.outlines import literal

if TYPE_CHECKING:                                   # pragma: no cover
    from simulator.solve.result import Result


def voltages_text(result: "Result") -> str:
    vs = sorted({round(g.group.voltage, 6) for g in result.train.groups})
    return f"{vs[0]:g} V" if len(vs) == 1 else f"{vs[0]:g}\u2013{vs[-1]:g} V"


def run_title(result: "Result") -> str:
    """One line naming the scenario, electrode, voltage(s), pulses and model."""
    sc = result.scenario
    e = sc.electrode
    elec = e.source.removeprefix("catalogue ") if e.source.startswith("catalogue") else e.type
    groups = sc.protocol.groups
    durs = sorted({round(g.duration * 1e6, 6) for g in groups})
    freqs = sorted({round(g.frequency, 6) for g in groups})
    pulses = f"{sc.protocol.total_pulses} \u00d7 {'/'.join(f'{d:g}' for d in durs)} \u00b5s"
    if len(freqs) == 1:
        pulses += f" at {freqs[0]:g} Hz"
    proto = f" ({sc.protocol.preset})" if sc.protocol.preset else ""
    return f"{literal(sc.name)} \u2014 {literal(elec)}, {voltages_text(result)}, {pulses}{proto}, {sc.solver.model} model"


def tumour_line(result: "Result", name: str | None) -> str:
    if not result.tumours:
        return "no tumour"
    t = next((t for t in result.tumours if t.name == name), result.tumours[0])
    verdict = "all covered" if result.covered else "NOT all covered" if len(result.tumours) > 1 else (
        "covered" if t.covered else "NOT covered")
    return (f"{literal(t.name)}: {100 * t.reversible_fraction:.1f} % \u2265 $E_\\mathrm{{rev}}$, "
            f"{100 * t.irreversible_fraction:.1f} % \u2265 $E_\\mathrm{{irr}}$, with margin "
            f"{100 * t.margin_reversible_fraction:.1f} % ({len(result.tumours)} tumour"
            f"{'s' if len(result.tumours) > 1 else ''}: {verdict})")
