"""Changing a scenario by dotted keys: ``{"protocol.voltage_V": 600, "tumours.0.depth_mm": 7}``.

A change is applied to the scenario's *source table* (the parsed TOML, in file units: mm,
V, V/cm, us) and the whole table is read again by the same section readers, so a bad key
or value gets the same one-line :class:`ScenarioError` naming the dotted field as it
would in a file. List entries are addressed by index (``tumours.0`` or ``tumours[0]``).

Keys that exclude each other are swapped, not combined: setting ``protocol.voltage_V``
drops ``protocol.field_ratio_V_per_cm`` (and the other way round), ``protocol.pulses``
drops ``protocol.pulses_per_pair``, and ``electrode.catalogue`` drops ``electrode.type``
(the catalogue entry names its type). No I/O here.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Mapping

from simulator.errors import ScenarioError

# setting the first key removes the second from the same table
EXCLUSIVE = {
    ("protocol", "voltage_V"): "field_ratio_V_per_cm",
    ("protocol", "field_ratio_V_per_cm"): "voltage_V",
    ("protocol", "pulses"): "pulses_per_pair",
    ("protocol", "pulses_per_pair"): "pulses",
    ("electrode", "catalogue"): "type",
}
_INDEX = re.compile(r"\[(\d+)\]")


def split_key(key: str) -> list[str | int]:
    """``"tumours[0].depth_mm"`` / ``"tumours.0.depth_mm"`` -> ``["tumours", 0, "depth_mm"]``."""
    if not isinstance(key, str) or not key.strip():
        raise ScenarioError("--vary", f"a scenario key must be a non-empty dotted name, got {key!r}")
    parts: list[str | int] = []
    for raw in _INDEX.sub(r".\1", key.strip()).split("."):
        if not raw:
            raise ScenarioError(key, "is not a dotted scenario key (empty part)")
        parts.append(int(raw) if raw.isdigit() else raw)
    if isinstance(parts[0], int):
        raise ScenarioError(key, "must start with a table or key name, not an index")
    return parts


def apply_changes(data: Mapping[str, Any], changes: Mapping[str, Any]) -> dict:
    """A deep copy of the scenario table ``data`` with each dotted key set to its value.

    Missing tables on the way are created (``materials.tumour.sigma0_S_per_m`` works without
    a ``[materials]`` table); a list index must exist. Validation is the reader's job."""
    out = copy.deepcopy(dict(data))
    for key, value in changes.items():
        parts = split_key(key)
        node: Any = out
        for depth, part in enumerate(parts[:-1]):
            where = ".".join(str(p) for p in parts[:depth + 1])
            node = _child(node, part, parts[depth + 1], where, key)
        leaf = parts[-1]
        if isinstance(leaf, int):
            if not isinstance(node, list) or not -len(node) <= leaf < len(node):
                raise ScenarioError(key, f"no entry {leaf} to set (the list has {_length(node)} entries)")
            node[leaf] = copy.deepcopy(value)
            continue
        if not isinstance(node, dict):
            raise ScenarioError(key, f"{'.'.join(str(p) for p in parts[:-1])} is not a table")
        node[leaf] = copy.deepcopy(value)
        if len(parts) == 2 and (parts[0], leaf) in EXCLUSIVE:
            node.pop(EXCLUSIVE[(parts[0], leaf)], None)
    return out


def _child(node: Any, part: str | int, next_part: str | int, where: str, key: str) -> Any:
    """The table or list at ``part`` below ``node`` (created when it is a missing table)."""
    if isinstance(part, int):
        if not isinstance(node, list):
            raise ScenarioError(key, f"{where.rsplit('.', 1)[0]} is not a list; cannot index it with {part}")
        if not -len(node) <= part < len(node):
            raise ScenarioError(key, f"no entry {part}: {where.rsplit('.', 1)[0]} has {len(node)} "
                                f"entr{'y' if len(node) == 1 else 'ies'} (indices from 0)")
        return node[part]
    if not isinstance(node, dict):
        raise ScenarioError(key, f"{where.rsplit('.', 1)[0]} is not a table")
    if node.get(part) is None:
        if isinstance(next_part, int):
            raise ScenarioError(key, f"{where} has no entries to index")
        node[part] = {}
    return node[part]


def _length(node: Any) -> int:
    return len(node) if isinstance(node, list) else 0
