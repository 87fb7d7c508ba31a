"""Meshing in a child process, so that SIGINT / SIGTERM end a run promptly.

gmsh runs for seconds to minutes inside C++ code that never returns to Python, so a
signal handler of the meshing process runs only when gmsh is done. Here gmsh runs in a
forked child (same code, same inputs: the mesh is bit-identical to an in-process build);
the parent waits on a pipe, where Python's handlers run at once. On any exit from the wait
(a signal, an error) the child is killed and reaped: it writes nothing to disk, so nothing
is left behind. The child sends progress lines, then the mesh or the error.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Callable

from simulator.errors import ResourceError
from simulator.meshing.inputs import MeshInput
from simulator.meshing.mesh import Mesh


def _child(mi: MeshInput, conn) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)       # die at once; the parent reports the signal
    import threading

    from simulator.meshing import session
    session.GMSH_LOCK = threading.Lock()         # a fork copies the lock's state, not its owner
    from simulator.meshing.build import build_mesh
    try:
        mesh = build_mesh(mi, lambda msg: conn.send(("say", msg)))
        conn.send(("mesh", mesh))
    except BaseException as exc:                 # sent to the parent, raised there
        try:
            conn.send(("error", exc))
        except Exception:                        # unpicklable: keep its text
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def build_mesh_isolated(mi: MeshInput, progress: Callable[[str], None] | None = None) -> Mesh:
    """:func:`simulator.meshing.build.build_mesh` in a child process (see module docstring).

    ``EPSIM_MESH_IN_PROCESS=1`` meshes in this process instead (debugging, profiling)."""
    say = progress or (lambda _msg: None)
    import sys
    # forking an MPI process is unsafe (Open MPI's runtime does not survive it): under
    # mpirun rank 0 meshes in-process
    under_mpi = "mpi4py.MPI" in sys.modules
    # a study's worker process (multiprocessing pool: daemonic) may not start children
    worker = multiprocessing.current_process().daemon
    if (os.environ.get("EPSIM_MESH_IN_PROCESS") or under_mpi or worker
            or "fork" not in multiprocessing.get_all_start_methods()):
        from simulator.meshing.build import build_mesh
        return build_mesh(mi, say)
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(mi, send), name="epsim-mesh", daemon=True)
    proc.start()
    send.close()
    try:
        while True:
            try:
                kind, payload = receive.recv()
            except EOFError:
                proc.join()
                if proc.exitcode is not None and proc.exitcode < 0:
                    raise ResourceError("mesh.size_mm", f"the meshing process was killed by signal "
                                        f"{-proc.exitcode} (out of memory?); use a coarser mesh") from None
                raise RuntimeError(f"the meshing process ended without a mesh (exit code {proc.exitcode})") \
                    from None
            if kind == "say":
                say(payload)
            elif kind == "mesh":
                return payload
            else:
                raise payload
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        receive.close()
