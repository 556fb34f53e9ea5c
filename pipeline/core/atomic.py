"""Atomic file writes: a temp file in the destination folder, then rename.

A reader (or a run resumed after kill -9) sees either the old file or the complete new one,
never a prefix of it.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

# the names atomic_path gives its temp files: ".<dest name>.<mkstemp random>[suffix].tmp"
_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}.*\.tmp$")
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK  # what open() would give; mkstemp alone makes owner-only files


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, suffix: str = ""):
    """Yield a temp path beside `dest`; on success it replaces `dest`, on failure it is removed."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix + ".tmp", dir=dest.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(dest, data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def write_text(dest, text: str) -> None:
    write_bytes(dest, text.encode("utf-8"))


def write_json(dest, obj) -> None:
    write_text(dest, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def sweep_stale_temps(folder: str | os.PathLike, *, only: tuple[str, ...] = ()) -> list[Path]:
    """Remove temp files an atomic write left behind when its process was killed (kill -9).

    With `only`, just the temps of those destination names directly in `folder` (a convert's
    DST files); else every temp under `folder`. Call this only where no other process is
    writing the same destinations (a run directory at the start of a run): a live writer's
    temp file looks the same.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    paths = [p for name in only for p in folder.glob(f".{glob_escape(name)}.*.tmp")] if only else folder.rglob("*.tmp")
    for path in paths:
        if path.is_file() and _TEMP.match(path.name):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)
