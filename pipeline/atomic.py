"""Atomic file writes: a temp file in the destination folder, then rename.

A reader (or a run resumed after kill -9) sees either the old file or the complete new one,
never a prefix of it.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

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
