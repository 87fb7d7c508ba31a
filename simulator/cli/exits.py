"""Exit codes of the ``epsim`` command (design.md section 5) and the SIGTERM exception."""
EXIT_OK, EXIT_UNDER, EXIT_INPUT, EXIT_CONVERGENCE, EXIT_INTERNAL, EXIT_INT, EXIT_TERM = 0, 1, 2, 3, 4, 130, 143


class Terminated(BaseException):
    """Raised from the SIGTERM handler so that cleanup code runs."""


# ----------------------------------------------------------------------------- start-up
# A Ctrl-C that lands inside an import (numpy, gmsh, matplotlib: the first ~1-2 s of a run)
# breaks the half-imported module (a later import then fails: "numpy._core.multiarray failed
# to import") or is swallowed by importlib's module lock. So the command defers SIGINT from
# its entry until the imports are done (cli.run._preload), then acts on it there: one line,
# exit 130, as for an interrupt at any later time.
_pending: list[bool] = []       # non-empty while deferred; [True] once a SIGINT came


def defer_interrupts() -> None:
    """Record SIGINT instead of raising it (main thread only; until :func:`allow_interrupts`)."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread() or _pending:
        return
    _pending.append(False)

    def record(signum, frame):
        _pending[0] = True
    signal.signal(signal.SIGINT, record)


def allow_interrupts() -> None:
    """Restore Ctrl-C (KeyboardInterrupt) and raise it now if one came while deferred."""
    import signal
    if not _pending:
        return
    came = _pending.pop()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if came:
        raise KeyboardInterrupt
