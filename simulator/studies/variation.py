"""Variations of a scenario: ``KEY=VALUES`` specifications, their grid and the scenarios of it.

VALUES is a comma-separated list (``400,600,800``, ``constant,smoothstep``, ``[6,0],[8,0]``
for list-valued keys) or an inclusive
range ``START:STOP:STEP`` (``400:1200:100`` -> 400, 500, ..., 1200). Each value is read as
a TOML value (numbers, booleans, quoted strings), else taken as a bare string. Several
variations make a grid, the first key varying slowest. Each point is the base scenario
``with_changes`` (validated by the section readers, so a bad key or value is a one-line
:class:`ScenarioError` naming it).
"""
from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import dataclass
from typing import Any

from simulator.errors import ScenarioError
from simulator.scenario.changes import split_key

MAX_POINTS = 10_000


@dataclass(frozen=True)
class Variation:
    """One varied scenario key and its values (file units, as in the TOML)."""

    key: str
    values: tuple[Any, ...]


def parse_value(text: str) -> Any:
    """A TOML value (``600``, ``0.5``, ``true``, ``"a b"``), else the bare string."""
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_range(key: str, text: str) -> tuple[Any, ...]:
    """``START:STOP:STEP`` (inclusive of STOP within 1e-9 of a step); integers stay integers."""
    parts = text.split(":")
    if len(parts) != 3:
        raise ScenarioError(key, f"range {text!r} must be START:STOP:STEP")
    nums = [parse_value(p) for p in parts]
    if any(isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n) for n in nums):
        raise ScenarioError(key, f"range {text!r} needs three numbers START:STOP:STEP")
    start, stop, step = nums
    if step <= 0 or stop < start:
        raise ScenarioError(key, f"empty range {text!r}: need STEP > 0 and STOP >= START")
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    if count > MAX_POINTS:
        raise ScenarioError(key, f"range {text!r} has {count} values, more than {MAX_POINTS}")
    if all(isinstance(n, int) for n in nums):
        return tuple(start + i * step for i in range(count))
    return tuple(float(f"{start + i * step:.12g}") for i in range(count))


def split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets and quotes: ``[6,0],[8,0]`` -> ``["[6,0]", "[8,0]"]``."""
    parts, depth, quote, start = [], 0, "", 0
    for i, c in enumerate(text):
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def parse_variation(spec: str) -> Variation:
    """``"protocol.voltage_V=400:1200:100"`` -> Variation."""
    if "=" not in spec:
        raise ScenarioError("--vary", f"{spec!r} must be KEY=VALUES (e.g. protocol.voltage_V=400,600,800)")
    key, text = (s.strip() for s in spec.split("=", 1))
    split_key(key)
    if not text:
        raise ScenarioError(key, "no values given (KEY=VALUES)")
    if ":" in text and "," not in text and not text.startswith(("'", '"')):
        values = parse_range(key, text)
    else:
        items = split_top_level(text)
        if any(not t.strip() for t in items):
            raise ScenarioError(key, f"empty value in the list {text!r}")
        values = tuple(parse_value(t) for t in items)
    if len(set(map(repr, values))) != len(values):
        raise ScenarioError(key, f"repeated value in {text!r}")
    return Variation(key, values)


def grid(variations: list[Variation]) -> list[dict[str, Any]]:
    """Every combination of the variations' values, the first key varying slowest."""
    keys = [v.key for v in variations]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ScenarioError(dup, "is varied twice; give its values in one --vary")
    size = math.prod(len(v.values) for v in variations)
    if size > MAX_POINTS:
        raise ScenarioError("--vary", f"the grid has {size} points, more than {MAX_POINTS}")
    return [dict(zip(keys, combo)) for combo in itertools.product(*(v.values for v in variations))]


def scenarios_of(base, points: list[dict[str, Any]]) -> list:
    """The scenario of each grid point (every one validated before any work is done)."""
    out = []
    for point in points:
        try:
            out.append(base.with_changes(point))
        except ScenarioError as exc:
            values = ", ".join(f"{k}={v!r}" for k, v in point.items())
            raise type(exc)(exc.field, f"{exc.message} (sweep point {values})") from None
    return out


def fingerprint(scenario) -> str:
    """A text that differs whenever two scenarios would give different results."""
    return repr(scenario) + repr(sorted((k, repr(m)) for k, m in scenario.materials.items()))
