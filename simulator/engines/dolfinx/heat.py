"""The Pennes heat operator on the DOLFINx engine: UFL forms, PETSc solves, MPI parallel.

The same discrete operator as the embedded engine (:mod:`simulator.engines.embedded.heat`),
assembled from forms on the engine's distributed mesh in its own P1 space (whatever the field
degree):

* stiffness ``K = k grad(u) . grad(v) dx`` (k per cell, DG0);
* lumped heat capacity, perfusion and skin exchange: the assembled vectors of
  ``rho c v dx``, ``rho_b c_b w_b v dx`` and ``h v ds(skin)`` (the row sums of the mass
  matrices; exact with the centroid / facet rules used, as the integrands are linear).

The time stepping (:mod:`simulator.solve.thermal`) works on nodal vectors in the input vertex
order, the same on every rank; this operator scatters a right-hand side into its owned DOFs,
solves and gathers the solution back (``Allgatherv``). Steps: CG + Jacobi on
``C/dt + K + P + H`` (one matrix per step length); steady state: CG + BoomerAMG on
``K + P + H``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.engines.dolfinx import compat as dc
from simulator.errors import ConvergenceError
from simulator.physics.bioheat import HeatOperator

dolfinx, ufl, PETSc, MPI = dc.dolfinx, dc.ufl, dc.PETSc, dc.MPI

STEP_RTOL = 1e-12        # relative to |b|: below the embedded engine's 1e-11
STEADY_RTOL = 1e-12
SKIN_TAG = 1


@dataclass
class DolfinxHeatOperator(HeatOperator):
    """HeatOperator with the PETSc stiffness of a :class:`DolfinxEngine` mesh."""

    comm: object = None
    K: object = None                                  # PETSc Mat (owned rows)
    diagonal: dict = field(default_factory=dict)      # "capacity" / "perfusion" / "exchange" -> owned values
    own_orig: np.ndarray = None                       # (owned DOFs,) input vertex of each
    gather_order: np.ndarray = None                   # input vertex of each gathered entry
    gather_counts: list = None
    _solvers: dict = field(default_factory=dict, repr=False)

    def _gather(self, owned: np.ndarray) -> np.ndarray:
        out = np.empty(self.num_nodes)
        if self.comm.size == 1:
            out[self.own_orig] = owned
            return out
        buf = np.empty(int(sum(self.gather_counts)))
        self.comm.Allgatherv(np.ascontiguousarray(owned), [buf, self.gather_counts])
        out[self.gather_order] = buf
        return out

    def _solve(self, key, diag_extra: np.ndarray, pc: str, rtol: float, b: np.ndarray, x0: np.ndarray):
        entry = self._solvers.get(key)
        if entry is None:
            A = self.K.copy()
            d = self.K.getDiagonal()
            d.array[:] += diag_extra
            A.setDiagonal(d)
            ksp = PETSc.KSP().create(self.comm)
            ksp.setOperators(A)
            ksp.setType("cg")
            ksp.getPC().setType(pc)
            if pc == "hypre":
                ksp.getPC().setHYPREType("boomeramg")
            ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
            ksp.setTolerances(rtol=rtol, atol=0.0, max_it=5000)
            ksp.setInitialGuessNonzero(True)
            entry = self._solvers[key] = (A, ksp, A.createVecRight(), A.createVecLeft())
        A, ksp, x, rhs = entry
        rhs.array[:] = b[self.own_orig]
        x.array[:] = x0[self.own_orig]
        ksp.solve(rhs, x)
        if ksp.getConvergedReason() < 0:
            raise ConvergenceError("heat equation (dolfinx CG)", ksp.getIterationNumber(),
                                   ksp.getResidualNorm() / max(rhs.norm(), 1e-300),
                                   f"PETSc reason {ksp.getConvergedReason()}")
        return self._gather(x.array_r.copy())

    def solve_step(self, dt: float, b: np.ndarray, x0: np.ndarray) -> np.ndarray:
        d = self.diagonal
        return self._solve(("step", dt), d["capacity"] / dt + d["perfusion"] + d["exchange"], "jacobi",
                           STEP_RTOL, b, x0)

    def solve_steady(self, b: np.ndarray, x0: np.ndarray) -> np.ndarray:
        d = self.diagonal
        return self._solve("steady", d["perfusion"] + d["exchange"], "hypre", STEADY_RTOL, b, x0)


def assemble_heat(eng, conductivity, rho_c, perfusion, skin, skin_h: float) -> DolfinxHeatOperator:
    """The operator on ``eng`` (a DolfinxEngine): per-cell k, rho c, perfusion on rank 0 (input
    cell order), skin (F, 3) input vertex triples, skin_h W/(m^2 K)."""
    comm, msh = eng.comm, eng.msh
    V1 = dc.function_space(msh, "Lagrange", 1)
    W0 = eng.W0
    coef = {}
    for name, values in (("k", conductivity), ("rho_c", rho_c), ("w", perfusion)):
        f = dolfinx.fem.Function(W0)
        arr = None if comm.rank != 0 else np.broadcast_to(np.asarray(values, dtype=np.float64), (eng.num_cells,))
        eng._set_dg0(f, eng._bcast_cells(arr, ()))
        coef[name] = f
    skin = comm.bcast(np.asarray(skin, dtype=np.int64).reshape(-1, 3) if comm.rank == 0 else None, root=0)
    h = comm.bcast(float(skin_h) if comm.rank == 0 else None, root=0)
    facets = eng.local_facets(skin)
    facets = np.sort(facets[facets < eng.n_own_facets])        # owned only: each counted once
    tags = dc.meshtags(msh, 2, facets.astype(np.int32), np.full(facets.size, SKIN_TAG, dtype=np.int32))
    ds = ufl.Measure("ds", domain=msh, subdomain_data=tags)
    u, v = ufl.TrialFunction(V1), ufl.TestFunction(V1)
    dx = eng.dx                                                 # centroid rule: exact here
    K = dc.assemble_matrix(dc.form(coef["k"] * ufl.inner(ufl.grad(u), ufl.grad(v)) * dx))
    K.assemble()
    n_own = V1.dofmap.index_map.size_local

    def lumped(expr) -> np.ndarray:
        vec = dc.assemble_vector(dc.form(expr))
        vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        return vec.array_r[:n_own].copy()

    diagonal = {"capacity": lumped(coef["rho_c"] * v * dx), "perfusion": lumped(coef["w"] * v * dx),
                "exchange": lumped(dolfinx.fem.Constant(msh, PETSc.ScalarType(h)) * v * ds(SKIN_TAG))}
    # owned DOF -> input vertex (P1: DOFs are vertices; the cell-local order is the geometry's)
    dm1 = dc.space_dofmap(V1)[: eng._gdm_orig.shape[0]]
    nloc = n_own + V1.dofmap.index_map.num_ghosts
    dof_orig = np.full(nloc, -1, dtype=np.int64)
    dof_orig[dm1] = eng._gdm_orig
    own_orig = dof_orig[:n_own]
    counts = comm.allgather(n_own)
    order = np.concatenate(comm.allgather(own_orig))
    if order.size != eng.num_points or np.unique(order).size != eng.num_points:
        raise ValueError(f"heat operator: {order.size} owned P1 DOFs for {eng.num_points} mesh vertices")
    tets = eng._tets0 if comm.rank == 0 else None
    vol = eng._volumes if comm.rank == 0 else None
    tets, vol = dc.bcast_array(comm, tets), dc.bcast_array(comm, vol)
    op = DolfinxHeatOperator(tets, vol, np.zeros(eng.num_points), np.zeros(eng.num_points),
                             np.zeros(eng.num_points), comm=comm, K=K, diagonal=diagonal, own_orig=own_orig,
                             gather_order=order, gather_counts=counts)
    op.capacity = op._gather(diagonal["capacity"])
    op.perfusion = op._gather(diagonal["perfusion"])
    op.exchange = op._gather(diagonal["exchange"])
    return op
