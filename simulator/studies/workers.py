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
