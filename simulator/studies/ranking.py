"""The ranking hierarchy of plan entries (after Vera-Tizatl 2018: adequate coverage first,
then the least burden and damage), configurable by ``--rank-by``.

Keys, each compared only when all earlier keys tie:

* ``covered``: covered (every tumour + margin) and within the generator's voltage and current
  limits, first;
* ``applications``: fewer electrode applications first;
* ``healthy_irreversible``: less healthy tissue above E_irr first (mm^3);
* ``pulses``: fewer pulses first;
* ``current``: lower peak current first (A);
* ``coverage``: higher tumour + margin coverage first (orders the plans that do not cover).

After the chosen keys, ``coverage`` and then the entry's name break any remaining tie, so
the order is deterministic.
"""
from __future__ import annotations

from simulator.errors import ScenarioError

DEFAULT_HIERARCHY = ("covered", "applications", "healthy_irreversible", "pulses", "current")
KEYS = {
    "covered": lambda e: 0 if e["feasible"] else 1,
    "applications": lambda e: len(e["applications"]),
    "healthy_irreversible": lambda e: e["healthy_irreversible_mm3"],
    "pulses": lambda e: e["total_pulses"],
    "current": lambda e: e["max_current_A"],
    "coverage": lambda e: -(e["coverage"]["margin_reversible_fraction"] or 0.0),
}


def parse_hierarchy(text: str | None) -> tuple[str, ...]:
    """``--rank-by covered,applications,...`` -> key names (default ``DEFAULT_HIERARCHY``)."""
    if text is None:
        return DEFAULT_HIERARCHY
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    if not keys:
        raise ScenarioError("--rank-by", f"must list ranking keys ({', '.join(KEYS)}), got {text!r}")
    for k in keys:
        if k not in KEYS:
            raise ScenarioError("--rank-by", f"unknown ranking key {k!r}; valid: {', '.join(KEYS)}")
    if len(set(keys)) != len(keys):
        raise ScenarioError("--rank-by", f"lists a key twice: {text!r}")
    return keys


def rank(entries: list[dict], hierarchy: tuple[str, ...] = DEFAULT_HIERARCHY) -> list[dict]:
    """Entries sorted by the hierarchy, each given ``rank`` (1 = best)."""
    order = list(hierarchy) + [k for k in ("coverage",) if k not in hierarchy]

    def key(e):
        return tuple(KEYS[k](e) for k in order) + (e["electrode"], e["amplitude"])
    out = sorted(entries, key=key)
    for i, e in enumerate(out, 1):
        e["rank"] = i
    return out
