"""The embedded engine: NumPy/SciPy assembly and pyamg-preconditioned CG (pip-only).

Owns: :mod:`~simulator.engines.embedded.engine`, the FE spaces
(:mod:`~simulator.engines.embedded.spaces`), reduced systems for Dirichlet and floating
contacts (:mod:`~simulator.engines.embedded.reduced`) and the BLAS thread limit
(:mod:`~simulator.engines.embedded.blas`).
"""
from simulator.engines.embedded.engine import EmbeddedEngine

__all__ = ["EmbeddedEngine"]
