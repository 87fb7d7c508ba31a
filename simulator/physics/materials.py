"""Tissue materials: electrical and thermal parameters with their sources.

Values and confidence labels come from ../shared/domain.md (sections 2.1, 2.3, 2.4):
[C] confirmed from a retrieved abstract/page, [C-code] the value a named public code uses,
[R] commonly cited but not verified, [A] an assumption of epsim (no source; override it).
Records hold SI units (S/m, V/m, 1/K, kg/m^3, J/(kg K)); scenarios give fields in V/cm.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from simulator.physics.conductivity import MODELS
from simulator.errors import ScenarioError
from simulator.units import V_PER_CM


@dataclass(frozen=True)
class Material:
    """One tissue's electroporation parameters (SI units)."""

    name: str
    sigma0: float                 # S/m, intact tissue
    sigma1: float                 # S/m, fully electroporated
    E_rev: float                  # V/m, reversible threshold
    E_irr: float                  # V/m, irreversible threshold
    conductivity_model: str = "smoothstep"
    temperature_coefficient: float = 0.0   # 1/K, sigma *= 1 + alpha dT (0: off)
    density: float = 1050.0                # kg/m^3 (OpenEP example case [C-code])
    heat_capacity: float = 3600.0          # J/(kg K) (OpenEP example case [C-code])
    # Pennes bioheat (domain.md 2.4): OpenEP example case cases/par-example1-from-paper.h
    # [C-code] for every tissue (one set, not tissue-specific [A]); liver: Go-Smart (below)
    thermal_conductivity: float = 0.512    # W/(m K)
    perfusion: float = 0.0044              # 1/s, blood perfusion rate w_b
    metabolic_heat: float = 420.0          # W/m^3
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        where = f"materials.{self.name}"
        for key in ("sigma0", "sigma1", "E_rev", "E_irr", "density", "heat_capacity"):
            value = getattr(self, key)
            if not value > 0 or value != value or value == float("inf"):
                raise ScenarioError(f"{where}.{SCENARIO_KEYS.get(key, key)}",
                                    f"must be a positive finite number, got {_show(key, value)}")
        for key in ("thermal_conductivity", "perfusion", "metabolic_heat"):
            value = getattr(self, key)
            if not 0 <= value < float("inf"):
                raise ScenarioError(f"{where}.{SCENARIO_KEYS[key]}", f"must be a finite number >= 0, got {value:g}")
        if self.sigma1 < self.sigma0:
            raise ScenarioError(f"{where}.sigma1_S_per_m",
                                f"must be >= sigma0_S_per_m ({self.sigma0:g}), got {self.sigma1:g}")
        if self.E_irr <= self.E_rev:
            raise ScenarioError(f"{where}.E_irr_V_per_cm",
                                f"must be > E_rev_V_per_cm ({self.E_rev / V_PER_CM:g}), "
                                f"got {self.E_irr / V_PER_CM:g}")
        if self.conductivity_model not in MODELS:
            raise ScenarioError(f"{where}.conductivity_model",
                                f"unknown model {self.conductivity_model!r}; valid: {', '.join(MODELS)}")
        if not -0.1 <= self.temperature_coefficient <= 0.1:
            raise ScenarioError(f"{where}.temperature_coefficient_per_K",
                                f"must be within [-0.1, 0.1] 1/K, got {self.temperature_coefficient:g}")

    def with_overrides(self, **changes) -> "Material":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def _show(key: str, value: float) -> str:
    return f"{value / V_PER_CM:g}" if key.startswith("E_") else f"{value:g}"


# Scenario (TOML) key for each record field, with its unit suffix; E in V/cm there.
SCENARIO_KEYS = {
    "sigma0": "sigma0_S_per_m",
    "sigma1": "sigma1_S_per_m",
    "E_rev": "E_rev_V_per_cm",
    "E_irr": "E_irr_V_per_cm",
    "conductivity_model": "conductivity_model",
    "temperature_coefficient": "temperature_coefficient_per_K",
    "density": "density_kg_per_m3",
    "heat_capacity": "heat_capacity_J_per_kg_K",
    "thermal_conductivity": "thermal_conductivity_W_per_m_K",
    "perfusion": "perfusion_per_s",
    "metabolic_heat": "metabolic_heat_W_per_m3",
}
ZERO_ALLOWED = ("thermal_conductivity", "perfusion", "metabolic_heat")
SCALE_FROM_SCENARIO = {"E_rev": V_PER_CM, "E_irr": V_PER_CM}


def _m(name, s0, s1, erev_v_cm, eirr_v_cm, source, **kw) -> Material:
    return Material(name, s0, s1, erev_v_cm * V_PER_CM, eirr_v_cm * V_PER_CM, source=source, **kw)


LIBRARY: dict[str, Material] = {
    m.name: m
    for m in (
        _m("tumour", 0.3, 0.75, 400, 800,
           "subcutaneous tumour, Pavselj 2005 / Zupanic 2008-2012 style [R]"),
        _m("skin", 0.1, 0.3, 400, 1000,
           "whole skin: sigma0 ~0.1 S/m, x2.5-4 when porated, E_rev ~400, E_irr ~900-1200 V/cm [R]; "
           "sigma1 = 3 sigma0 and E_irr = 1000 V/cm chosen inside those ranges [A]"),
        _m("fat", 0.02, 0.08, 100, 400,
           "sigma0 0.02 S/m at 100 kHz (DuzaBF/bis-utils parameters.py) [C-code]; sigma1, E_rev, E_irr "
           "from Go-Smart 'background' (fat-like) constants-variant-ire.xml [C-code]"),
        _m("muscle", 0.1, 0.35, 200, 450,
           "sigma0 0.1 S/m (IrreversibleElectroporationSpine ireMethods.tex) [C-code]; E_rev 200 V/cm for E "
           "across fibres (Corovic 2010) [R]; sigma1 = 3.5 sigma0 and E_irr 450 V/cm [A]"),
        _m("liver", 0.08, 0.32, 350, 700,
           "Go-Smart IRE liver default, constants-variant-ire.xml [C-code] (in vivo rabbit liver "
           "362/637 V/cm, Miklavcic 2000 [C-secondary]); k and perfusion: Go-Smart constants-liver.xml "
           "[C-code] (its rho 1079, c 3540 not adopted: the adiabatic default keeps today's numbers)",
           thermal_conductivity=0.302, perfusion=0.0036),
        _m("background", 0.02, 0.08, 100, 400, "Go-Smart 'background' default [C-code]"),
        _m("blood", 0.7, 1.5, 100, 450, "Go-Smart vessels default [C-code]"),
        _m("bone", 0.02, 0.02, 5000, 10000,
           "cortical bone sigma 0.02 S/m (IrreversibleElectroporationSpine ireMethods.tex) [C-code]; not "
           "electroporated at ECT fields: constant sigma, thresholds above any ECT field [A]",
           conductivity_model="constant"),
        _m("wound-fluid", 1.5, 1.5, 5000, 10000,
           "exudate on an ulcerated lesion: ~1.5 S/m, about plasma/saline [A]; no cells: constant sigma, "
           "thresholds above any ECT field [A]", conductivity_model="constant"),
        _m("tumour-gosmart", 0.2, 0.7, 400, 800, "Go-Smart tumour default [C-code]"),
    )
}


def material_field_names() -> list[str]:
    """Record field names that a scenario may override."""
    return [f.name for f in fields(Material) if f.name not in ("name", "source")]
