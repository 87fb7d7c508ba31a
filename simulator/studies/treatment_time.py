"""Treatment time of a plan and the drug window.

Per application: the pulse train (``Protocol.train_time``, the one definition) plus
``reposition_s`` to place and insert the electrode. Default ``REPOSITION_S`` = 60 s per
application is an assumption [A] (no source found). After IV bleomycin the pulses must go
in a window of about 8 to 28 min after the injection (ESOPE SOP 2006 and Gehl 2018 update,
domain.md 1.2 [R]): 20 min of pulsing time.
"""
from __future__ import annotations

REPOSITION_S = 60.0                     # s per application [A]
DRUG_WINDOW_S = (8 * 60.0, 28 * 60.0)   # s after IV bleomycin injection [R] (domain.md 1.2)


def treatment_time(protocols, reposition_s: float = REPOSITION_S) -> float:
    """Seconds for a plan: every application's train plus its repositioning."""
    return sum(p.train_time + reposition_s for p in protocols)


def drug_window_warning(seconds: float) -> str | None:
    """A warning when a plan needs more than the IV bleomycin window, else None."""
    lo, hi = DRUG_WINDOW_S
    if seconds <= hi - lo:
        return None
    return (f"treatment time {seconds / 60:.1f} min exceeds the {(hi - lo) / 60:.0f} min drug window "
            f"(IV bleomycin: pulses {lo / 60:.0f}-{hi / 60:.0f} min after injection, ESOPE SOP 2006 [R])")
