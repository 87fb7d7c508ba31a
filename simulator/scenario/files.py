"""Reading a scenario file safely: a regular file of sane size (never a device, FIFO or
socket read until memory runs out), whose parsed TOML is not absurdly nested."""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from simulator.errors import ScenarioError

MAX_BYTES = 16 * 2**20     # [A] scenarios are a few kB; 16 MiB leaves room for long explicit sequences
MAX_NESTING = 16           # [A] the deepest valid scenario nests 4 levels (materials.x.key, sequence pairs)

_KINDS = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device", stat.S_IFIFO: "a FIFO (named pipe)",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}


def read_scenario_bytes(p: Path) -> bytes:
    """The bytes of scenario file ``p``; ``ScenarioError('scenario', ...)`` for anything but a
    readable regular file of at most :data:`MAX_BYTES` bytes. Opened non-blocking, so a FIFO
    without a writer cannot hang the open."""
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ScenarioError("scenario", f"file {str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise ScenarioError("scenario", f"{str(p)!r} is a directory, not a scenario file") from None
    except OSError as exc:
        raise ScenarioError("scenario", f"cannot read {str(p)!r}: {exc.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        if kind == "a directory":
            raise ScenarioError("scenario", f"{str(p)!r} is a directory, not a scenario file")
        raise ScenarioError("scenario", f"{str(p)!r} is {kind}, not a regular scenario file")
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > MAX_BYTES:
            raise ScenarioError("scenario", f"{str(p)!r} is {st.st_size / 2**20:.0f} MiB, more than a scenario "
                                f"file can be ({MAX_BYTES // 2**20} MiB)")
        try:
            raw = fh.read(MAX_BYTES + 1)
        except OSError as exc:
            raise ScenarioError("scenario", f"cannot read {str(p)!r}: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:                    # grew while being read
        raise ScenarioError("scenario", f"{str(p)!r} is more than {MAX_BYTES // 2**20} MiB")
    return raw


def nesting_depth(data: Any) -> int:
    """How deeply tables and arrays nest in ``data`` (iteratively: no recursion limit)."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        x, depth = stack.pop()
        if isinstance(x, dict):
            children = x.values()
        elif isinstance(x, (list, tuple)):
            children = x
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_NESTING:
            break
        stack.extend((c, depth + 1) for c in children)
    return deepest


def check_nesting(data: Any, where: str = "scenario") -> None:
    """Refuse data nested more than :data:`MAX_NESTING` levels (no scenario needs it)."""
    if nesting_depth(data) > MAX_NESTING:
        raise ScenarioError("scenario", f"{where!r} nests arrays or tables more than {MAX_NESTING} levels deep; "
                            "no scenario key needs that")
