"""Leftovers of killed runs: hidden temporary folders and files named with their owner's PID.

A run that is SIGKILLed (or loses power) while writing leaves its temporary output folder
(``.NAME.partial-<pid>-<hex>``) or mesh-cache file (``mesh-<key>.npz.<pid>-<rand>.tmp``)
behind. A later run removes those whose owner process is dead, or that are older than
:data:`MAX_AGE_S` whatever their owner (a PID can be reused; writing takes seconds, not hours).
Only names matching epsim's own patterns are touched, never a symbolic link, never
anything that is not of the kind epsim writes (a folder for outputs, a file for the cache).
Sits below every pipeline stage (like ``errors`` and ``units``): both meshing and output use it.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import time
from pathlib import Path

log = logging.getLogger(__name__)

MAX_AGE_S = 6 * 3600.0      # [A] far longer than any write (seconds); older leftovers are stale anyway

# ``.<name>.partial-<pid>-<hex>`` / ``.<name>.old-<pid>-<hex>`` (output folders); the PID-less
# ``.<name>.partial-<hex8>`` of epsim <= 0.x is stale by age only.
OUTPUT_LEFTOVER = re.compile(r"\..+\.(?:partial|old)-(?:(?P<pid>\d+)-)?[0-9a-f]{8}")
# ``<file>.<pid>-<rand>.tmp`` of the mesh cache (tempfile.mkstemp adds the random part);
# the PID-less ``<file>.<rand>.tmp`` of earlier versions is stale by age only.
CACHE_LEFTOVER = re.compile(r"mesh-[0-9a-f]+\.npz\.(?:(?P<pid>\d+)-)?[A-Za-z0-9_]+\.tmp")


def owner_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (signal 0 probes without sending)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # exists, owned by another user
        return True
    except OSError:
        return True                  # cannot tell: keep it
    return True


def is_stale(pid: int | None, mtime: float, now: float | None = None) -> bool:
    """A leftover is stale when its owner is dead or it is older than :data:`MAX_AGE_S` (s)."""
    now = time.time() if now is None else now
    if now - mtime > MAX_AGE_S:
        return True
    return pid is not None and not owner_alive(pid)


def remove_stale(directory: Path, pattern: re.Pattern, *, folders: bool) -> list[str]:
    """Remove the stale leftovers matching ``pattern`` directly in ``directory``.

    ``folders`` selects the kind removed (folders for outputs, regular files for the
    cache); anything else, links included, is left alone. Returns the names removed.
    """
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if not m:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        kind_ok = stat.S_ISDIR(st.st_mode) if folders else stat.S_ISREG(st.st_mode)
        pid = int(m.group("pid")) if m.group("pid") else None
        if not kind_ok or not is_stale(pid, st.st_mtime):
            continue
        try:
            if folders:
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError as exc:
            log.warning("cannot remove stale leftover %s: %s", entry.path, exc)
            continue
        log.info("removed stale leftover %s", entry.path)
        removed.append(entry.name)
    return sorted(removed)
