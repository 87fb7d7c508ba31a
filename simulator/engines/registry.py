"""Engines by name: one list of names, looked up (and imported) on demand.

An engine is a class implementing :class:`simulator.engines.base.Engine`, constructed as
``cls(mesh, settings)``. New engines register with :func:`register_engine`.
"""
from __future__ import annotations

import importlib

from simulator.errors import ScenarioError

_ENGINES: dict[str, tuple[str, str, str]] = {
    "embedded": ("simulator.engines.embedded.engine", "EmbeddedEngine", "NumPy/SciPy + pyamg CG, pip-only"),
    "dolfinx": ("simulator.engines.dolfinx.engine", "DolfinxEngine", "DOLFINx + PETSc CG/BoomerAMG, MPI"),
}


def engine_names() -> tuple[str, ...]:
    """The registered engine names, in registration order."""
    return tuple(_ENGINES)


def register_engine(name: str, module: str, cls: str, description: str = "") -> None:
    """Make ``module.cls`` available as engine ``name``."""
    _ENGINES[name] = (module, cls, description)


def check_engine_name(name: str, field: str = "solver.engine") -> str:
    """``name`` if registered, else a ScenarioError on ``field`` listing the valid names."""
    if name not in _ENGINES:
        raise ScenarioError(field, f"unknown engine {name!r}; valid: {', '.join(_ENGINES)}")
    return name


def engine_class(name: str):
    """The engine class (imports its module: may raise EngineUnavailableError)."""
    module, cls, _ = _ENGINES[check_engine_name(name)]
    return getattr(importlib.import_module(module), cls)


def create_engine(name: str, mesh, settings):
    """Instantiate engine ``name`` on a mesh."""
    return engine_class(name)(mesh, settings)
