"""BLAS held to one thread while the embedded engine works.

The engine's own kernels are sparse or level-1 and gain nothing from BLAS threads. With a
threaded BLAS on a loaded 2-core machine, pyamg's setup (Arnoldi for the smoother weight)
went 5-8x slower, and BLAS threads fight the solver threads of simulator/train.py
(benchmarks/CHANGES.md, step 3). threadpoolctl finds and controls the loaded BLAS
libraries. This module only adds a reference count, so that concurrent solves on several
threads limit BLAS once and the last one to finish restores it.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_depth = 0
_limiter = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Re-entrant across threads: the first entry limits BLAS to 1 thread, the last exit
    restores the original limits."""
    global _depth, _limiter
    with _lock:
        if _depth == 0:
            try:
                from threadpoolctl import ThreadpoolController
                _limiter = ThreadpoolController().limit(limits=1, user_api="blas")
            except Exception:           # pragma: no cover - no threadpoolctl/BLAS: leave BLAS alone
                _limiter = None
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _limiter is not None:
                _limiter.restore_original_limits()
                _limiter = None
