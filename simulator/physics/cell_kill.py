"""Pulse-number-dependent cell kill: the Peleg-Fermi model (domain.md section 3.1).

Golberg A, Rubinsky B, BioMed Eng OnLine 2010;9:13 [C] introduced the statistical
Peleg-Fermi model for irreversible-electroporation cell death; the form and default
constants below are those of Go-Smart ``NumaIRE/MaxESolver.f90`` [C-code], which cites
Garcia PA, Davalos RV, Miklavcic D, PLoS One 2014:

    S(E, n) = 1 / (1 + exp((E - E_c(n)) / A(n))),  E_c(n) = E_c0 exp(-k1 n),  A(n) = A0 exp(-k2 n)

with E the maximum field the cell experienced (V/m) and n the pulse count; the kill
probability is P = 1 - S. Caveat (domain.md 3.1): the code that carries these constants
says they "are not based on human in vivo tissue", and they do not reproduce the 90-pulse
in vitro prostate result (Rubinsky 2008): the constants are tissue- and setup-specific, so
every tissue's set is overridable. The formula gives P > 0 at E = 0 (2.9 % at n = 8); epsim
evaluates it only where the cell was electroporated (n counts pulses at E >= E_rev), so
cells never above E_rev have P = 0 [A].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.units import V_PER_CM


@dataclass(frozen=True)
class PelegFermi:
    """Peleg-Fermi constants: E_c0, A0 in V/m; k1, k2 per pulse (dimensionless)."""

    E_c0: float = 3996.0 * V_PER_CM      # 399 600 V/m, Go-Smart MaxESolver.f90 [C-code]
    A0: float = 1441.0 * V_PER_CM        # 144 100 V/m, same source [C-code]
    k1: float = 0.03                     # same source [C-code]
    k2: float = 0.06                     # same source [C-code]

    def critical_field(self, n) -> np.ndarray:
        """E_c(n) (V/m): the field of 50 % survival after n pulses."""
        return self.E_c0 * np.exp(-self.k1 * np.asarray(n, dtype=float))

    def width(self, n) -> np.ndarray:
        """A(n) (V/m): the width of the survival step after n pulses."""
        return self.A0 * np.exp(-self.k2 * np.asarray(n, dtype=float))

    def survival(self, E, n) -> np.ndarray:
        """S(E, n) in [0, 1] for fields E (V/m) and pulse counts n (broadcast)."""
        x = (np.asarray(E, dtype=float) - self.critical_field(n)) / self.width(n)
        return 0.5 * (1.0 - np.tanh(0.5 * x))           # = 1 / (1 + exp(x)), without overflow

    def kill_probability(self, E, n) -> np.ndarray:
        """P(E, n) = 1 - S(E, n); 0 where n == 0 (the cell was never electroporated)."""
        n = np.asarray(n)
        return np.where(n > 0, 1.0 - self.survival(E, n), 0.0)

    def field_for_kill(self, p: float, n) -> np.ndarray:
        """The field (V/m) that kills a fraction ``p`` after n pulses."""
        return self.critical_field(n) + self.width(n) * np.log(p / (1.0 - p))


MODELS = ("peleg-fermi",)


def cell_kill_probability(E_max: np.ndarray, pulses: np.ndarray, constants: list[PelegFermi],
                          cell_material: np.ndarray) -> np.ndarray:
    """(M, Q) kill probability: E_max (M, Q) V/m, pulses (M, Q) counts, ``constants`` per
    material index, ``cell_material`` (M,) index into it."""
    out = np.zeros(E_max.shape)
    for k, c in enumerate(constants):
        cells = cell_material == k
        if cells.any():
            out[cells] = c.kill_probability(E_max[cells], pulses[cells])
    return out
