"""The "current activity" breadcrumb a worker leaves before each risky native call.

A native crash (SIGABRT, SIGSEGV) inside MXNet, ONNX Runtime or OpenVINO kills the worker
before it can say anything; its supervisor only sees the signal. So the worker writes a small
JSON file (the stage, the runtime, what it was asked to do, the feed's value ranges) just
before each call into a runtime (pipeline/core/runtime_errors.py does it for every wrapped
call), and the supervisor reads it when the worker dies (pipeline/run/executors/supervise.py).

The file is named by the environment variable MXDEPLOY_ACTIVITY_FILE, which the process that
supervises sets for its child; in a process without it (the CLI itself) nothing is written.
The write is a rename of a small temp file, without fsync: a crash of the process keeps the
page cache, and the call it precedes may be a timed forward.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

ENV = "MXDEPLOY_ACTIVITY_FILE"
_last: dict = {}  # what this process last wrote, so an unchanged breadcrumb is not rewritten


_last_feed: list = [(), {}]  # [(the last feed's (name, array) pairs), their ranges]


def feed_ranges(feed) -> dict[str, list]:
    """{input: [dtype, shape, min, max]} of a feed: which values were going in when it crashed.

    The same arrays fed again (a latency loop) reuse their ranges: a min and a max over the
    input on every call cost resnet50 3% of its int8 forward in a worker, where this runs. The
    last feed's arrays are held, so a new array cannot take an old one's identity; one refilled
    in place keeps the ranges it had when first seen.
    """
    pairs = tuple((feed or {}).items())
    seen, ranges = _last_feed
    if len(seen) == len(pairs) and all(a == b and x is y for (a, x), (b, y) in zip(seen, pairs)):
        return ranges
    out = {}
    for name, value in pairs:
        arr = np.asarray(value)
        if arr.size and arr.dtype.kind in "biuf":
            out[name] = [arr.dtype.name, list(arr.shape), float(arr.min()), float(arr.max())]
        else:
            out[name] = [arr.dtype.name, list(arr.shape), None, None]
    _last_feed[:] = [pairs, out]
    return out


def note(**fields) -> None:
    """Merge `fields` into this process's breadcrumb and write it (a no-op without ENV)."""
    path = os.environ.get(ENV)
    if not path:
        return
    current = {**_last, **fields}
    if current == _last:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(current, fh, default=str)
        os.replace(tmp, path)
    except OSError:  # a breadcrumb is best-effort help for a crash report, never a failure itself
        return
    _last.clear()
    _last.update(current)


def start_stage(stage: str) -> None:
    """A new stage begins: forget the previous stage's runtime call."""
    _last.pop("runtime", None)
    note(stage=stage, runtime="", action="", feed={})


def read(path: str | os.PathLike) -> dict:
    """The breadcrumb a dead worker left ({} when there is none or it is unreadable)."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def describe(crumb: dict) -> str:
    """' while ONNX Runtime 1.20 ran inference (stage verify; input data float32 [1, 8] in [-1, 1])'."""
    if not crumb.get("runtime"):
        return f" (stage '{crumb['stage']}', outside any runtime call)" if crumb.get("stage") else ""
    ranges = []
    for name, (dtype, shape, low, high) in (crumb.get("feed") or {}).items():
        span = f" in [{low:g}, {high:g}]" if low is not None else ""
        ranges.append(f"{name} {dtype} {shape}{span}")
    feed = f"; inputs: {', '.join(ranges)}" if ranges else ""
    stage = f"stage '{crumb['stage']}', " if crumb.get("stage") else ""
    return f" while {crumb['runtime']} {crumb.get('version', '')} was in {crumb.get('action', 'a call')} ({stage}" \
           f"{feed.lstrip('; ') or 'no input feed'})"
