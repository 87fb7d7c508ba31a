"""Error hierarchy of epsim.

Every error raised on bad user input is a :class:`ScenarioError` naming the offending
field and value in one line; the CLI turns it into exit code 2.
"""
from __future__ import annotations


class EpsimError(Exception):
    """Base class of all epsim errors."""


class ScenarioError(EpsimError, ValueError):
    """Bad input: names the scenario field (dotted path) and the offending value."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)

    def __reduce__(self):          # picklable (MPI broadcast of an error from rank 0)
        return (type(self), (self.field, self.message))


class GeometryError(ScenarioError):
    """Geometry that cannot be built or meshed (overlap, outside the block, ...)."""


class EngineUnavailableError(ScenarioError):
    """The requested engine cannot be imported on this machine."""


class ResourceError(ScenarioError):
    """The problem would not fit in the memory allowed."""


class ConvergenceError(EpsimError, RuntimeError):
    """A linear or nonlinear solve did not converge; carries iterations and residual."""

    def __init__(self, what: str, iterations: int, residual: float, message: str = ""):
        self.what = what
        self.iterations = iterations
        self.residual = residual
        text = f"{what} did not converge after {iterations} iterations (residual {residual:.3e})"
        self.message = message
        super().__init__(text + (f": {message}" if message else ""))

    def __reduce__(self):
        return (type(self), (self.what, self.iterations, self.residual, self.message))
