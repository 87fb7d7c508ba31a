"""DOLFINx engine: P1/P2 Lagrange, PETSc CG + hypre BoomerAMG, MPI parallel.

The numpy :class:`~simulator.meshing.mesh.Mesh` lives on rank 0; the engine distributes it with
``dolfinx.mesh.create_mesh`` and gathers every result back in the *original* cell and
vertex order, then broadcasts it, so all ranks return the same :class:`FieldSolution`.

Algebra (both problems share it):

* Floating contacts are merged into one unknown each by a prolongation ``P`` (n x n):
  ``P = I + sum_i e_i e_{r_k}^T`` over the DOFs ``i != r_k`` of floating contact ``k``
  (``r_k``: its smallest global index). The reduced operator is ``P^T J P`` and the
  reduced residual ``P^T F``; the "dead" unknowns ``x_i`` (``i`` in a contact,
  ``i != r_k``) are fixed to 0, so ``phi_i = (P x)_i = x_{r_k}``. This is exact: the
  contact is one conductor with one potential and its row of ``P^T F`` is its net
  current, driven to zero with the other residuals.
* Anode/cathode DOFs are Dirichlet (identity rows and columns, zero update).
* The stationary problem minimises the convex energy ``W(phi) = int Psi(|grad phi|)``,
  ``Psi'(E) = sigma(E) E``, by Newton with an exact line search on
  ``d(alpha) = F(phi + alpha D)[D]`` (increasing in alpha). Convergence:
  ``||P^T F||_free <= rtol ||F||_Dirichlet``.
* ``E`` in sigma(E) and in the Jacobian is regularised as ``sqrt(|grad phi|^2 + eps^2)``
  with ``eps = 1e-9 |V| / diameter``: it only matters where the field vanishes (sigma is
  flat there), makes ``sigma'(E)/E`` finite and keeps Newton exact for the regularised
  energy. Reported E is the unregularised ``|grad phi|``.
* Sample points: P1 one per cell (centroid, quadrature degree 0 -- exact for P1 with
  cellwise sigma); P2 the 4-point degree-2 rule (the forms use the same rule, so the
  sigma at the sample points is the sigma of the discrete problem).
* A second-order mesh (``mesh.order == 2``) is created with a P2 coordinate element from
  its 10-node cells (:func:`curved_cells`): the forms then integrate on the curved cells and
  the sample-point volumes are |det J| x the rule's weights, as the embedded engine's
  isoparametric P2 space (the two agree to ~1e-14, tests/test_curved.py).
"""
from __future__ import annotations

import time

import numpy as np

from simulator.physics.conductivity import CellConductivity
from simulator.engines.line_search import exact_line_search
from simulator.errors import ConvergenceError, ScenarioError
from simulator.meshing.mesh import Mesh
from simulator.engines.base import FieldSolution, PulseConfiguration, SolverSettings
from simulator.engines.dolfinx import compat as dc
from simulator.engines.dolfinx.laws import ufl_conductivity  # after compat: its clear error first

dolfinx, ufl, PETSc, MPI = dc.dolfinx, dc.ufl, dc.PETSc, dc.MPI

EPS_REL = 1e-9       # E regularisation relative to |V| / domain diameter
_engine_counter = [0]


def load_dolfinx():
    """(dolfinx, ufl, PETSc, MPI), or EngineUnavailableError with install instructions."""
    return dc.load_dolfinx()


_bcast_array = dc.bcast_array


def basix_topology_edges():
    """Vertex pairs of the reference tetrahedron's edges, in DOLFINx/basix order."""
    import basix
    return basix.topology(basix.CellType.tetrahedron)[1]


def curved_cells(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """A second-order mesh as DOLFINx input: (M, 10) cells (the 4 vertices, then the mid-edge
    node of each edge in basix's reference order) and the (N + E, 3) nodes (vertices, then
    ``mesh.edge_points``)."""
    from simulator.meshing.mesh import TET_EDGES, edge_table
    edges, cell_edges = edge_table(mesh.tets, mesh.num_points)
    if not np.array_equal(edges, mesh.edges):
        raise ValueError("the mesh's edges are not those of its tets (edge_table order)")
    slot = [int(np.flatnonzero((TET_EDGES == sorted(e)).all(axis=1))[0]) for e in basix_topology_edges()]
    cells = np.concatenate([mesh.tets, mesh.num_points + cell_edges[:, slot]], axis=1).astype(np.int64)
    return cells, np.ascontiguousarray(np.concatenate([mesh.points, mesh.edge_points]), dtype=np.float64)


def keys_of_mesh_edges(tets: np.ndarray, n: int) -> np.ndarray:
    """lo * n + hi of the 6 edges of every tetrahedron (with repeats)."""
    pairs = tets[:, [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]]
    return (pairs.min(axis=2) * n + pairs.max(axis=2)).ravel()


class DolfinxEngine:
    """Engine protocol implementation on DOLFINx (see module docstring)."""

    name = "dolfinx"

    def __init__(self, mesh: Mesh | None, settings: SolverSettings | None = None, comm=None):
        t0 = time.perf_counter()
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.settings = settings if settings is not None else SolverSettings()
        if self.settings.degree not in (1, 2):
            raise ScenarioError("solver.degree", f"must be 1 or 2, got {self.settings.degree!r}")
        comm, rank = self.comm, self.comm.rank
        self.degree = int(self.settings.degree)

        # --- rank-0 data and what every rank needs
        if rank == 0:
            if mesh is None:
                raise ValueError("rank 0 must hold the mesh")
            points = np.ascontiguousarray(mesh.points, dtype=np.float64)
            tets = np.ascontiguousarray(mesh.tets, dtype=np.int64)
            contacts = {k: np.sort(np.asarray(v, dtype=np.int64), axis=1)
                        for k, v in mesh.contact_facets.items()}
            meta = dict(M=mesh.num_cells, N=mesh.num_points, regions=mesh.regions, order=mesh.order,
                        contacts=contacts,
                        diameter=float(np.linalg.norm(points.max(0) - points.min(0))))
            self._volumes = mesh.volumes()
            self._tets0 = tets
        else:
            self._tets0 = None
            points = np.empty((0, 3), dtype=np.float64)
            tets = np.empty((0, 4), dtype=np.int64)
            meta = None
            self._volumes = None
        meta = comm.bcast(meta, root=0)
        self.order = int(meta["order"])
        if self.order == 2 and rank == 0:       # 10-node cells: vertices, then basix's edges
            tets, points = curved_cells(mesh)
        self.num_cells, self.num_points = meta["M"], meta["N"]
        self.regions = meta["regions"]
        self.contact_names = tuple(meta["contacts"])
        self.diameter = meta["diameter"]

        # --- distributed mesh and the maps back to input numbering
        if self.order == 2 and rank != 0:
            tets = np.empty((0, 10), dtype=np.int64)
        msh = dc.create_mesh(comm, tets, points, self.order)
        self.msh = msh
        top = msh.topology
        top.create_connectivity(3, 0)
        self.n_own_cells = top.index_map(3).size_local
        self.cell_orig = dc.original_cell_index(msh)            # local cell -> input cell
        n_local_cells = self.cell_orig.shape[0]
        c2v = dc.adjacency_array(top.connectivity(3, 0), 4)[:n_local_cells]
        gdm = dc.geometry_dofmap(msh)[:n_local_cells, :4]          # the vertices
        igi = np.asarray(msh.geometry.input_global_indices, dtype=np.int64)
        nverts = top.index_map(0).size_local + top.index_map(0).num_ghosts
        vorig = np.full(nverts, -1, dtype=np.int64)
        vorig[c2v] = igi[gdm]
        self._gdm_orig = igi[gdm]                                # (cells, 4) input vertex ids

        # --- contact facets: match sorted input-vertex triples
        top.create_entities(2)
        top.create_connectivity(2, 0)
        f2v = dc.adjacency_array(top.connectivity(2, 0), 3)
        ftri = np.sort(vorig[f2v], axis=1)
        self._ftri = ftri
        self.contact_facets_local = {cname: self.local_facets(tri) for cname, tri in meta["contacts"].items()}
        n_own_facets = self.n_own_facets = top.index_map(2).size_local
        for k, tri in meta["contacts"].items():
            found = comm.allreduce(int(np.sum(self.contact_facets_local[k] < n_own_facets)),
                                   op=MPI.SUM)
            if found != len(np.unique(tri, axis=0)):
                raise ValueError(f"contact {k!r}: {found} of its {len(tri)} facets are "
                                 "facets of the mesh")

        # --- spaces
        self.V = dc.function_space(msh, "Lagrange", self.degree)
        self.W0 = dc.function_space(msh, "DG", 0)
        self.qdeg = 0 if self.degree == 1 else 2
        self.qpoints, qw = dc.quadrature_rule(self.qdeg)
        self.Q = self.qpoints.shape[0]
        self.qweights = qw * 6.0                                 # sum to 1: volume fractions
        # order the sample points so that point q is the one nearest to cell vertex q (as
        # the embedded engine's rule); output column k = FFCx/basix point qorder[k]
        lam = np.column_stack([1.0 - self.qpoints.sum(axis=1), self.qpoints])
        near = np.argmax(lam, axis=1)
        self.qorder = (np.argsort(near, kind="stable") if np.unique(near).size == near.size
                       else np.arange(self.qpoints.shape[0]))
        self.Vq = self.W0 if self.degree == 1 else dc.quadrature_space(msh, self.qdeg)
        self.dx = ufl.Measure("dx", domain=msh,
                              metadata={"quadrature_degree": self.qdeg,
                                        "quadrature_scheme": "default"})
        imap = self.V.dofmap.index_map
        self.n_own = imap.size_local
        self.dofs = int(imap.size_global)
        self.rstart = int(imap.local_range[0])
        nloc = imap.size_local + imap.num_ghosts
        self.l2g = np.asarray(imap.local_to_global(np.arange(nloc, dtype=np.int32)), dtype=np.int64)
        self._Vdm = dc.space_dofmap(self.V)[:n_local_cells]
        self._Wdm = dc.space_dofmap(self.W0)[:n_local_cells].ravel()
        self._Qdm = dc.space_dofmap(self.Vq)[:n_local_cells]

        self.u = dolfinx.fem.Function(self.V)
        self._uvec = dc.petsc_vec(self.u)
        self.v = ufl.TestFunction(self.V)
        self.du = ufl.TrialFunction(self.V)
        self.eps = dolfinx.fem.Constant(msh, PETSc.ScalarType(1.0))
        g = ufl.grad(self.u)
        self._Eexpr = dc.expression(ufl.sqrt(ufl.inner(g, g)), self.qpoints)
        self._weights = self._sample_weights(qw)

        # linear forms (sigma given at sample points)
        self.sig_lin = dolfinx.fem.Function(self.Vq)
        self._F_lin = dc.form(self.sig_lin * ufl.inner(g, ufl.grad(self.v)) * self.dx)
        self._J_lin = dc.form(self.sig_lin * ufl.inner(ufl.grad(self.du), ufl.grad(self.v)) * self.dx)
        self._nl_cache: dict = {}
        self._param = {k: dolfinx.fem.Function(self.W0)
                       for k in ("s0", "s1", "Er", "Ei", "mi", "scale")}
        self.floor = dolfinx.fem.Function(self.Vq)

        # linear solver
        _engine_counter[0] += 1
        self._prefix = f"epsim_dfx{_engine_counter[0]}_"
        opts = PETSc.Options()
        # 3-D settings (measured on a P2 needle mesh, 110k DOFs: 4.5 s -> 1.1 s per solve)
        for k, v in (("strong_threshold", 0.5), ("coarsen_type", "HMIS"),
                     ("interp_type", "ext+i"), ("P_max", 4)):
            opts[f"{self._prefix}pc_hypre_boomeramg_{k}"] = v
        self.ksp = PETSc.KSP().create(comm)
        self.ksp.setOptionsPrefix(self._prefix)
        self.ksp.setType("cg")
        pc = self.ksp.getPC()
        pc.setType("hypre")
        pc.setHYPREType("boomeramg")
        self.ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
        self.ksp.setTolerances(rtol=self.settings.linear_rtol, atol=0.0,
                               max_it=self.settings.linear_max_iterations)
        self.ksp.setFromOptions()
        self._bc_cache: dict = {}
        self.setup_time = time.perf_counter() - t0

    # ------------------------------------------------------------------ helpers
    def _sample_weights(self, qw: np.ndarray) -> np.ndarray | None:
        """(M, Q) volume (m^3) of each sample point, input cell order, on rank 0: the cell's
        volume x the rule's fraction (straight cells), or |det J| x the reference weight at
        each point of a curved cell (as the embedded isoparametric space)."""
        qw = np.asarray(qw, dtype=float)[self.qorder]
        if self.order == 1:
            return self._volumes[:, None] * (6.0 * qw)[None, :] if self.comm.rank == 0 else None
        e = dc.expression(abs(ufl.JacobianDeterminant(self.msh)), self.qpoints)
        own = np.arange(self.n_own_cells, dtype=np.int32)
        det = dc.eval_expression(e, self.msh, own).reshape(-1, self.Q)[:, self.qorder]
        parts = self.comm.gather((self.cell_orig[: self.n_own_cells], det), root=0)
        if self.comm.rank != 0:
            return None
        out = np.empty((self.num_cells, self.Q))
        for ci, v in parts:
            out[ci] = v
        return out * qw[None, :]

    def local_facets(self, tri: np.ndarray) -> np.ndarray:
        """Local indices of the facets (owned and ghost) whose sorted input-vertex triples are
        rows of ``tri`` (K, 3)."""
        if tri.size == 0:
            return np.empty(0, dtype=np.int32)
        tri = np.sort(np.asarray(tri, dtype=np.int64), axis=1)
        ftri = self._ftri
        cand = np.flatnonzero(np.isin(ftri, np.unique(tri)).all(axis=1))
        keys = {tuple(t) for t in tri.tolist()}
        hit = [f for f, t in zip(cand.tolist(), ftri[cand].tolist()) if tuple(t) in keys]
        return np.asarray(hit, dtype=np.int32)

    def heat_operator(self, conductivity: np.ndarray, rho_c: np.ndarray, perfusion: np.ndarray,
                      skin: np.ndarray, skin_h: float):
        """The P1 Pennes operator in UFL/PETSc (see :mod:`simulator.engines.dolfinx.heat`)."""
        from simulator.engines.dolfinx.heat import assemble_heat
        return assemble_heat(self, conductivity, rho_c, perfusion, skin, skin_h)

    def _bcast_cells(self, arr: np.ndarray | None, shape_tail: tuple) -> np.ndarray:
        err = None
        if self.comm.rank == 0:
            arr = np.asarray(arr, dtype=np.float64)
            if arr.ndim == 1 and shape_tail:
                arr = np.repeat(arr[:, None], shape_tail[0], axis=1)
            if arr.shape != (self.num_cells,) + shape_tail:
                err = (f"expected cell data of shape {(self.num_cells,) + shape_tail}, "
                       f"got {arr.shape}")
        err = self.comm.bcast(err, root=0)
        if err:                                   # raised on every rank: no deadlock
            raise ValueError(err)
        return _bcast_array(self.comm, arr)

    def _set_dg0(self, f, values_orig: np.ndarray) -> None:
        f.x.array[self._Wdm] = values_orig[self.cell_orig]

    def _set_sample(self, f, values_orig: np.ndarray) -> None:
        """values (M, Q) in input cell order into a DG0 / quadrature function."""
        v = values_orig.reshape(self.num_cells, self.Q)[self.cell_orig]
        vb = np.empty_like(v)
        vb[:, self.qorder] = v
        f.x.array[self._Qdm.reshape(-1, self.Q)] = vb

    def _owned_local(self, local_dofs: np.ndarray) -> np.ndarray:
        local_dofs = np.asarray(local_dofs, dtype=np.int64)
        return local_dofs[local_dofs < self.n_own]

    def _contact_dofs(self, name: str) -> np.ndarray:
        if name not in self.contact_facets_local:
            raise ScenarioError("electrode", f"no contact {name!r} in the mesh; contacts: "
                                f"{', '.join(self.contact_names)}")
        return np.asarray(dc.locate_dofs_topological(self.V, 2, self.contact_facets_local[name]),
                          dtype=np.int64)

    def _setup_bcs(self, config: PulseConfiguration) -> dict:
        key = (tuple(config.anode), tuple(config.cathode), tuple(config.floating))
        if key in self._bc_cache:
            return self._bc_cache[key]
        comm = self.comm
        names = list(config.anode) + list(config.cathode) + list(config.floating)
        if len(set(names)) != len(names):
            raise ScenarioError("protocol.sequence", f"a contact is used twice in {key}")
        anode = np.unique(np.concatenate([self._contact_dofs(n) for n in config.anode]))
        cathode = np.unique(np.concatenate([self._contact_dofs(n) for n in config.cathode]))
        anode_own, cathode_own = self._owned_local(anode), self._owned_local(cathode)
        if comm.allreduce(anode_own.size) == 0 or comm.allreduce(cathode_own.size) == 0:
            raise ScenarioError("protocol.sequence", f"anode or cathode without mesh nodes in {key}")
        dirichlet = np.union1d(anode_own, cathode_own)

        floating = []        # (name, rep global, owned local dofs of the contact)
        dead_own = []
        for n in config.floating:
            loc = self._contact_dofs(n)
            glob = np.unique(np.concatenate(comm.allgather(self.l2g[loc])))
            if glob.size == 0:
                continue
            own = self._owned_local(loc)
            if np.intersect1d(own, dirichlet).size:
                raise ScenarioError("electrode", f"floating contact {n!r} touches an active contact")
            rep = int(glob[0])
            floating.append((n, rep, own))
            dead_own.append(own[self.l2g[own] != rep])
        P = None
        if floating:
            # P = I + sum_k sum_{i in k, i != r_k} e_i e_{r_k}^T; the dead columns i are
            # then fixed to zero, so phi_i = x_{r_k}: one potential per contact. Keeping
            # the unit diagonal keeps every diagonal entry of P^T J P in the pattern.
            rows, cols = [], []
            for _, rep, own in floating:
                d = own[self.l2g[own] != rep]
                rows.append(self.rstart + d)
                cols.append(np.full(d.size, rep, dtype=np.int64))
            rows = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
            cols = np.concatenate(cols) if cols else np.empty(0, dtype=np.int64)
            nnz = np.ones(self.n_own, dtype=np.int64)
            nnz[rows - self.rstart] = 2
            indptr = np.concatenate([[0], np.cumsum(nnz)])
            J = np.empty(indptr[-1], dtype=np.int64)
            J[indptr[:-1]] = self.rstart + np.arange(self.n_own)
            J[indptr[1:][rows - self.rstart] - 1] = cols
            # CSR columns must be sorted within a row
            for r in (rows - self.rstart):
                a, b = indptr[r], indptr[r + 1]
                J[a:b] = np.sort(J[a:b])
            P = PETSc.Mat().createAIJ(((self.n_own, self.dofs), (self.n_own, self.dofs)),
                                      nnz=(2, 2), comm=comm)
            P.setValuesCSR(indptr.astype(PETSc.IntType), J.astype(PETSc.IntType),
                           np.ones(indptr[-1]), addv=PETSc.InsertMode.INSERT_VALUES)
            P.assemble()
        dead = np.concatenate(dead_own) if dead_own else np.empty(0, dtype=np.int64)
        fixed = np.unique(np.concatenate([dirichlet, dead]))
        free = np.ones(self.n_own, dtype=bool)
        free[fixed] = False
        bc = dict(anode=anode_own, cathode=cathode_own, dirichlet=dirichlet,
                  fixed_global=(self.rstart + fixed).astype(PETSc.IntType), fixed=fixed,
                  free=free, P=P, floating=floating)
        self._bc_cache[key] = bc
        return bc

    # -- vectors (owned parts are contiguous: PETSc global = rstart + local)
    def _assemble_F(self, F_form):
        F = dc.assemble_vector(F_form)
        F.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        return F

    def _reduce(self, bc, F):
        if bc["P"] is None:
            return F.copy()
        Fr = F.duplicate()
        bc["P"].multTranspose(F, Fr)
        return Fr

    def _expand(self, bc, dr):
        if bc["P"] is None:
            return dr.copy()
        D = dr.duplicate()
        bc["P"].mult(dr, D)
        return D

    def _norms(self, bc, Fr) -> tuple[float, float]:
        a = Fr.array_r
        loc = np.array([np.sum(a[bc["free"]] ** 2), np.sum(a[bc["dirichlet"]] ** 2)])
        tot = self.comm.allreduce(loc, op=MPI.SUM)
        return float(np.sqrt(tot[0])), float(np.sqrt(tot[1]))

    def _set_u(self, vec) -> None:
        vec.copy(self._uvec)
        self._uvec.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)

    def _newton_direction(self, bc, J_form, Fr) -> tuple[object, int]:
        """Solve (P^T J P) dr = -P^T F with zero update on fixed DOFs; return P dr."""
        J = dc.assemble_matrix(J_form)
        J.assemble()
        if bc["P"] is not None:
            Jr = J.PtAP(bc["P"])
            J.destroy()
        else:
            Jr = J
        Jr.zeroRowsColumns(bc["fixed_global"], diag=1.0)
        b = Fr.copy()
        b.scale(-1.0)
        b.array[bc["fixed"]] = 0.0
        dr = b.duplicate()
        dr.set(0.0)
        self.ksp.setOperators(Jr)
        self.ksp.solve(b, dr)
        its = self.ksp.getIterationNumber()
        reason = self.ksp.getConvergedReason()
        if reason < 0:
            rn = self.ksp.getResidualNorm()
            Jr.destroy()
            raise ConvergenceError("linear solver (dolfinx CG/BoomerAMG)", its, rn,
                                   f"PETSc reason {reason}")
        Jr.destroy()
        D = self._expand(bc, dr)
        return D, its

    def _initial_vector(self, bc, voltage: float):
        phi = self._uvec.duplicate()
        phi.set(0.0)
        phi.array[bc["anode"]] = voltage
        phi.array[bc["cathode"]] = 0.0
        return phi

    def _edge_index(self) -> np.ndarray:
        """(local cells, 6) index of each cell edge in the engine-neutral P2 edge list
        (sorted unique (lo, hi) input-vertex pairs, as ``spaces.build_space``) and the
        cell-local DOF of each edge."""
        if getattr(self, "_edge_idx", None) is None:
            ref_edges = np.asarray(basix_topology_edges(), dtype=np.int64)      # (6, 2)
            lo = np.minimum(self._gdm_orig[:, ref_edges[:, 0]], self._gdm_orig[:, ref_edges[:, 1]])
            hi = np.maximum(self._gdm_orig[:, ref_edges[:, 0]], self._gdm_orig[:, ref_edges[:, 1]])
            keys = lo * self.num_points + hi
            allkeys = None
            if self.comm.rank == 0:
                allkeys = np.unique(keys_of_mesh_edges(self._tets0, self.num_points))
            allkeys = _bcast_array(self.comm, allkeys)
            self._edge_idx = np.searchsorted(allkeys, keys)
            self._num_edges = allkeys.size
            layout = self.V.dofmap.dof_layout
            self._edge_ldof = np.array([layout.entity_dofs(1, j)[0] for j in range(6)])
        return self._edge_idx

    def _vector_from_initial(self, bc, config, initial: FieldSolution):
        """Start vector from a previous solution (all DOFs if given, else vertex values),
        boundary conditions re-imposed."""
        full = self.comm.bcast(initial.potential_full is not None
                               and np.size(initial.potential_full) == self.dofs
                               if self.comm.rank == 0 else None, root=0)
        src = initial.potential_full if full else initial.potential
        pot = _bcast_array(self.comm, np.asarray(src, dtype=np.float64)
                           if self.comm.rank == 0 else None)
        fl = self.comm.bcast(dict(initial.floating_potentials) if self.comm.rank == 0 else None)
        if self.degree == 1:
            self.u.x.array[self._Vdm[:, :4]] = pot[self._gdm_orig]
        elif full:
            self.u.x.array[self._Vdm[:, :4]] = pot[self._gdm_orig]
            eidx = self._edge_index()
            self.u.x.array[self._Vdm[:, self._edge_ldof]] = pot[self.num_points + eidx]
        else:
            if not hasattr(self, "_V1"):
                self._V1 = dc.function_space(self.msh, "Lagrange", 1)
                self._u1 = dolfinx.fem.Function(self._V1)
            dm1 = dc.space_dofmap(self._V1)[: self._gdm_orig.shape[0]]
            self._u1.x.array[dm1] = pot[self._gdm_orig]
            self.u.interpolate(self._u1)
        phi = self._uvec.copy()
        phi.array[bc["anode"]] = config.voltage
        phi.array[bc["cathode"]] = 0.0
        for name, rep, own in bc["floating"]:
            val = fl.get(name)
            if val is None:
                a = phi.array_r[own]
                n = self.comm.allreduce(a.size)
                val = self.comm.allreduce(float(a.sum())) / max(n, 1)
            phi.array[own] = val
        self._set_u(phi)
        return phi

    # ------------------------------------------------------------------ problems
    def _solve_linear_vec(self, config, bc, phi0):
        """phi0 satisfies the BCs; one exact Newton step of the linear problem."""
        self._set_u(phi0)
        F = self._assemble_F(self._F_lin)
        D, its = self._newton_direction(bc, self._J_lin, self._reduce(bc, F))
        phi = phi0.copy()
        phi.axpy(1.0, D)
        self._set_u(phi)
        return phi, its

    def solve_linear(self, config: PulseConfiguration, sigma: np.ndarray) -> FieldSolution:
        t0 = time.perf_counter()
        bc = self._setup_bcs(config)
        sig = self._bcast_cells(sigma, (self.Q,))
        self._set_sample(self.sig_lin, sig)
        phi, its = self._solve_linear_vec(config, bc, self._initial_vector(bc, config.voltage))
        F = self._assemble_F(self._F_lin)
        res, flux = self._norms(bc, self._reduce(bc, F))
        rel = res / flux if flux > 0 else 0.0
        t_solve = time.perf_counter() - t0
        return self._finish(config, bc, F, sigma_out=None, sig_full=sig, nl_its=0, lin_its=its,
                            residual=rel, converged=True, timings={"solve": t_solve})

    def _nl_forms(self, law: CellConductivity, with_floor: bool):
        key = (tuple(law.models), with_floor, law.scale is not None)
        if key in self._nl_cache:
            return self._nl_cache[key]
        g = ufl.grad(self.u)
        Ee = ufl.sqrt(ufl.inner(g, g) + self.eps ** 2)
        sig, dsig = ufl_conductivity(law, Ee, self._param)
        if with_floor:
            above = ufl.gt(sig, self.floor)
            sig = ufl.conditional(above, sig, self.floor)
            dsig = ufl.conditional(above, dsig, 0.0)
        v, du = self.v, self.du
        F = sig * ufl.inner(g, ufl.grad(v)) * self.dx
        J = (sig * ufl.inner(ufl.grad(du), ufl.grad(v))
             + dsig / Ee * ufl.inner(g, ufl.grad(du)) * ufl.inner(g, ufl.grad(v))) * self.dx
        forms = (dc.form(F), dc.form(J))
        self._nl_cache[key] = forms
        return forms

    def solve_stationary(self, config: PulseConfiguration, law: CellConductivity,
                         sigma_floor: np.ndarray | None = None,
                         initial: FieldSolution | None = None, *,
                         rtol: float | None = None, start_sweeps: int = 0) -> FieldSolution:
        """Newton with the exact line search (as the embedded engine); ``rtol`` replaces the
        settings' tolerance (``start_sweeps`` is not used: a start from another mesh goes
        to Newton as it is)."""
        t0 = time.perf_counter()
        comm, st = self.comm, self.settings
        tol = st.rtol if rtol is None else rtol
        bc = self._setup_bcs(config)
        # law parameters -> DG0
        arrays = {}
        for k, attr in (("s0", "sigma0"), ("s1", "sigma1"), ("Er", "E_rev"), ("Ei", "E_irr"),
                        ("mi", "model_index")):
            arrays[k] = self._bcast_cells(getattr(law, attr) if comm.rank == 0 else None, ())
        has_scale = law.scale is not None
        arrays["scale"] = (self._bcast_cells(law.scale if comm.rank == 0 else None, ())
                           if has_scale else np.ones(self.num_cells))
        for k, a in arrays.items():
            self._set_dg0(self._param[k], a)
        with_floor = comm.bcast(sigma_floor is not None if comm.rank == 0 else None, root=0)
        floor = self._bcast_cells(sigma_floor, (self.Q,)) if with_floor else None
        if with_floor:
            self._set_sample(self.floor, floor)
        self.eps.value = EPS_REL * max(abs(config.voltage), 1e-300) / self.diameter
        F_form, J_form = self._nl_forms(law, with_floor)

        # start: linear solve with sigma(E = 0) (floored), as the embedded engine
        s_init = None
        if comm.rank == 0:
            s_init = np.repeat(law.sigma(np.zeros(self.num_cells))[:, None], self.Q, axis=1)
        s_init = _bcast_array(comm, s_init)
        if with_floor:
            s_init = np.maximum(s_init, floor)
        self._set_sample(self.sig_lin, s_init)
        use_initial = comm.bcast(initial is not None and initial.potential is not None
                                 and np.shape(initial.potential) == (self.num_points,)
                                 if comm.rank == 0 else None, root=0)
        if use_initial:
            phi, lin_its = self._vector_from_initial(bc, config, initial), 0
        else:
            phi, lin_its = self._solve_linear_vec(config, bc,
                                                  self._initial_vector(bc, config.voltage))
        t_lin = time.perf_counter() - t0

        F = self._assemble_F(F_form)
        res, flux = self._norms(bc, self._reduce(bc, F))
        rel = res / flux if flux > 0 else 0.0
        it, converged, n_evals = 0, rel <= tol, 1
        history = [rel]
        while not converged and it < st.max_iterations:
            it += 1
            D, its = self._newton_direction(bc, J_form, self._reduce(bc, F))
            lin_its += its
            d0 = F.dot(D)
            alpha, F_at, evals = self._line_search(F_form, phi, D, d0)
            n_evals += evals
            phi.axpy(alpha, D)
            self._set_u(phi)
            F = F_at if F_at is not None else self._assemble_F(F_form)
            res, flux = self._norms(bc, self._reduce(bc, F))
            rel = res / flux if flux > 0 else 0.0
            history.append(rel)
            converged = rel <= tol
        if not converged:
            raise ConvergenceError("nonlinear solve (dolfinx Newton)", it, rel)
        timings = {"solve": time.perf_counter() - t0, "initial_linear": t_lin}
        self.last_history = history
        self.last_residual_evaluations = n_evals
        return self._finish(config, bc, F, sigma_out=(law, floor), sig_full=None, nl_its=it,
                            lin_its=lin_its, residual=rel, converged=True, timings=timings)

    def _line_search(self, F_form, phi, D, d0):
        """Step length by :func:`~simulator.engines.line_search.exact_line_search` on
        d(alpha) = F(phi + alpha D)[D]; returns (alpha, F at phi + alpha D, evaluations)."""
        trial = phi.duplicate()
        last = {}

        def d(alpha):
            phi.copy(trial)
            trial.axpy(alpha, D)
            self._set_u(trial)
            last["alpha"], last["F"] = alpha, self._assemble_F(F_form)
            return last["F"].dot(D)

        alpha, evals = exact_line_search(d, d0)
        return alpha, (last["F"] if last.get("alpha") == alpha else None), evals

    # ------------------------------------------------------------------ output
    def sample_points(self) -> np.ndarray:
        """(M, Q, 3) physical coordinates of the sample points, input cell order (all ranks)."""
        x = ufl.SpatialCoordinate(self.msh)
        e = dc.expression(x, self.qpoints)
        own = np.arange(self.n_own_cells, dtype=np.int32)
        loc = dc.eval_expression(e, self.msh, own).reshape(-1, self.Q, 3)[:, self.qorder]
        parts = self.comm.gather((self.cell_orig[: self.n_own_cells], loc), root=0)
        out = None
        if self.comm.rank == 0:
            out = np.empty((self.num_cells, self.Q, 3))
            for ci, v in parts:
                out[ci] = v
        return _bcast_array(self.comm, out)

    def contact_currents(self) -> dict[str, float]:
        """Net current (A) into the tissue through every contact, from the residual of
        the last solve (anode > 0, cathode < 0, floating ~ 0, insulating contacts ~ 0)."""
        F = self._last_F
        out = {}
        for name in self.contact_names:
            own = self._owned_local(self._contact_dofs(name))
            out[name] = self.comm.allreduce(float(np.sum(F.array_r[own])), op=MPI.SUM)
        return out

    def _finish(self, config, bc, F, sigma_out, sig_full, nl_its, lin_its, residual, converged,
                timings) -> FieldSolution:
        comm = self.comm
        t0 = time.perf_counter()
        self._last_F = F
        current = comm.allreduce(float(np.sum(F.array_r[bc["anode"]])), op=MPI.SUM)
        fl = {}
        for name, rep, _ in bc["floating"]:
            val = float(self._uvec.array_r[rep - self.rstart]) if (
                self.rstart <= rep < self.rstart + self.n_own) else 0.0
            fl[name] = comm.allreduce(val, op=MPI.SUM)
        own = np.arange(self.n_own_cells, dtype=np.int32)
        E_loc = dc.eval_expression(self._Eexpr, self.msh, own).reshape(-1, self.Q)[:, self.qorder]
        ua = self.u.x.array
        pot_idx = self._gdm_orig[: self.n_own_cells].ravel()
        pot_val = ua[self._Vdm[: self.n_own_cells, :4]].ravel()
        if self.degree == 2:
            eidx = self._edge_index()[: self.n_own_cells]
            pot_idx = np.concatenate([pot_idx, self.num_points + eidx.ravel()])
            pot_val = np.concatenate([pot_val, ua[self._Vdm[: self.n_own_cells][:, self._edge_ldof]].ravel()])
        parts = comm.gather((self.cell_orig[: self.n_own_cells], E_loc, pot_idx, pot_val), root=0)
        if comm.rank == 0:
            E = np.empty((self.num_cells, self.Q))
            pfull = np.empty(self.dofs)
            for ci, Ev, pi, pv in parts:
                E[ci] = Ev
                pfull[pi] = pv
            pot = pfull[: self.num_points]
            if sig_full is not None:
                sigma = sig_full
            else:
                law, floor = sigma_out
                sigma = law.sigma(E)
                if floor is not None:
                    sigma = np.maximum(sigma, floor)
            weights = self._weights
        else:
            E = pot = sigma = weights = None
        E = _bcast_array(comm, E)
        pfull = _bcast_array(comm, pfull if comm.rank == 0 else None)
        pot = pfull[: self.num_points]
        sigma = _bcast_array(comm, np.asarray(sigma) if comm.rank == 0 else None)
        weights = _bcast_array(comm, weights)
        timings = dict(timings)
        timings["gather"] = time.perf_counter() - t0
        return FieldSolution(E=E, sigma=sigma, weights=weights, current=float(current),
                             potential=pot, nonlinear_iterations=int(nl_its),
                             linear_iterations=int(lin_its), residual=float(residual),
                             converged=bool(converged), floating_potentials=fl,
                             timings=timings, dofs=self.dofs, potential_full=pfull)
