"""Where a run may write: the ``--out`` directory, checked before any work is done.

An output directory epsim wrote holds a marker file, :data:`MARKER` (``.epsim-output``),
listing the files it wrote. ``--force`` replaces a directory only when it is empty, or holds
that marker (of this format) and nothing but the files the marker lists; never anything
else, never a symbolic link, never the current directory or one that contains it.
"""
from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

from simulator.errors import ScenarioError

MARKER = ".epsim-output"
MARKER_FORMAT = "epsim-output/1"
# the longest name epsim adds beside the target: ".<name>.partial-<pid>-<hex8>"
_TMP_EXTRA = len(".") + len(".partial-") + 10 + len("-") + 8
_LONGEST_FILE = len("coverage.png") + 16          # [A] room for the longest file name inside


def marker_text(files: list[str]) -> str:
    """The marker's content: its format tag and the files epsim wrote (JSON, one line)."""
    return json.dumps({"format": MARKER_FORMAT, "files": sorted(files)}) + "\n"


def _shown(p: Path | str) -> str:
    return repr(str(p))


def normalised(out_dir: Path | str) -> Path:
    """The absolute, lexically normalised path (``a/b/..`` -> ``a``), links not followed."""
    return Path(os.path.abspath(os.fspath(out_dir)))


def foreign_entry(out_dir: Path) -> str | None:
    """Why ``out_dir`` (an existing directory) is not replaceable, or None when it is:
    empty, or the marker of this format plus only the regular files the marker lists."""
    names = sorted(os.listdir(out_dir))
    if not names:
        return None
    marker = out_dir / MARKER
    try:
        if not stat.S_ISREG(os.lstat(marker).st_mode):
            raise OSError
        info = json.loads(marker.read_text(encoding="utf-8"))
        listed = set(info["files"]) if info.get("format") == MARKER_FORMAT else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        listed = None
    if listed is None:
        return f"has no {MARKER} marker ({MARKER_FORMAT}), so epsim did not write it"
    for name in names:
        if name == MARKER:
            continue
        if name not in listed:
            return f"holds {name!r}, which epsim did not write"
        if not stat.S_ISREG(os.lstat(out_dir / name).st_mode):
            return f"holds {name!r}, which is not the regular file epsim wrote"
    return None


def check_replaceable(out_dir: Path, given: Path | str, force: bool) -> None:
    """Refuse an existing ``out_dir`` without ``force``, or one that epsim did not write."""
    why = foreign_entry(out_dir)        # first: --force would not help, so do not suggest it
    if why is not None:
        raise ScenarioError("--out", f"{_shown(given)} {why}; epsim replaces only directories it wrote "
                            "(even with --force): give a new directory name")
    if not force:
        raise ScenarioError("--out", f"output directory {_shown(given)} exists; use --force to replace it")


def _check_lengths(out: Path, given: Path | str, existing: Path) -> None:
    """Names and path short enough for the file system (with epsim's temporary names)."""
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    new_parts = out.relative_to(existing).parts
    for i, part in enumerate(new_parts):
        extra = _TMP_EXTRA if i == len(new_parts) - 1 else 0
        size = len(os.fsencode(part))
        if size + extra > name_max:
            shown = repr(part) if len(part) <= 40 else repr(part[:20] + "..." + part[-8:])
            raise ScenarioError("--out", f"the name {shown} is {size} bytes, too long for this file system "
                                f"(at most {name_max - extra} here: {name_max} per name"
                                + (f", less {extra} for epsim's temporary folder beside it)" if extra else ")"))
    if len(os.fsencode(str(out))) + _TMP_EXTRA + _LONGEST_FILE > path_max:
        raise ScenarioError("--out", f"the path {_shown(str(given)[:60])}... is too long for this file system "
                            f"({path_max} bytes); use a shorter one")


def _existing_ancestor(out: Path) -> Path:
    existing = out.parent
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    return existing


def check_target(out_dir: Path | str, force: bool) -> None:
    """Refuse an ``--out`` epsim must not or cannot write (checked before any work is done,
    so a long run does not fail at the end)."""
    out = normalised(out_dir)
    cwd = normalised(os.getcwd())
    if out == cwd or cwd.is_relative_to(out):
        raise ScenarioError("--out", f"{_shown(out_dir)} is the current directory or contains it; "
                            "give a new directory name")
    if out.parent == out:
        raise ScenarioError("--out", f"{_shown(out_dir)} is the root of the file system")
    try:
        st = os.lstat(out)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            _check_lengths(out, out_dir, _existing_ancestor(out))
        raise ScenarioError("--out", f"cannot use {_shown(out_dir)}: {exc.strerror}") from None
    if st is not None and stat.S_ISLNK(st.st_mode):
        link = os.readlink(out)
        if not os.path.exists(out):
            raise ScenarioError("--out", f"{_shown(out_dir)} is a dangling symbolic link (to {link!r}); "
                                "remove it or give another directory")
        raise ScenarioError("--out", f"{_shown(out_dir)} is a symbolic link (to {link!r}); epsim does not "
                            "replace links: give the directory itself or a new name")
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise ScenarioError("--out", f"{_shown(out_dir)} exists and is not a directory")
    if st is not None:
        check_replaceable(out, out_dir, force)
    existing = _existing_ancestor(out)
    if not existing.is_dir():
        raise ScenarioError("--out", f"cannot create {_shown(out_dir)}: {_shown(existing)} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ScenarioError("--out", f"cannot create {_shown(out_dir)}: no write permission in {_shown(existing)}")
    _check_lengths(out, out_dir, existing)
