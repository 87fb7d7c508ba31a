"""Electroporation-dependent conductivity models sigma(E).

Each model maps the local field magnitude E (V/m) to a conductivity (S/m) that rises from
sigma0 to sigma1 as tissue electroporates between E_rev and E_irr, and gives the
derivative dsigma/dE needed by Newton's method.  All functions are vectorised: the
parameters may be scalars or arrays broadcastable against E (one value per cell).

Models (see ../shared/domain.md section 2.2):

* ``constant``  : sigma = sigma0.
* ``linear``    : piecewise linear between (E_rev, sigma0) and (E_irr, sigma1), as the
  Go-Smart IRE template (``go-smart-template_ire.sif``) [C-code].
* ``smoothstep``: sigma0 + (sigma1 - sigma0) s(t), s = 6t^5 - 15t^4 + 10t^3,
  t = clip((E - E_rev)/(E_irr - E_rev), 0, 1): a C2 smoothed step, the open equivalent of
  COMSOL's ``flc2hs`` used by Corovic et al. 2013 (BioMed Eng OnLine 12:16) [R form].
* ``sigmoid``   : sigma0 + (sigma1 - sigma0) / (1 + D exp(-(E - A)/B)), A = (E_rev+E_irr)/2,
  B = (E_irr - E_rev)/C, C = 8, D = 10 (Sel et al. 2005, IEEE TBME 52:816) [R parameters].

Every model is non-decreasing in E, so sigma(E) E is increasing and the stationary
problem is the minimiser of a convex energy (Newton's Jacobian is SPD).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np

SIGMOID_C = 8.0
LAW_CHUNK = 1 << 17     # cells per block when a law is evaluated on a per-cell array (memory:
                        # the law's expression temporaries are a block's, not (M, Q) arrays)
SIGMOID_D = 10.0


class NumpyOps:
    """The few operations a law needs, on NumPy arrays. A law written against this interface
    is also evaluated symbolically (UFL, :mod:`simulator.engines.dolfinx.laws`) from the
    same definition, so each law exists once."""

    @staticmethod
    def clip(x, lo: float, hi: float):
        # np.minimum(np.maximum(...)): the values of np.clip (NaN too), ~4x faster on NumPy 1.24,
        # whose np.clip goes through a slow casting check (a Newton step evaluates the law ~5x)
        out = np.maximum(x, lo)
        if isinstance(out, np.ndarray):
            return np.minimum(out, hi, out=out)
        return np.minimum(out, hi)

    @staticmethod
    def exp(x):
        return np.exp(x)

    @staticmethod
    def between(x, lo, hi, inside, outside: float = 0.0):
        """``inside`` where lo < x < hi, else ``outside``."""
        return np.where((x > lo) & (x < hi), inside, outside)

    @staticmethod
    def constant(value, like):
        """``value`` with the shape of ``like``."""
        return np.broadcast_to(np.asarray(value, dtype=float), np.shape(like)).astype(float)

    @staticmethod
    def zero(like):
        return np.zeros(np.shape(like))


NUMPY = NumpyOps()


@dataclass(frozen=True)
class ConductivityModel:
    """A named sigma(E) law and its E-derivative, written once against an ``ops`` interface.

    ``law(E, s0, s1, Er, Ei, ops)`` gives sigma (S/m) at field magnitude E (V/m);
    ``derivative`` gives dsigma/dE. :meth:`sigma` and :meth:`dsigma` evaluate them on NumPy
    arrays; the DOLFINx engine passes UFL operations instead.
    """

    name: str
    law: Callable[..., object]
    derivative: Callable[..., object]
    formula: str

    def sigma(self, E, s0, s1, Er, Ei) -> np.ndarray:
        return self.law(np.asarray(E, dtype=float), s0, s1, Er, Ei, NUMPY)

    def dsigma(self, E, s0, s1, Er, Ei) -> np.ndarray:
        return self.derivative(np.asarray(E, dtype=float), s0, s1, Er, Ei, NUMPY)


def _constant(E, s0, s1, Er, Ei, ops):
    return ops.constant(s0, E)


def _constant_d(E, s0, s1, Er, Ei, ops):
    return ops.zero(E)


def _t(E, Er, Ei, ops):
    return ops.clip((E - Er) / (Ei - Er), 0.0, 1.0)


def _linear(E, s0, s1, Er, Ei, ops):
    return s0 + (s1 - s0) * _t(E, Er, Ei, ops)


def _linear_d(E, s0, s1, Er, Ei, ops):
    return ops.between(E, Er, Ei, (s1 - s0) / (Ei - Er), 0.0)


def _smoothstep(E, s0, s1, Er, Ei, ops):
    t = _t(E, Er, Ei, ops)
    return s0 + (s1 - s0) * t**3 * (t * (6.0 * t - 15.0) + 10.0)


def _smoothstep_d(E, s0, s1, Er, Ei, ops):
    t = _t(E, Er, Ei, ops)
    return (s1 - s0) * 30.0 * t**2 * (1.0 - t) ** 2 / (Ei - Er)


def _sigmoid_parts(E, Er, Ei, ops):
    A = 0.5 * (Er + Ei)
    B = (Ei - Er) / SIGMOID_C
    x = ops.clip(-(E - A) / B, -700.0, 700.0)
    return SIGMOID_D * ops.exp(x), B


def _sigmoid(E, s0, s1, Er, Ei, ops):
    q, _ = _sigmoid_parts(E, Er, Ei, ops)
    return s0 + (s1 - s0) / (1.0 + q)


def _sigmoid_d(E, s0, s1, Er, Ei, ops):
    q, B = _sigmoid_parts(E, Er, Ei, ops)
    # q / (1 + q) / (1 + q), not q / (1 + q)**2: the square overflows for q up to exp(700)
    # (far below E_rev), the quotients never do (no RuntimeWarning on stderr)
    return (s1 - s0) * (q / (1.0 + q)) / (1.0 + q) / B


MODELS: dict[str, ConductivityModel] = {
    m.name: m
    for m in (
        ConductivityModel("constant", _constant, _constant_d, "sigma = sigma0"),
        ConductivityModel("linear", _linear, _linear_d,
                          "sigma = sigma0 + (sigma1-sigma0) clip((E-E_rev)/(E_irr-E_rev), 0, 1)"),
        ConductivityModel("smoothstep", _smoothstep, _smoothstep_d,
                          "sigma = sigma0 + (sigma1-sigma0) (6t^5-15t^4+10t^3), t = clip((E-E_rev)/(E_irr-E_rev), 0, 1)"),
        ConductivityModel("sigmoid", _sigmoid, _sigmoid_d,
                          "sigma = sigma0 + (sigma1-sigma0)/(1 + 10 exp(-(E-A)/B)), A = (E_rev+E_irr)/2, B = (E_irr-E_rev)/8"),
    )
}


def get_model(name: str) -> ConductivityModel:
    """Look a model up by name; ``KeyError`` lists the valid names."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown conductivity model {name!r}; valid: {', '.join(MODELS)}") from None


def _broadcast_scalar(a) -> bool:
    """A 1-D array whose entries all share one memory location (np.broadcast_to of a value)."""
    a = np.asarray(a)
    return a.ndim == 1 and a.size > 0 and a.strides[0] == 0


@dataclass(frozen=True)
class CellConductivity:
    """Per-cell conductivity law: parameter arrays (one entry per cell, SI) and model per cell.

    ``model_index[c]`` indexes ``models``; ``scale[c]`` multiplies sigma (temperature factor
    1 + alpha dT, 1 by default).
    """

    sigma0: np.ndarray
    sigma1: np.ndarray
    E_rev: np.ndarray
    E_irr: np.ndarray
    model_index: np.ndarray
    models: tuple[str, ...]
    scale: np.ndarray | None = None

    @cached_property
    def _parts(self) -> list:
        """(cells, model, parameters) per model, gathered once (a Newton step evaluates the
        law several times). ``cells`` is None when a model covers every cell; a parameter that
        is one value broadcast over all cells (pipeline.cell_law) is kept as that scalar."""
        parts = []
        M = len(self.model_index)
        for k, name in enumerate(self.models):
            cells = np.flatnonzero(self.model_index == k)
            if cells.size == 0:
                continue
            params = (self.sigma0, self.sigma1, self.E_rev, self.E_irr)
            if cells.size == M:
                cells = None
                params = tuple(np.float64(a[0]) if _broadcast_scalar(a) else a for a in params)
            else:
                params = tuple(a[cells] for a in params)
            parts.append((cells, get_model(name), params))
        return parts

    def _apply(self, E: np.ndarray, which: str) -> np.ndarray:
        """Evaluate sigma or dsigma/dE for E of shape (M,) or (M, Q)."""
        E = np.asarray(E, dtype=float)
        extra = (slice(None),) + (None,) * (E.ndim - 1)
        out = np.empty_like(E)
        for cells, model, params in self._parts:
            fn = model.sigma if which == "sigma" else model.dsigma
            p = [a if np.ndim(a) == 0 else a[extra] for a in params]
            # in blocks of cells (elementwise laws: the same values as on the whole array)
            n = len(E) if cells is None else len(cells)
            for c in range(0, n, LAW_CHUNK):
                sl = slice(c, c + LAW_CHUNK)
                pc = [a if np.ndim(a) == 0 else a[sl] for a in p]
                if cells is None:
                    out[sl] = fn(E[sl], *pc)
                else:
                    cc = cells[sl]
                    out[cc] = fn(E[cc], *pc)
        if self.scale is not None:
            out *= self.scale[extra]
        return out

    def sigma(self, E: np.ndarray) -> np.ndarray:
        """Conductivity (S/m) at field magnitude E (V/m), per cell."""
        return self._apply(E, "sigma")

    def dsigma(self, E: np.ndarray) -> np.ndarray:
        """d sigma / d E (S/m per V/m), per cell."""
        return self._apply(E, "dsigma")

    def with_scale(self, scale: np.ndarray | None) -> "CellConductivity":
        """A copy whose sigma is multiplied by ``scale`` per cell (temperature factor)."""
        from dataclasses import replace
        return replace(self, scale=scale)
