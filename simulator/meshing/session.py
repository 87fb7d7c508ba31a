"""The gmsh session: gmsh is a process-wide singleton, so it lives inside
:func:`gmsh_session`, which serialises callers, always finalizes, and keeps Python's
signal handlers in place.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator


GMSH_LOCK = threading.Lock()


# ----------------------------------------------------------------------------- session
@contextlib.contextmanager
def gmsh_session(verbose: bool = False) -> Iterator[object]:
    """Initialise gmsh (no config files, no signal handler), always finalize."""
    import gmsh

    with GMSH_LOCK:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
        restore_python_signal_handlers()
        try:
            gmsh.option.setNumber("General.Terminal", 1 if verbose else 0)
            gmsh.option.setNumber("General.Verbosity", 5 if verbose else 0)
            gmsh.option.setNumber("General.NumThreads", 1)
            for key in ("Mesh.MaxNumThreads1D", "Mesh.MaxNumThreads2D", "Mesh.MaxNumThreads3D"):
                gmsh.option.setNumber(key, 1)
            yield gmsh
        finally:
            gmsh.finalize()
            # give the heap freed by gmsh back to the OS (glibc keeps it otherwise: ~0.5 GB
            # of a 6e6-cell mesh stayed in the process through the solve)
            from simulator.memory import release_freed_memory
            release_freed_memory()


def restore_python_signal_handlers() -> None:
    """gmsh.initialize installs C-level signal handlers (SIGTERM then kills the process
    outright, skipping cleanup; the CLI's exit 143 and its "nothing left behind" depend on
    Python's handler). Re-installing Python's own handlers puts them back."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if handler is not None:
            signal.signal(sig, handler)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__
