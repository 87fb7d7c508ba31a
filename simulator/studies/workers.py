"""What a study says when one of its worker processes ends abruptly (killed, or died in C
code): one line naming ``--jobs``, the worker and its exit code or signal, never the pool's
internal BrokenProcessPool (or, with multiprocessing.Pool, a wait for ever)."""
from __future__ import annotations

import signal
import time

from simulator.errors import ResourceError


def exit_code(proc, timeout: float = 5.0) -> int | None:
    """The exit code of a finished worker process (negative: the signal), or None."""
    proc.join(timeout=timeout)
    for _ in range(50):             # the pool's own thread may be reaping it at the same moment
        if proc.exitcode is not None:
            return proc.exitcode
        time.sleep(0.02)
    return None


def first_death(procs, timeout: float = 5.0) -> tuple[int, int | None]:
    """(index, exit code) of the worker among ``procs`` (process objects, in worker order)
    that ended first: a pool terminates the others (SIGTERM) once one is gone, so a SIGTERM
    is named only when no worker ended otherwise; (0, None) when no exit code is known."""
    dead = [(k, c) for k, c in enumerate(exit_code(p, timeout) for p in procs) if c]
    dead.sort(key=lambda kc: kc[1] == -signal.SIGTERM)
    return dead[0] if dead else (0, None)


def lost_worker(jobs: int, which: str, code: int | None) -> ResourceError:
    """The error for worker ``which`` (e.g. "2 of 4") that ended with exit ``code``."""
    how = f"exit code {code}" if code is not None else "no exit code"
    if code is not None and code < 0:
        try:
            how += f", {signal.Signals(-code).name}"
        except ValueError:
            pass
        if code == -signal.SIGKILL:
            how += ": usually the kernel's out-of-memory killer"
    return ResourceError("--jobs", f"{jobs}: worker process {which} ended abruptly ({how}); each "
                         "worker holds its own meshes and engine, so memory grows with --jobs: run "
                         "with fewer jobs or a smaller mesh")
