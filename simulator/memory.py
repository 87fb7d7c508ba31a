"""Process memory: give freed heap back to the OS. Below every stage (gmsh session, engines)."""
from __future__ import annotations


def release_freed_memory() -> None:
    """Return freed heap memory to the OS (glibc ``malloc_trim``; a no-op elsewhere).

    glibc keeps freed blocks below its mmap threshold (<= 32 MB) in the process: after
    gmsh.finalize or a setup full of such temporaries, RSS stays high for the whole solve."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
