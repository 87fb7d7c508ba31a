"""The few DOLFINx API differences the dolfinx engine meets, in one place.

Tested with DOLFINx 0.5.2 (Debian bookworm ``python3-dolfinx``); the branches for the
newer API (0.7 .. 0.9: ``functionspace``, ``basix.ufl`` elements, 2-D dofmap arrays,
``Expression.eval(mesh, cells)``, ``Function.x.petsc_vec``) follow the upstream changelog.
Importing this module when DOLFINx is absent raises :class:`EngineUnavailableError`.
"""
from __future__ import annotations

import numpy as np

from simulator.errors import EngineUnavailableError

INSTALL_HINT = ("DOLFINx is not installed: apt-get install python3-dolfinx (Debian) "
                "or conda install -c conda-forge fenics-dolfinx")


def load_dolfinx():
    """Import and return (dolfinx, ufl, PETSc, MPI); a clear error when unavailable."""
    try:
        import dolfinx  # noqa: F401
        import dolfinx.fem
        import dolfinx.fem.petsc  # noqa: F401
        import dolfinx.mesh  # noqa: F401
        import ufl
        from mpi4py import MPI
        from petsc4py import PETSc
    except Exception as exc:  # ImportError, or a broken MPI/PETSc stack
        raise EngineUnavailableError("solver.engine", INSTALL_HINT) from exc
    return dolfinx, ufl, PETSc, MPI


dolfinx, ufl, PETSc, MPI = load_dolfinx()
import dolfinx.fem.petsc as _fem_petsc  # noqa: E402

VERSION = tuple(int(p) for p in dolfinx.__version__.split(".")[:2])
NEW_API = VERSION >= (0, 7)

try:  # basix.ufl exists from 0.7 on
    import basix
    import basix.ufl as _basix_ufl
except ImportError:  # pragma: no cover - old stacks
    import basix
    _basix_ufl = None


def coordinate_domain(degree: int = 1):
    """UFL domain of a tetrahedral mesh in 3-D: affine (degree 1) or with a P2 coordinate
    element (degree 2: 10-node curved cells)."""
    if NEW_API:
        return ufl.Mesh(_basix_ufl.element("Lagrange", "tetrahedron", degree, shape=(3,)))
    return ufl.Mesh(ufl.VectorElement("Lagrange", ufl.tetrahedron, degree))


def create_mesh(comm, cells: np.ndarray, x: np.ndarray, degree: int = 1):
    """Distributed mesh from (possibly empty on ranks > 0) cell and point arrays; ``cells``
    (M, 4) or, for ``degree`` 2, (M, 10) in DOLFINx node order (vertices, then the edges
    in basix's reference order)."""
    return dolfinx.mesh.create_mesh(comm, cells, x, coordinate_domain(degree))


def function_space(msh, family: str, degree: int):
    """Scalar Lagrange ("Lagrange") or discontinuous ("DG") space."""
    if NEW_API:
        return dolfinx.fem.functionspace(msh, (family, degree))
    return dolfinx.fem.FunctionSpace(msh, (family, degree))


def quadrature_space(msh, degree: int):
    """Scalar quadrature space of the default rule of ``degree`` on tetrahedra."""
    if NEW_API:
        el = _basix_ufl.quadrature_element("tetrahedron", value_shape=(), scheme="default",
                                           degree=degree)
        return dolfinx.fem.functionspace(msh, el)
    el = ufl.FiniteElement("Quadrature", ufl.tetrahedron, degree, quad_scheme="default")
    return dolfinx.fem.FunctionSpace(msh, el)


def quadrature_rule(degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Points (Q, 3) and weights (Q,) of the default rule FFCx uses for ``degree``."""
    if NEW_API:
        pts, wts = basix.make_quadrature(basix.CellType.tetrahedron, degree)
    else:
        pts, wts = basix.make_quadrature(basix.quadrature.string_to_type("default"),
                                         basix.CellType.tetrahedron, degree)
    return np.asarray(pts, dtype=float), np.asarray(wts, dtype=float)


def original_cell_index(msh) -> np.ndarray:
    """Input (global) index of every local cell, owned then ghost."""
    oci = msh.topology.original_cell_index
    if isinstance(oci, (list, tuple)):  # one array per cell type (mixed-topology API)
        oci = oci[0]
    return np.asarray(oci, dtype=np.int64)


def geometry_dofmap(msh) -> np.ndarray:
    """(num local cells, nodes per cell) geometry node indices per cell (4, or 10 on a
    second-order mesh: vertices first)."""
    dm = msh.geometry.dofmap
    if hasattr(dm, "array") and hasattr(dm, "offsets"):
        off = np.asarray(dm.offsets)
        width = int(off[1] - off[0]) if off.size > 1 else 4
        return np.asarray(dm.array).reshape(-1, width)
    if isinstance(dm, (list, tuple)):
        dm = dm[0]
    dm = np.asarray(dm)
    return dm if dm.ndim == 2 else dm.reshape(-1, 4)


def adjacency_array(adj, width: int) -> np.ndarray:
    """An AdjacencyList of fixed ``width`` as a 2-D array."""
    return np.asarray(adj.array).reshape(-1, width)


def space_dofmap(V) -> np.ndarray:
    """(num local cells, dofs per cell) of a scalar space."""
    lst = V.dofmap.list
    if hasattr(lst, "array") and hasattr(lst, "offsets"):
        n = V.dofmap.dof_layout.num_dofs
        return np.asarray(lst.array).reshape(-1, n)
    return np.asarray(lst)


def petsc_vec(u):
    """The (ghosted) PETSc vector of a Function."""
    return u.x.petsc_vec if hasattr(u.x, "petsc_vec") else u.vector


def expression(expr, points: np.ndarray):
    return dolfinx.fem.Expression(expr, points)


def eval_expression(e, msh, cells: np.ndarray) -> np.ndarray:
    """Values (len(cells), points * value size) of an Expression on local cells."""
    cells = np.ascontiguousarray(cells, dtype=np.int32)
    if NEW_API:
        return np.asarray(e.eval(msh, cells))
    return np.asarray(e.eval(cells))


form = dolfinx.fem.form
locate_dofs_topological = dolfinx.fem.locate_dofs_topological
assemble_matrix = _fem_petsc.assemble_matrix
assemble_vector = _fem_petsc.assemble_vector
meshtags = dolfinx.mesh.meshtags


def bcast_array(comm, arr, root=0):
    """Broadcast a numpy array from ``root`` (None elsewhere) with buffer semantics."""
    meta = (arr.shape, arr.dtype.str) if comm.rank == root else None
    shape, dtype = comm.bcast(meta, root=root)
    if comm.rank != root:
        arr = np.empty(shape, dtype=np.dtype(dtype))
    else:
        arr = np.ascontiguousarray(arr)
    if arr.size:
        comm.Bcast(arr.reshape(-1).view(np.uint8), root=root)
    return arr
