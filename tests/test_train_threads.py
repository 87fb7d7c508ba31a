"""The train's solve-ahead threads (solve.train._solve_ahead): independent configurations
in parallel, the configurations of one continuation chain (the same contacts at other
voltages, whose study solves start from each other) one after the other in train order."""
import threading
import time
from dataclasses import replace

from simulator.engines.base import PulseConfiguration
from simulator.solve.train import _solve_ahead


class Recording:
    """An engine stand-in: logs the order of solves and any overlap within a chain."""

    parallel_safe = True

    def __init__(self):
        self.log, self.overlap, self.running = [], [], {}
        self.lock = threading.Lock()

    def cancel(self, flag: bool = True) -> None:
        pass

    def solve_stationary(self, cfg, law):
        chain = replace(cfg, voltage=1.0)
        with self.lock:
            if self.running.get(chain):
                self.overlap.append(cfg)
            self.running[chain] = True
            self.log.append(cfg)
            others = [c for c, on in self.running.items() if on and c != chain]
        time.sleep(0.3 if cfg.voltage == 500.0 and cfg.cathode == ("B",) else 0.02)   # the first slow
        with self.lock:
            self.running[chain] = False
        return cfg.voltage, bool(others)


def test_chains_are_solved_in_order_and_independent_ones_in_parallel(monkeypatch):
    monkeypatch.setenv("EPSIM_THREADS", "2")
    ab5, ab9 = PulseConfiguration(("A",), ("B",), 500.0), PulseConfiguration(("A",), ("B",), 900.0)
    ac5, ac7 = PulseConfiguration(("A",), ("C",), 500.0), PulseConfiguration(("A",), ("C",), 700.0)
    eng = Recording()
    futures = _solve_ahead(eng, [ab5, ac5, ab9, ab5, ac7], None, print)
    results = {c: f.result() for c, f in futures.items()}
    assert set(results) == {ab5, ac5, ab9, ac7}
    assert all(results[c][0] == c.voltage for c in results)
    assert eng.overlap == []                                          # never two of one chain at once
    assert [c for c in eng.log if c.cathode == ("B",)] == [ab5, ab9]  # train order within a chain
    assert [c for c in eng.log if c.cathode == ("C",)] == [ac5, ac7]
    assert any(parallel for _, parallel in results.values())          # the two chains did overlap
