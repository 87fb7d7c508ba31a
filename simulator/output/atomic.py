"""All-or-nothing output directories: files go to a temporary directory beside the
target and are renamed into place only when complete.

The final existence check and rename happen under an exclusive lock on the parent
directory (``flock``), so of two runs writing one ``--out`` the second is refused unless
``--force``. The temporary names carry the PID, so that leftovers of a killed run are
removed by the next run (:mod:`simulator.leftovers`). Parent folders a failed run created
are removed again; file-system errors (no space left, read-only) are one-line input errors.
"""
from __future__ import annotations
import errno
import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from simulator.errors import ScenarioError
from simulator.leftovers import OUTPUT_LEFTOVER, remove_stale
from simulator.output.target import MARKER, check_replaceable, check_target, marker_text, normalised

try:
    import fcntl
except ImportError:                      # not POSIX: no lock (the check is then best effort)
    fcntl = None

__all__ = ["atomic_directory", "check_target", "safe_name", "write_json"]

# errors of the place written to, not of epsim: reported as bad --out (exit 2)
USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG,
               errno.ENAMETOOLONG, errno.EIO, errno.ENOTDIR, errno.ELOOP}


def safe_name(name: str) -> str:
    """A file-name-safe slug of a scenario name (never a path: no separators, no dots first)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    return slug[:80] or "scenario"


@contextmanager
def _parent_lock(parent: Path) -> Iterator[None]:
    """Exclusive ``flock`` on the parent directory itself (no lock file is left behind)."""
    fd = None
    if fcntl is not None:
        try:
            fd = os.open(parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:                  # unreadable parent, no locks (some NFS): best effort
            if fd is not None:
                os.close(fd)
            fd = None
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)                 # releases the lock


def _make_parents(parent: Path) -> list[Path]:
    """Create the missing folders above the target; return those created (deepest last)."""
    missing = []
    p = parent
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    created = []
    for p in reversed(missing):
        try:
            p.mkdir()
        except FileExistsError:
            continue                     # made meanwhile by another process: not ours
        created.append(p)
    return created


def _remove_parents(created: list[Path]) -> None:
    for p in reversed(created):
        try:
            p.rmdir()                    # only if still empty
        except OSError:
            break


def _write_error(exc: OSError, out_dir: Path | str) -> ScenarioError:
    where = f" ({Path(exc.filename).name})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = "no space left on the device (or quota exceeded)"
    else:
        what = exc.strerror or str(exc)
    return ScenarioError("--out", f"cannot write {str(out_dir)!r}{where}: {what}; nothing written")


@contextmanager
def atomic_directory(out_dir: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces ``out_dir``, on failure it vanishes
    (with the parent folders it created). The marker :data:`MARKER` is added last."""
    given = out_dir
    check_target(out_dir, force)
    out = normalised(out_dir)
    created = []
    try:
        created = _make_parents(out.parent)
        remove_stale(out.parent, OUTPUT_LEFTOVER, folders=True)
        tmp = out.parent / f".{out.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
    except OSError as exc:
        _remove_parents(created)
        raise ScenarioError("--out", f"cannot create {str(given)!r}: {exc.strerror}") from None
    trash = None
    try:
        try:
            yield tmp
            files = sorted(os.listdir(tmp))
            (tmp / MARKER).write_text(marker_text(files), encoding="utf-8")
            with _parent_lock(out.parent):
                if os.path.lexists(out):         # appeared while this run worked: check again
                    if os.path.islink(out) or not out.is_dir():
                        check_target(out_dir, force)
                    check_replaceable(out, given, force)
                    trash = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                    os.replace(out, trash)
                    os.replace(tmp, out)
                else:
                    try:
                        os.replace(tmp, out)
                    except OSError as exc:       # made meanwhile by a program that does not lock
                        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                            check_replaceable(out, given, force=False)
                        raise
        except OSError as exc:
            if exc.errno in USER_ERRNOS:
                raise _write_error(exc, given) from None
            raise
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if trash is not None and trash.exists():   # interrupted mid-swap
            if out.exists():
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.replace(trash, out)          # keep the old output
        if not out.exists():
            _remove_parents(created)
        raise


def write_json(path: Path, data: dict) -> None:
    """Strict JSON (never NaN or Infinity: ``ValueError`` if ``data`` holds one)."""
    path.write_text(json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n", encoding="utf-8")
