"""Where a one-shot command (`pipeline check`) keeps the runtimes' full text.

A run keeps it in each cell's log.txt (the worker points MXDEPLOY_RUNTIME_LOG there); a command
outside a run has no cell, so its refusals would say "the full text is in the log" of nothing.
This names a file up front (`--log`, else one in the system's temp folder) and points the
wrapper at it; the wrapper creates it only at the first refusal, so a clean check leaves no
file. At the end the hints name the file, and `--debug` prints its text to stderr.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

from pipeline.core.runtime_errors import LOG_ENV

LOG_PHRASE = "in the log"


class RuntimeLog:
    def __init__(self, path: Path):
        self.path = path

    def written(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    def named(self, hint: str, *, runtime: bool = False) -> str:
        """`hint` with "in the log" naming the file, once the file exists; a `runtime` finding whose
        hint does not mention the log gets the file appended."""
        if not self.written():
            return hint
        if LOG_PHRASE in (hint or ""):
            return hint.replace(LOG_PHRASE, f"in {self.path}")
        return f"{hint}; the runtime's full text is in {self.path}" if runtime else hint


def default_path(command: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.gettempdir()) / f"mxdeploy-{command}-{stamp}-{os.getpid()}.log"


@contextlib.contextmanager
def runtime_log(command: str, path: str | None, *, debug: bool):
    """Point the runtime wrapper at a log for the block; a caller's own log (a worker's) wins."""
    if os.environ.get(LOG_ENV):
        yield RuntimeLog(Path(os.environ[LOG_ENV]))
        return
    log = RuntimeLog(Path(path).resolve() if path else default_path(command))
    log.path.parent.mkdir(parents=True, exist_ok=True)
    os.environ[LOG_ENV] = str(log.path)
    try:
        yield log
    finally:
        os.environ.pop(LOG_ENV, None)
        if debug and log.written():
            sys.stderr.write(log.path.read_text(encoding="utf-8", errors="replace"))
