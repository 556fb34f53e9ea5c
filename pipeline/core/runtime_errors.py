"""The one wrapper between our code and a third-party runtime's exceptions.

Every call into MXNet (bind, infer_shape, forward, AMP, quantization), ONNX Runtime (session,
run, quantize_static), OpenVINO (read, compile, infer) and the ONNX checker and shape inference
goes through `runtime_call`. Their exceptions are untyped and multi-line: MXNet 1.9.1 prefixes
a Python-style "Traceback" and C++ frames, ONNX Runtime a `[ONNXRuntimeError] : 1 : FAIL :`
header, OpenVINO an `Exception from src/...cpp:NN:` line and `Check '...' failed at` frames.
`runtime_call` turns any of them into our coded error: one line naming the runtime and its
version, the node or op when the text names one, the reason line, and a hint; the raw text is
kept on the error (`detail`, printed by `--debug`) and appended to the log named by
MXDEPLOY_RUNTIME_LOG (a worker points it at the cell's log.txt), never to the terminal.
Our own bugs stay bugs: an `MxdeployError` raised inside the block passes through untouched.

`first_error_line` is the reason-line reader every loader uses for a native message.
"""
from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
import re
import time
from importlib import metadata as importlib_metadata

from pipeline.core import activity
from pipeline.core.errors import MxdeployError, TargetError

LOG_ENV = "MXDEPLOY_RUNTIME_LOG"
# runtime -> (the name users know it by, its distribution for the version)
RUNTIMES: dict[str, tuple[str, str]] = {
    "mxnet": ("MXNet", "mxnet"),
    "onnxruntime": ("ONNX Runtime", "onnxruntime"),
    "openvino": ("OpenVINO", "openvino"),
    "onnx": ("ONNX", "onnx"),
}
DEFAULT_HINT = ("deploy to another target, or run `pipeline compare MODEL@cpu MODEL@TARGET --localize` to find "
                "the node; the runtime's full text is in the log (or re-run with --debug)")
_FRAMES = ("Traceback", "File ", "[bt]", "Stack trace", "Exception from src", "Exception from ", "  ")
_PREFIXES = (re.compile(r"^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*"),
             re.compile(r"^\[\d\d:\d\d:\d\d\]\s*\S+:\d+:\s*"),
             re.compile(r"^\[\s*[A-Z_]+\s*\]\s*"),
             re.compile(r"^(MXNetError|RuntimeError|onnx\.\w+\.\w+Error|\w+Error):\s*"))
_SOURCE_REF = re.compile(r"\[\d\d:\d\d:\d\d\]\s*\S+:\d+:\s*")
# how runtimes name the node they refused, most specific first
_NODE_PATTERNS = (re.compile(r"Error in operator ([\w./:-]+)"), re.compile(r"<Node\(\w+\): ([^>]+)>"),
                  re.compile(r'name="([^"]+)"'),
                  re.compile(r"[Nn]ode \(([^)]+)\)"),
                  re.compile(r"[Nn]ode(?: with name| name)?\s*['\"]([^'\"]+)['\"]"),
                  re.compile(r"[Nn]ode:\s*([\w./:-]+)"),
                  re.compile(r"[Nn]ode name:\s*([\w./:-]+)"),
                  re.compile(r"\bfriendly_name\s*[=:]\s*['\"]?([\w./:-]+)"))
_OP_PATTERNS = (re.compile(r"\bOp \(([^)]+)\)"), re.compile(r"implementation for (\w+)\("),
                re.compile(r"-- (\w+)-\d+ with a message"), re.compile(r"rule found for operations:\s*([\w.]+)"),
                re.compile(r"\bop(?:_type)?[ :=]+['\"]?([A-Z][\w]+)"),
                re.compile(r"\bOperator\s+([A-Z][\w]+)"))
MAX_LINE = 300


@functools.lru_cache(maxsize=None)
@functools.lru_cache(maxsize=None)
def runtime_version(runtime: str) -> str:
    """The installed version of a runtime ('' when it is not installed).

    Cached: every inference notes it in the crash breadcrumb, and a metadata lookup costs
    0.2 ms, a third of squeezenet's int8 forward on OpenVINO."""
    dist = RUNTIMES.get(runtime, (runtime, runtime))[1]
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return ""


def runtime_label(runtime: str) -> str:
    name = RUNTIMES.get(runtime, (runtime, runtime))[0]
    version = runtime_version(runtime)
    return f"{name} {version}" if version else name


def reason_line(text: str) -> str:
    """The line of a native message that says why, without frames and headers."""
    lines = [ln.rstrip() for ln in str(text).splitlines() if ln.strip()]
    for line in lines:
        if line.startswith("MXNetError:"):
            return _clean(line)
    for line in lines:
        if "Check failed" in line:
            return _clean(line)
    rest = [c for c in (_clean(ln) for ln in lines
                        if not ln.startswith(_FRAMES) and not re.match(r"^Check '.*' failed at", ln)) if c]
    # OpenVINO lists what it could not convert as "-- ..." lines after a summary: that is the reason
    listed = [c[3:] for c in rest if c.startswith("-- ")]
    for i, line in enumerate(rest):
        if line.endswith(":") and i + 1 < len(rest):  # "Load model failed:" / "Failed operations:": say what
            line = f"{line} {rest[i + 1]}"
        if listed and listed[0] not in line:
            line = f"{line} {listed[0]}"
        return line[:MAX_LINE]
    return _clean(lines[0]) if lines else ""


def _clean(line: str) -> str:
    line = line.strip()
    for pattern in _PREFIXES:
        line = pattern.sub("", line)
    line = _SOURCE_REF.sub("", line)  # MXNet's "[11:15:25] ../src/operator/nn/convolution.cc:301: " mid-line
    return line.strip()[:MAX_LINE]


def first_error_line(exc: BaseException) -> str:
    """The reason line of a native exception (MXNet, ONNX Runtime, OpenVINO, ONNX), or its type."""
    return reason_line(str(exc)) or type(exc).__name__


def named_node(text: str, nodes=()) -> tuple[str, str]:
    """(node, op) the runtime's text names, '' where it names none; a known node name wins."""
    text = str(text)
    node = next((n for n in nodes if n and re.search(rf"(?<![\w.]){re.escape(n)}(?![\w])", text)), "")
    if not node:
        for pattern in _NODE_PATTERNS:
            found = pattern.search(text)
            if found:
                node = found.group(1).rstrip(":.,")
                break
    op = ""
    for pattern in _OP_PATTERNS:
        found = pattern.search(text)
        if found:
            op = found.group(1)
            break
    return node, op


def log_raw(runtime: str, action: str, text: str) -> None:
    """Append a runtime's full text to MXDEPLOY_RUNTIME_LOG (the cell's log.txt in a worker)."""
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    stamp = time.strftime("%H:%M:%S")
    with contextlib.suppress(OSError):
        with open(path, "a", encoding="utf-8", errors="replace") as fh:
            fh.write(f"[{stamp}] {runtime_label(runtime)} failed in {action}; its full text:\n{text.rstrip()}\n")


def wrap(exc: BaseException, runtime: str, action: str, *, code: str, error: type[MxdeployError] = TargetError,
         where: str = "", hint: str = "", nodes=()) -> MxdeployError:
    """The coded error for a runtime's exception; see the module docstring."""
    text = str(exc) or type(exc).__name__
    log_raw(runtime, action, text)
    node, op = named_node(text, nodes)
    at = ""
    if node:
        at = f" at node '{node}'" + (f" (op {op})" if op else "")
    elif op:
        at = f" at op {op}"
    message = f"{runtime_label(runtime)} refused {action}{at}: {first_error_line(exc)}"
    out = error(message, code=code, where=where or node, hint=hint or DEFAULT_HINT)
    out.detail = text
    out.node = node
    return out


class runtime_call:  # noqa: N801 - used as a function: `with runtime_call(...):`
    """Run the block as a call into `runtime`; its exceptions become one coded `error`.

    `action` reads after "refused" ("the session for model.onnx", "inference"); `feed` is the
    input feed, recorded in the crash breadcrumb (pipeline/core/activity.py) with its ranges;
    `nodes` are the graph's node names, matched in the runtime's text to name the culprit.

    A class rather than a generator: it wraps every timed forward, and the generator with its
    breadcrumb arguments built on every call (looked up even where no breadcrumb is written)
    cost 3 us a call, 1% of a small int8 model's forward.
    """

    __slots__ = ("runtime", "action", "code", "error", "where", "hint", "feed", "nodes", "_printed", "_stdout")

    def __init__(self, runtime: str, action: str, *, code: str, error: type[MxdeployError] = TargetError,
                 where: str = "", hint: str = "", feed=None, nodes=()):
        self.runtime, self.action, self.code, self.error = runtime, action, code, error
        self.where, self.hint, self.feed, self.nodes = where, hint, feed, nodes

    def __enter__(self) -> None:
        if os.environ.get(activity.ENV):  # only a supervised worker leaves a breadcrumb
            activity.note(runtime=RUNTIMES.get(self.runtime, (self.runtime,))[0],
                          version=runtime_version(self.runtime), action=self.action,
                          feed=activity.feed_ranges(self.feed) if self.feed is not None else {})
        # MXNet's Python layer print()s "infer_shape error. Arguments: ..." before raising: log it instead
        self._printed, self._stdout = io.StringIO(), sys.stdout
        sys.stdout = self._printed

    def __exit__(self, kind, exc, traceback) -> bool:
        sys.stdout = self._stdout
        printed = self._printed.getvalue()
        if kind is None:
            if printed:
                sys.stdout.write(printed)  # a call that succeeded keeps its output where it was going
            return False
        if isinstance(exc, MxdeployError) or not isinstance(exc, Exception):
            return False  # our own errors pass through untouched, and so does Ctrl-C
        if printed.strip():
            log_raw(self.runtime, f"{self.action} (what it printed)", printed)
        raise wrap(exc, self.runtime, self.action, code=self.code, error=self.error, where=self.where,
                   hint=self.hint, nodes=self.nodes) from None
