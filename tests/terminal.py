"""Start epsim in a subprocess as a shell in a terminal would.

A child inherits an *ignored* SIGINT through exec (any other disposition is reset), and Python
then installs no KeyboardInterrupt handler: a program started from a process that ignores
SIGINT (seen in a pytest-xdist worker after other tests ran) cannot be interrupted, which is
the convention, but not what a user at a terminal gets. ``preexec_fn=default_signals`` gives
the child SIGINT and SIGTERM at their defaults and unblocked (a blocked mask is inherited
too), as a shell does for a foreground job.
"""
import signal


def default_signals() -> None:
    """preexec_fn for subprocess.Popen: SIGINT and SIGTERM at their default dispositions, unblocked."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
