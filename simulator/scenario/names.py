"""Names are data: the scenario, tumour, needle and material names a scenario gives appear
in messages, the terminal summary, figures and file headers, so they must not carry
terminal control (newlines that forge extra lines, ANSI escapes) or invisible reordering."""
from __future__ import annotations

import unicodedata

from simulator.errors import ScenarioError

# bidirectional embeddings, overrides and isolates: they reorder what a terminal shows [A]
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def control_characters(text: str) -> list[str]:
    """The control characters in ``text``: C0 (incl. newline, tab, ESC), DEL, C1, bidi controls."""
    return [c for c in text if unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS]


def check_name(field: str, name: str, hint: str = "") -> str:
    """``name`` unchanged, or a one-line ``ScenarioError`` on ``field`` if it holds control characters."""
    if not isinstance(name, str):          # the type is checked by the table's getters
        return name
    bad = control_characters(name)
    if bad:
        codes = ", ".join(sorted({f"U+{ord(c):04X}" for c in bad}))
        raise ScenarioError(field, f"must not contain control characters (newlines, tabs, escape sequences; "
                            f"here {codes}), got {name!r}{hint}")
    return name
