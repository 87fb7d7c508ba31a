"""Warm starts of a study's runs from a nominal run (``epsim robustness``).

The samples of a robustness study are the nominal scenario with its needles moved a little
(a new mesh each) or its materials scaled (the same mesh). Each configuration's field of a
sample is close to the nominal's, so its Newton solve starts from the nominal's converged
potential instead of the linear solve at sigma(E = 0):

* same mesh (parameter-only draws): the nominal potential itself;
* another mesh (placement draws): the nominal P1 vertex potential interpolated at the
  sample's vertices (solve.transfer) in the electrode's frame, so that the field moves with
  the needles, where it is steepest: each sample point x is sampled on the nominal mesh at
  the place that holds the same position relative to the needles (``frame_map``).

A transferred start's error is mostly mesh-scale noise (two meshes' P1 interpolants
differ cell by cell: its residual is as large as the linear start's), so its first Newton
step is solved by ``START_SWEEPS`` Gauss-Seidel sweeps, which remove it, rather than AMG-CG
(the engines' ``start_sweeps``). The start is scaled by V_sample / V_nominal when the
voltages differ. Only the start changes: Newton stops at the scenario's own tolerance, as a cold run does (the energy is
convex and the line search exact, so it reaches the same minimiser from any start; the
rows agree with cold runs to ~1e-6, tests/test_robustness.py).

:class:`Recorder` keeps a run's converged potentials (the nominal run), :class:`Nominal` is
what a worker receives once (the nominal mesh's vertices and cells, its contacts' entry
points and axes, the potentials), :class:`NominalStarts` is the engine wrapper that supplies
``initial`` to a sample's solves.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

import numpy as np

from simulator.engines.base import EngineWrapper, FieldSolution, PulseConfiguration
from simulator.studies.scaling import scaled
from simulator.solve.transfer import START_SWEEPS

Placement = dict[str, tuple[np.ndarray, np.ndarray]]     # contact -> (entry (3,) m, unit axis (3,))


def placement_of(electrode) -> Placement:
    """Each contact's entry point at the skin (m) and unit axis into the tissue: a needle's
    own; a plate's centre at the skin and -z."""
    out: Placement = {}
    for c in electrode.contacts:
        if hasattr(c, "axis"):
            out[c.name] = (np.asarray(c.entry, dtype=float), np.asarray(c.axis, dtype=float))
        else:
            out[c.name] = (np.array([c.centre[0], c.centre[1], 0.0]), np.array([0.0, 0.0, -1.0]))
    return out


def frame_map(nominal: Placement, sample: Placement, contacts):
    """The map from sample points (K, 3) m to the nominal points at the same place relative
    to ``contacts`` (their mean entry point and mean axis in each placement), or None when
    they did not move.

    A point at depth h below the sample's mean entry e1 lies at distance d = h / (-a1_z)
    along the sample's axis a1; its nominal counterpart is at the same distance d along the
    nominal axis a0 from e0, offset across the axis as in the sample:
    x0 = x - (e1 + d a1) + (e0 + d a0). With no tilt this is the inverse shift x - (e1 - e0).
    epsim tilts each needle about its own entry point (electrodes.contacts.Needle), so for
    a tilted array this shear, not a rotation about one point, takes every needle's axis of
    the sample onto its nominal axis. The map is used for one configuration: the contacts
    that fire in it (every application of a session has its own placement)."""
    frame = _frame(nominal, sample, contacts)
    return None if frame is None else _map(frame)


def _map(frame: tuple[np.ndarray, ...]):
    shift, z1, a0, a1 = frame

    def to_nominal(x: np.ndarray) -> np.ndarray:
        d = (z1 - x[:, 2]) / -a1[2]                         # distance along the sample axis
        return x - shift - d[:, None] * (a1 - a0)           # = x - (e1 + d a1) + (e0 + d a0)
    return to_nominal


def _frame(nominal: Placement, sample: Placement, contacts) -> tuple[np.ndarray, ...] | None:
    """What :func:`frame_map` depends on: shift e1 - e0, sample entry height e1_z, axes a0
    and a1, rounded to 1e-12 (m) so that the configurations of one application (their mean
    entries differ, their motion does not) share one map, whichever is solved first; None
    when nothing moved."""
    names = [c for c in contacts if c in nominal and c in sample]
    if not names:
        return None
    e0 = np.mean([nominal[c][0] for c in names], axis=0)
    e1 = np.mean([sample[c][0] for c in names], axis=0)
    a0 = np.mean([nominal[c][1] for c in names], axis=0)
    a1 = np.mean([sample[c][1] for c in names], axis=0)
    a0, a1 = a0 / np.linalg.norm(a0), a1 / np.linalg.norm(a1)
    shift, a0, a1 = (np.round(v, 12) for v in (e1 - e0, a0, a1))
    if not shift.any() and np.array_equal(a0, a1):
        return None
    return shift, np.round(e1[2:], 12), a0, a1


def _key(config: PulseConfiguration) -> PulseConfiguration:
    return replace(config, voltage=1.0)


class Recorder(EngineWrapper):
    """An engine wrapper that keeps the converged potential of every configuration solved
    (the nominal run's, for :class:`Nominal`)."""

    def __init__(self, engine):
        super().__init__(engine)
        self.solutions: dict[PulseConfiguration, tuple[float, FieldSolution]] = {}   # at 1 V: (V, solution)
        self._lock = threading.Lock()

    def solve_stationary(self, config, law, sigma_floor=None, initial=None, **kw) -> FieldSolution:
        sol = self._engine.solve_stationary(config, law, sigma_floor, initial, **kw)
        if sigma_floor is None:
            with self._lock:
                self.solutions[_key(config)] = (float(config.voltage), sol.potentials_only())
        return sol


@dataclass
class Nominal:
    """The nominal run as a start for the samples: its mesh's key, vertices (N, 3) m and
    cells (M, 4), its contacts' placement and each configuration's solution (potentials in
    V; keyed by the configuration at 1 V, ``voltage`` of the solution's own)."""

    mesh_key: str
    points: np.ndarray
    tets: np.ndarray
    placement: Placement
    solutions: dict[PulseConfiguration, tuple[float, FieldSolution]]
    _locator: object = field(default=None, repr=False, compare=False)
    _weights: dict = field(default_factory=dict, repr=False, compare=False)   # one mesh's located points
    _lock: object = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def of(cls, mesh_key: str, mesh, electrode, recorder: Recorder) -> "Nominal":
        """From the nominal run's mesh, electrode and the recorder of its engine."""
        return cls(mesh_key, mesh.points, mesh.tets, placement_of(electrode), dict(recorder.solutions))

    def __getstate__(self):                      # the locator is rebuilt where it is used
        state = dict(self.__dict__)
        state["_locator"], state["_weights"], state["_lock"] = None, {}, None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def locator(self):
        """The point locator of the nominal mesh (built once per process)."""
        if self._locator is None:
            from simulator.meshing.mesh import Mesh
            from simulator.solve.transfer import PointLocator
            cells = np.zeros(len(self.tets), dtype=np.int32)
            self._locator = PointLocator(Mesh(self.points, self.tets, cells, ()))
        return self._locator

    def start(self, config: PulseConfiguration, mesh, mesh_key: str, dofs: int,
              placement: Placement) -> FieldSolution | None:
        """A Newton start for ``config`` on ``mesh`` (an engine of ``dofs`` DOFs): the
        nominal solution (module docstring); None when the nominal has no such configuration
        or cannot give one (a P2 space on another mesh)."""
        from simulator.solve.transfer import transferred
        got = self.solutions.get(_key(config))
        if got is None or got[0] == 0.0:
            return None
        v0, sol = got
        factor = config.voltage / v0
        if mesh_key == self.mesh_key and dofs == sol.dofs:
            start = sol
        else:
            contacts = config.anode + config.cathode
            frame = _frame(self.placement, placement, contacts)
            # the configurations of one application share its frame: locate the points once
            key = (mesh_key, None if frame is None else np.concatenate(frame).tobytes())
            with self._lock:                            # the configurations may run on threads
                if key[0] not in {k[0] for k in self._weights}:
                    self._weights.clear()               # another sample's mesh: let the last go
                locator = self.locator()
                if key not in self._weights and dofs == mesh.num_points:
                    x = mesh.points if frame is None else _map(frame)(mesh.points)
                    self._weights[key] = locator.weights(x)
                weights = self._weights.get(key)
            start = transferred(sol, locator, mesh, dofs, weights=weights)
            if start is None:
                return None
        return start if factor == 1.0 else scaled(start, factor)


class NominalStarts(EngineWrapper):
    """An engine wrapper for one sample's run: each solve without a start of its own starts
    from the nominal (:meth:`Nominal.start`); ``starts`` counts them."""

    def __init__(self, engine, nominal: Nominal, mesh, mesh_key: str, electrode):
        super().__init__(engine)
        self._nominal, self._mesh, self._mesh_key = nominal, mesh, mesh_key
        self._placement = placement_of(electrode)
        self.starts = 0

    def solve_stationary(self, config, law, sigma_floor=None, initial=None, **kw) -> FieldSolution:
        if initial is None and sigma_floor is None:
            initial = self._nominal.start(config, self._mesh, self._mesh_key, self._engine.dofs, self._placement)
            self.starts += initial is not None
            if initial is not None and self._mesh_key != self._nominal.mesh_key:
                kw.setdefault("start_sweeps", START_SWEEPS)
        return self._engine.solve_stationary(config, law, sigma_floor, initial, **kw)
