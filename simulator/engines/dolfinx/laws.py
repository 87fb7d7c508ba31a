"""The conductivity laws as UFL expressions, from the same definitions the NumPy path uses
(:data:`simulator.physics.conductivity.MODELS`): only the operations differ."""
from __future__ import annotations

import ufl

from simulator.physics.conductivity import CellConductivity, get_model


class UflOps:
    """UFL counterparts of :class:`simulator.physics.conductivity.NumpyOps`."""

    @staticmethod
    def clip(x, lo: float, hi: float):
        return ufl.max_value(lo, ufl.min_value(hi, x))

    @staticmethod
    def exp(x):
        return ufl.exp(x)

    @staticmethod
    def between(x, lo, hi, inside, outside: float = 0.0):
        return ufl.conditional(ufl.And(ufl.gt(x, lo), ufl.lt(x, hi)), inside, outside)

    @staticmethod
    def constant(value, like):
        return value

    @staticmethod
    def zero(like):
        return ufl.as_ufl(0.0)


UFL = UflOps()


def ufl_conductivity(law: CellConductivity, E, params: dict):
    """sigma(E) and dsigma/dE as UFL expressions.

    ``params``: DG0 functions ``s0, s1, Er, Ei`` (law parameters), ``mi`` (model index per
    cell, into ``law.models``) and ``scale`` (temperature factor, used when ``law.scale`` is
    set). ``E`` is the (regularised) field magnitude expression.
    """
    s0, s1, Er, Ei, mi = (params[k] for k in ("s0", "s1", "Er", "Ei", "mi"))
    sig = dsig = None
    for k, name in reversed(list(enumerate(law.models))):
        model = get_model(name)
        sk, dk = model.law(E, s0, s1, Er, Ei, UFL), model.derivative(E, s0, s1, Er, Ei, UFL)
        if sig is None:
            sig, dsig = sk, dk
        else:
            cond = ufl.lt(abs(mi - float(k)), 0.5)
            sig = ufl.conditional(cond, sk, sig)
            dsig = ufl.conditional(cond, dk, dsig)
    if law.scale is not None:
        sig, dsig = params["scale"] * sig, params["scale"] * dsig
    return sig, dsig
