"""The continuation chains of one task in worker processes (``epsim sweep --jobs N`` on a
sweep that is one task, such as a nonlinear voltage sweep).

Every point of a nonlinear voltage sweep needs the field of each of its configurations,
and each configuration is a continuation chain over the sweep's voltages
(:mod:`simulator.studies.scaling`): its Newton solves start from the chain's previous
voltages and reuse the chain's AMG hierarchy, so the points cannot run in parallel, but the
chains can. :class:`ChainFarm` sends each chain's solves to one of N worker processes
(chains in a fixed order, chain k to worker k mod N, whatever the order the solves are
asked in), where the chain's starts and hierarchy live; the main process keeps the pulse
trains and the post-processing. A chain's solves run in the same order from the same starts
as in one process, so the fields, and the rows, are the same bits whatever N.

Why processes, not the solver's threads: the smoother (pyamg's Gauss-Seidel) and the small
einsum kernels hold the GIL, so two threads solving two configurations ran the hexagonal
example's warm points only ~1.15x faster than one (measured, benchmarks/CHANGES.md).
"""
from __future__ import annotations

import hashlib
import os
import pickle
import signal
import threading
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

from simulator.studies.scaling import WARM_STATE_DOFS, SharedSolutions, chains_of
from simulator.studies.workers import first_death, lost_worker

_WORKER: dict = {}


def _init_worker(mesh, engine_name: str, settings, family: str, uses, law, digest: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # the parent handles Ctrl-C and stops us
    os.environ["EPSIM_THREADS"] = "1"
    from simulator.engines import create_engine
    engine = create_engine(engine_name, mesh, settings)
    _WORKER.clear()
    # the family's whole use count: the same warm-state decision (states x chains) as in one process
    _WORKER.update(chains=SharedSolutions(engine, family, False, uses), laws={digest: law})


def _solve_in_worker(config, digest: str, law):
    """One solve of a chain in this worker; ``law`` is sent once per worker (``digest``)."""
    laws = _WORKER["laws"]
    if law is not None:
        if len(laws) >= 4:
            laws.clear()
        laws[digest] = law
    chains = _WORKER["chains"]
    before = chains.warm
    sol = chains.solve_new(config, laws[digest])
    return sol, chains.warm - before


class ChainFarm(SharedSolutions):
    """:class:`SharedSolutions` whose new nonlinear solves run in ``workers`` processes, one
    chain always in the same one (module docstring). Reuse of solved fields and the counters
    stay here. ``close()`` stops the workers."""

    def __init__(self, engine, family: str, uses, mesh, workers: int, order: list | None = None):
        """``order``: the family's configurations in the order one process would solve them
        (the task's runs in order, each run's in train order); with it each chain's next
        configuration is queued behind the one asked for (while DOFs x chains fit
        WARM_STATE_DOFS: memory), so the workers solve the next point while this process
        post-processes the current one."""
        super().__init__(engine, family, False, uses)
        import multiprocessing as mp
        chains = sorted(chains_of(uses, family), key=repr)
        self.workers = min(workers, len(chains))
        self._worker_of = {c: k % self.workers for k, c in enumerate(chains)}
        self._start = (mp.get_context("spawn"),
                       (mesh, getattr(engine, "name", "embedded"), engine.settings, family, Counter(uses)))
        self._pools: list[ProcessPoolExecutor] = []         # started at the first solve (its law)
        self._sent: list[set[str]] = [set() for _ in range(self.workers)]
        self._procs: list[dict] = [{} for _ in range(self.workers)]
        self._digests: dict[int, tuple[object, str]] = {}
        self._farm_lock = threading.Lock()
        self._next: dict = {}
        if order and engine.dofs * len(chains) <= WARM_STATE_DOFS:
            last: dict = {}
            for cfg in order:
                c = replace(cfg, voltage=1.0)
                if c in last:
                    self._next[last[c]] = cfg
                last[c] = cfg
        self._ahead: dict = {}

    @property
    def concurrency(self) -> int:
        """Solves worth asking for at once (the train's solve-ahead threads)."""
        return self.workers

    def _digest(self, law) -> str:
        with self._farm_lock:
            got = self._digests.get(id(law))
            if got is not None and got[0] is law:
                return got[1]
        digest = hashlib.sha256(pickle.dumps(law, protocol=pickle.HIGHEST_PROTOCOL)).hexdigest()
        with self._farm_lock:
            if len(self._digests) >= 4:
                self._digests.clear()
            self._digests[id(law)] = (law, digest)      # the law kept: its id is not reused
        return digest

    def solve_new(self, config, law):
        chain = replace(config, voltage=1.0)
        w = self._worker_of.get(chain)
        if w is None:                               # not in the plan: solve here
            return super().solve_new(config, law)
        digest = self._digest(law)
        try:
            with self._farm_lock:   # submitted under the lock: the law reaches a worker before its first use
                future = self._ahead.pop(config, None) or self._submit(w, config, digest, law)
                nxt = self._next.get(config)
                if nxt is not None and nxt not in self._ahead:
                    # the same family: the same materials on the same mesh, so the same law
                    self._ahead[nxt] = self._submit(w, nxt, digest, law)
            sol, warm = future.result()
        except BrokenProcessPool:   # from the result, or from a submit once the pool saw the death
            raise self._lost(w) from None
        with self._lock:
            self.warm += warm
        return sol

    def _lost(self, w: int):
        """The one-line error for worker ``w`` that ended abruptly (studies.workers)."""
        _, code = first_death(self._procs[w].values())
        return lost_worker(self.workers, f"{w + 1} of {self.workers} (solver)", code)

    def _submit(self, w: int, config, digest: str, law):
        if not self._pools:
            # the workers start with the mesh and the first law in their initial arguments (sent
            # through the process's start-up pipe): what goes through a pool's call queue is
            # then a configuration and a digest, never megabytes. A large item there blocks the
            # queue's feeder thread for ever if its worker is killed mid-way, and the pool's
            # shutdown with it (CPython's ProcessPoolExecutor: the parent holds the pipe's
            # read end; measured: a sweep hung after its worker got SIGKILL).
            ctx, args = self._start
            self._pools = [ProcessPoolExecutor(1, mp_context=ctx, initializer=_init_worker,
                                               initargs=args + (law, digest)) for _ in range(self.workers)]
            for sent in self._sent:
                sent.add(digest)
        send = digest not in self._sent[w]
        self._sent[w].add(digest)
        future = self._pools[w].submit(_solve_in_worker, config, digest, law if send else None)
        # the worker's process object, for its exit code should it die (the pool's own table,
        # a private attribute, is emptied when the pool breaks): best effort
        self._procs[w].update(getattr(self._pools[w], "_processes", None) or {})
        return future

    def close(self) -> None:
        """Stop the workers (queued solves are dropped)."""
        for pool in self._pools:
            pool.shutdown(wait=True, cancel_futures=True)
