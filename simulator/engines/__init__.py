"""FE engines by name: ``embedded`` (numpy/scipy/pyamg, always available) and ``dolfinx``."""
from __future__ import annotations

from ..errors import ScenarioError
from .base import Engine, FieldSolution, PulseConfiguration, SolverSettings

ENGINES = ("embedded", "dolfinx")


def create_engine(name: str, mesh, settings: SolverSettings) -> Engine:
    """Instantiate an engine by name on a mesh; unknown names list the valid ones."""
    if name == "embedded":
        from .embedded import EmbeddedEngine
        return EmbeddedEngine(mesh, settings)
    if name == "dolfinx":
        from .dolfinx_engine import DolfinxEngine
        return DolfinxEngine(mesh, settings)
    raise ScenarioError("solver.engine", f"unknown engine {name!r}; valid: {', '.join(ENGINES)}")


__all__ = ["Engine", "FieldSolution", "PulseConfiguration", "SolverSettings", "create_engine", "ENGINES"]
