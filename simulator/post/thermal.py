"""Thermal figures that mean something: the 99th percentile by volume, volumes above 43 C
and 50 C (per tissue), the CEM43 thermal dose and the volume it damages; the point maximum
is kept but is not the headline (it sits on the singular rim of a needle tip).

Adiabatic model: the cell temperature is T0 + the adiabatic rise at each sample point, and
there is no dose (no time history). Pennes: the cell temperature is the mean of its nodes'
peak temperatures over time (the point maximum is the hottest node), the dose the mean of
its nodes' CEM43.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.physics.bioheat import CEM43_DAMAGE_MIN, cell_average

LEVELS_C = (43.0, 50.0)
WARN_C = 50.0


@dataclass(frozen=True)
class ThermalFigures:
    """Temperatures in C, volumes in m^3, dose in minutes at 43 C."""

    model: str
    initial_C: float
    max_C: float
    T99_C: float
    volume_above: dict[float, float]                  # level C -> m^3
    volume_above_by_tissue: dict[float, dict[str, float]]
    cem43_max_min: float | None = None
    cem43_damage_volume: float | None = None          # m^3 with CEM43 >= CEM43_DAMAGE_MIN
    details: dict = field(default_factory=dict)


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest value v with weight(values <= v) >= q * total weight."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, q * cum[-1])])


def thermal_figures(result) -> ThermalFigures:
    """Figures of a run (``result.thermal`` set for Pennes, None for adiabatic)."""
    sc, mesh, tr = result.scenario, result.mesh, result.train
    th = sc.thermal
    # materials by index into their sorted names (memory: a per-cell array of names and its
    # tolist() were ~780 MB at 6.3e6 cells; the same cells and sums, so the same figures)
    names, region_material = np.unique([r.material for r in mesh.regions], return_inverse=True)
    materials = region_material.astype(np.int32)[mesh.cell_region]
    hist = result.thermal
    if hist is None:
        T, w = th.initial_C + tr.temperature_rise, tr.weights            # (M, Q)
        mat = np.repeat(materials[:, None], T.shape[1], axis=1)
        T, w, mat = T.ravel(), w.ravel(), mat.ravel()
        t_max, dose = float(T.max()), None
    else:
        T = cell_average(mesh.tets, hist.peak_C)
        w, mat = mesh.volumes(), materials
        t_max = float(hist.peak_C.max())
        dose = cell_average(mesh.tets, hist.cem43_min)
    above = {lv: float(w[T > lv].sum()) for lv in LEVELS_C}
    present = np.flatnonzero(np.bincount(mat, minlength=len(names)))
    by_tissue = {lv: {str(names[k]): float(w[(T > lv) & (mat == k)].sum()) for k in present
                      if ((T > lv) & (mat == k)).any()} for lv in LEVELS_C}
    return ThermalFigures(th.model, th.initial_C, t_max, weighted_percentile(T, w, 0.99), above, by_tissue,
                          None if dose is None else float(dose.max()),
                          None if dose is None else float(w[dose >= CEM43_DAMAGE_MIN].sum()))


def thermal_warnings(fig: ThermalFigures) -> list[str]:
    """A warning for each tissue of which a volume exceeds 50 C."""
    out = []
    for tissue, v in fig.volume_above_by_tissue[WARN_C].items():
        out.append(f"{v * 1e9:.3g} mm3 of {tissue} exceeds {WARN_C:g} C ({fig.model} model, peak "
                   f"{fig.max_C:.1f} C): thermal damage is possible there")
    if fig.max_C > 100.0:
        out.append(f"the hottest point reaches {fig.max_C:.0f} C: the {fig.model} model has no vaporisation "
                   "or tissue change, so temperatures above 100 C (and their CEM43) are not physical; "
                   "see T99_C and the volumes above 43 / 50 C")
    return out
