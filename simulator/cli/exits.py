"""Exit codes of the ``epsim`` command (design.md section 5) and the SIGTERM exception."""
EXIT_OK, EXIT_UNDER, EXIT_INPUT, EXIT_CONVERGENCE, EXIT_INTERNAL, EXIT_INT, EXIT_TERM = 0, 1, 2, 3, 4, 130, 143


class Terminated(BaseException):
    """Raised from the SIGTERM handler so that cleanup code runs."""
