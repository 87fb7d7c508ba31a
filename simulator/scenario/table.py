"""Reading one TOML table: typed getters that name the dotted field in every error and
refuse unknown keys (suggesting the closest valid one).
"""
from __future__ import annotations
import difflib
import math
import re
from typing import Any
from simulator.errors import ScenarioError
from simulator.units import MM
from simulator.scenario.records import MAX_BLOCK
from simulator.scenario.limits import CONTINUUM_LENGTH


# ----------------------------------------------------------------------------- helpers
class Table:
    """A TOML table being read: tracks the dotted path and refuses unknown keys."""

    def __init__(self, data: Any, path: str):
        if not isinstance(data, dict):
            raise ScenarioError(path, f"must be a table, got {type_name(data)}")
        self.data, self.path, self.used = data, path, set()

    def key(self, k: str) -> str:
        k = k if isinstance(k, str) and BARE_KEY.fullmatch(k) else quote_key(k)
        return f"{self.path}.{k}" if self.path else k

    def has(self, k: str) -> bool:
        return self.data.get(k) is not None          # None (Python callers) counts as absent

    def required(self, k: str) -> None:
        """Raise '<path>.k: is required' (pointing at a likely typo among the given keys)."""
        if self.has(k):
            return
        typo = difflib.get_close_matches(k, [x for x in self.data if isinstance(x, str)], n=1, cutoff=0.8)
        raise ScenarioError(self.key(k), "is required" + (f" (is {typo[0]!r} a typo?)" if typo else ""))

    def get(self, k: str, default: Any = None) -> Any:
        self.used.add(k)
        v = self.data.get(k)
        return default if v is None else v

    def only(self, keys: list[str]) -> None:
        """Refuse now any key not among ``keys`` (so that a misspelt key is named as such, not
        hidden behind a later 'is required' of the key it misspells)."""
        for k in self.data:
            if k not in keys:
                self._refuse(k, sorted(keys))

    def finish(self, allowed: list[str] | None = None) -> None:
        """Refuse keys that were not read (typos), suggesting the closest valid one."""
        valid = sorted(set(allowed or []) | self.used)
        for k in self.data:
            if k not in self.used:
                self._refuse(k, valid)

    def _refuse(self, k: Any, valid: list[str]) -> None:
        """'<path>.k: unknown key', with the closest of ``valid`` or the whole list."""
        hint = difflib.get_close_matches(str(k), valid, n=1)
        tip = f" (did you mean {hint[0]!r}?)" if hint else f"; valid: {', '.join(valid)}"
        raise ScenarioError(self.key(k), f"unknown key{tip}")

    # typed getters --------------------------------------------------------
    def number(self, k: str, default: Any = None, *, positive=True, allow_zero=False,
               maximum: float | None = None, required=False) -> float | None:
        if required:
            self.required(k)
        v = self.get(k, default)
        return None if v is None else number(self.key(k), v, positive, allow_zero, maximum)

    def integer(self, k: str, default: Any = None, *, minimum=1, maximum=None) -> int | None:
        v = self.get(k, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise ScenarioError(self.key(k), f"must be an integer, got {show(v)}")
        if v < minimum or (maximum is not None and v > maximum):
            hi = f" and <= {maximum}" if maximum is not None else ""
            raise ScenarioError(self.key(k), f"must be >= {minimum}{hi}, got {v}")
        return v

    def string(self, k: str, default: Any = None, *, choices=None, required=False) -> str | None:
        if required:
            self.required(k)
        v = self.get(k, default)
        if v is None:
            return None
        if not isinstance(v, str):
            raise ScenarioError(self.key(k), f"must be a string, got {show(v)}")
        if choices is not None and v not in choices:
            raise ScenarioError(self.key(k), f"unknown value {v!r}; valid: {', '.join(choices)}")
        return v

    def vector(self, k: str, n: int, default: Any = None, *, positive=False, required=False,
               maximum: float | None = None):
        if required:
            self.required(k)
        v = self.get(k, default)
        if v is None:
            return None
        if not isinstance(v, list) or len(v) != n:
            raise ScenarioError(self.key(k), f"must be a list of {n} numbers, got {show(v)}")
        return tuple(number(f"{self.key(k)}[{i}]", x, positive, False, maximum) for i, x in enumerate(v))

    def boolean(self, k: str, default: bool) -> bool:
        v = self.get(k, default)
        if not isinstance(v, bool):
            raise ScenarioError(self.key(k), f"must be true or false, got {show(v)}")
        return v


BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def quote_key(k: Any) -> str:
    """A TOML quoted key, printable on one line."""
    return '"' + str(k).encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def type_name(v: Any) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(v), type(v).__name__)


def show(v: Any) -> str:
    """A value as an error message shows it: short lists in full ("a list [30, 30]")."""
    if isinstance(v, list):
        text = repr(v)
        return f"a list {text}" if len(text) <= 40 else f"a list of {len(v)} items"
    if isinstance(v, dict):
        return type_name(v)
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def number(key: str, v: Any, positive: bool, allow_zero: bool, maximum: float | None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ScenarioError(key, f"must be a number, got {show(v)}")
    v = float(v)
    if not math.isfinite(v):
        raise ScenarioError(key, f"must be finite, got {v}")
    if positive and (v < 0 or (v == 0 and not allow_zero)):
        raise ScenarioError(key, f"must be {'>= 0' if allow_zero else '> 0'}, got {v:g}")
    if maximum is not None and abs(v) > maximum:
        raise ScenarioError(key, f"must be at most {maximum:g}{unit_of(key)}, got {v:g}")
    return v


UNITS = {"_mm": " mm", "_V": " V", "_us": " us", "_Hz": " Hz", "_V_per_cm": " V/cm", "_S_per_m": " S/m",
          "_A": " A", "_deg": " deg"}


def unit_of(key: str) -> str:
    """The unit a scenario key carries as its suffix (size_mm[1] -> ' mm'), for messages."""
    base = key.split("[")[0] if key.endswith("]") else key
    return next((u for suffix, u in UNITS.items() if base.endswith(suffix)), "")


def missing(field_name: str):
    raise ScenarioError(field_name, "is required")


def convert(kind: str, key: str, v: Any, positive: bool):
    if kind == "length":
        length = number(key, v, True, not positive, MAX_BLOCK / MM) * MM   # >= 0 always
        if positive and length < CONTINUUM_LENGTH:
            raise ScenarioError(key, f"must be >= {CONTINUUM_LENGTH / MM:g} mm (below a cell's size, ~10 um, "
                                f"tissue is no continuum [A]), got {length / MM:g}")
        return length
    if kind == "angle":
        return number(key, v, False, True, 360.0)
    if kind == "count":
        if isinstance(v, bool) or not isinstance(v, int) or v < 1 or v > 50:
            raise ScenarioError(key, f"must be an integer from 1 to 50, got {show(v)}")
        return v
    if kind == "point":
        if not isinstance(v, list) or len(v) != 2:
            raise ScenarioError(key, f"must be a list of 2 numbers, got {show(v)}")
        return tuple(number(f"{key}[{i}]", x, False, True, None) * MM for i, x in enumerate(v))
    if kind == "bool":
        if not isinstance(v, bool):
            raise ScenarioError(key, f"must be true or false, got {show(v)}")
        return v
    raise AssertionError(kind)
