"""All-or-nothing output directories: files go to a temporary directory beside the
target and are renamed into place only when complete.
"""
from __future__ import annotations
import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from simulator.errors import ScenarioError


def safe_name(name: str) -> str:
    """A file-name-safe slug of a scenario name (never a path: no separators, no dots first)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    return slug[:80] or "scenario"


def check_target(out_dir: Path, force: bool, markers: tuple[str, ...] = ("report.json",)) -> None:
    """Refuse to overwrite an existing output directory without ``force``, or to write where
    we cannot (checked before any work is done, so a long run does not fail at the end).
    ``--force`` replaces only a directory holding one of ``markers`` (an epsim output)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ScenarioError("--out", f"{str(out_dir)!r} exists and is not a directory")
    if out_dir.exists() and not force:
        raise ScenarioError("--out", f"output directory {str(out_dir)!r} exists; use --force to replace it")
    if out_dir.exists() and any(out_dir.iterdir()) and not any((out_dir / m).is_file() for m in markers):
        # --force replaces earlier outputs only: never a home or project directory by mistake
        raise ScenarioError("--out", f"{str(out_dir)!r} is not empty and holds no {' or '.join(markers)} (not an "
                                     "epsim output); refusing to replace it even with --force")
    parent = out_dir.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ScenarioError("--out", f"cannot create {str(out_dir)!r}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ScenarioError("--out", f"cannot create {str(out_dir)!r}: no write permission in {str(parent)!r}")


@contextmanager
def atomic_directory(out_dir: Path, force: bool = False,
                     markers: tuple[str, ...] = ("report.json",)) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces ``out_dir``, on failure it vanishes."""
    out_dir = Path(out_dir)
    check_target(out_dir, force, markers)
    tmp = out_dir.parent / f".{out_dir.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as exc:
        raise ScenarioError("--out", f"cannot create {str(out_dir)!r}: {exc.strerror}") from None
    trash = None
    try:
        yield tmp
        if out_dir.exists():
            trash = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out_dir, trash)
            os.replace(tmp, out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if trash is not None and trash.exists():   # interrupted mid-swap
            if out_dir.exists():
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.replace(trash, out_dir)          # keep the old output
        raise


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
