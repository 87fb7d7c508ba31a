"""The report is strict JSON: a non-finite number (NaN, +-Infinity) is written as ``null``
and named in a warning, never as the ``NaN`` / ``Infinity`` that JSON parsers refuse."""
from __future__ import annotations

import math
from typing import Any


def finite_only(data: Any, path: str = "") -> tuple[Any, list[str]]:
    """A copy of ``data`` (dicts, lists, scalars) with non-finite floats replaced by None,
    and the dotted paths of those replaced."""
    bad: list[str] = []

    def walk(x: Any, where: str) -> Any:
        if isinstance(x, dict):
            return {k: walk(v, f"{where}.{k}" if where else str(k)) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(x)]
        if isinstance(x, float) and not math.isfinite(x):
            bad.append(f"{where} = {x!r}")
            return None
        return x
    return walk(data, path), bad


def finite_report(report: dict) -> dict:
    """The report with non-finite values nulled and one warning naming them."""
    clean, bad = finite_only(report)
    if bad:
        clean.setdefault("warnings", []).append(
            f"non-finite values written as null: {', '.join(bad[:8])}{' ...' if len(bad) > 8 else ''} "
            "(an input far outside physical ranges?)")
    return clean
