"""docs/errors.md against the code: every message it quotes can be emitted, and its exit-code
table is the CLI's.

A quoted message ``field: text`` is cut at its values (quoted names, numbers, ``...``); every
remaining piece of words must stand in a string literal of simulator/, electrodes/ or
protocols/ (f-string text between placeholders; a piece may span one placeholder). A
message renamed in the code, or documented but never written, fails here.
"""
from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "errors.md"
# quoted in the doc but written by other code: argparse's usage errors, the OS's strerror,
# tomllib's parse errors
FOREIGN = ("unrecognized arguments", "Permission denied", "Invalid value")
UNIT = r"(?: ?(?:S/m|V/cm|GB|mm|V|K))?"
VALUE = re.compile("|".join([
    r"'[^']*'", r'"[^"]*"', r"\.\.\.",                      # quoted names, elisions
    r"[-+]*\d[\d.]*(?:e[-+]?\d+)?" + UNIT,                  # numbers with their unit
    r"\[[^\]]*\]", r"--[\w-]+", r"[\w.]+_(?:mm|V|deg)\b",   # lists, options, keys
    r"[\w/]+\.toml", r"\b[A-Z]\d?\b",                       # file names, contact names
    r"valid: [^;)]*", r"library: [^;)]*", r"\([\w, -]+\)",   # lists of valid names
]))

@functools.lru_cache(maxsize=1)
def code_pieces() -> tuple[str, ...]:
    pieces = []
    for pkg in ("simulator", "electrodes", "protocols"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    pieces.append(node.value)
    return tuple(pieces)


def documented_messages() -> list[str]:
    """The backquoted messages in the first column of the doc's tables and its code blocks."""
    text = DOC.read_text()
    out = []
    for line in text.splitlines():
        if line.startswith("| `") and not line.startswith("| `0") :
            out += re.findall(r"`([^`]+)`", line.split(" | ")[0])
    out += [m.strip() for m in re.findall(r"```\n(.*?)\n```", text, re.S) if "error" in m and "<" not in m]
    return [m for m in out if ": " in m]


def fragments(message: str) -> list[str]:
    text = message.split("epsim: error: ")[-1]
    text = text.split(": ", 1)[1] if re.match(r"^[\w.\[\]-]+: ", text) else text
    parts = [p.strip(" ,;:()") for p in VALUE.split(text)]
    return [p for p in parts if len(p) >= 8 and " " in p]


def emitted(fragment: str, pieces: tuple[str, ...], max_parts: int = 4) -> bool:
    """Whether the fragment is the concatenation of at most ``max_parts`` pieces (3 characters
    or more) of string literals, split at spaces (messages are f-strings and reasons joined from helpers: the
    values between the literal parts are cut out already or are constants elsewhere)."""
    if any(fragment in p for p in pieces):
        return True
    words = fragment.split(" ")

    def found(seg: str) -> bool:
        seg = seg.strip(" ();:,")
        return len(seg) >= 3 and any(seg in p for p in pieces)    # no bare short words
    best = {0: 0}                           # words covered -> fewest parts
    for i in range(1, len(words) + 1):
        for j, n in list(best.items()):
            if j < i and n < max_parts and found(" ".join(words[j:i])):
                best[i] = min(best.get(i, max_parts + 1), n + 1)
    return len(words) in best


def test_doc_quotes_enough_messages():
    msgs = documented_messages()
    assert len(msgs) >= 60, len(msgs)
    assert sum(len(fragments(m)) for m in msgs) >= 80


def test_every_documented_message_can_be_emitted():
    pieces = code_pieces()
    missing = []
    for m in documented_messages():
        missing += [f"{m!r}: {f!r}" for f in fragments(m)
                     if not emitted(f, pieces) and not any(x in f for x in FOREIGN)]
    assert missing == []


def test_checker_catches_an_invented_message():
    pieces = code_pieces()
    assert not all(emitted(f, pieces) for f in fragments("tumours[0].depth_mm: must be purple, got 3"))
    assert all(emitted(f, pieces) for f in fragments("protocol.voltage_V: must be finite, got nan"))


def test_exit_code_table_is_the_clis():
    from simulator.cli import exits
    rows = dict(re.findall(r"^\| ([\d /]+) \| (.+?) \|$", DOC.read_text(), re.M))
    codes = {int(c) for key in rows for c in key.split(" / ")}
    assert codes == {exits.EXIT_OK, exits.EXIT_UNDER, exits.EXIT_INPUT, exits.EXIT_CONVERGENCE,
                     exits.EXIT_INTERNAL, exits.EXIT_INT, exits.EXIT_TERM}
    assert "fail-under" in rows[str(exits.EXIT_UNDER)] and "bad input" in rows[str(exits.EXIT_INPUT)]
    assert "converge" in rows[str(exits.EXIT_CONVERGENCE)] and "internal" in rows[str(exits.EXIT_INTERNAL)]
