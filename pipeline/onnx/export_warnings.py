"""The exporter's warnings as coded diagnostics (EI913), for `check` and for the deploy stage.

mx2onnx warns through the root logger when its translation changes what the model computes
(`dot` on inputs > 2-D: "the behavior ... is different from that of MXNet dot"; MXNet's own
box_nms converter: boxes of different classes "will NOT be exempted from suppression"). Logged
only, such a warning reached nobody but log.txt; collected here, each becomes one EI913
warning naming the node, in check's findings and in deploy's stage report.
"""
from __future__ import annotations

import contextlib
import logging
import warnings

from pipeline.core.diagnostics import Diagnostic

CODE = "EI913"
HINT = "verify the deployment against the reference (the translation may change the result), or deploy to cpu"


# Loggers that are not the exporter's: ONNX Runtime's transformer optimizer runs inside a deploy's
# export and warns about its own heuristics ('Model producer not matched: Expected "pytorch"'),
# which say nothing about what the translation computes. Their records go to the log only.
RUNTIME_LOGGERS = ("onnxruntime",)


def _is_runtime(record) -> bool:
    return any(record.name == n or record.name.startswith(n + ".") for n in RUNTIME_LOGGERS)


class _ExporterLog(logging.Handler):
    """Collects what the exporter logs at WARNING and above while an export runs; a runtime's
    records are handed to `passthrough` (the log) when the capture keeps them from the root's."""

    def __init__(self, passthrough: list[logging.Handler]):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.passthrough = passthrough

    def emit(self, record) -> None:
        if not _is_runtime(record):
            self.messages.append(record.getMessage())
            return
        for handler in self.passthrough:
            if record.levelno >= handler.level:
                handler.handle(record)


@contextlib.contextmanager
def captured(*, quiet: bool):
    """Yields the list the exporter's warnings are appended to. quiet: they are not passed on
    (check prints its findings itself); else they still reach the root logger's handlers, or
    stderr (a cell's log.txt) when it has none, as they did without the capture. A runtime's
    warnings (RUNTIME_LOGGERS) reach those handlers either way, and are never collected."""
    root = logging.getLogger()
    saved = root.handlers[:]
    sinks = saved or [logging.lastResort]
    handler = _ExporterLog(passthrough=sinks if quiet else [])
    root.handlers = [handler] if quiet else sinks + [handler]
    try:
        with warnings.catch_warnings():
            # onnx's own DeprecationWarnings about the exporter's code are not about the model
            warnings.simplefilter("ignore")
            yield handler.messages
    finally:
        root.handlers = saved


def diagnostics(messages: list[str], op_nodes: list[dict]) -> list[Diagnostic]:
    """One EI913 per distinct message, naming the node it is about when the text tells which:
    the node's name, or mx2onnx's op prefix ("box_nms: ...", "Converting dot operator...")."""
    return [_diagnostic(text, op_nodes) for text in dict.fromkeys(messages)]


def _diagnostic(text: str, op_nodes: list[dict]) -> Diagnostic:
    first = " ".join(text.split())[:300]
    node = next((n["name"] for n in op_nodes if n["name"] in first), "")
    if not node:
        words = first.split(":", 1)[0].split() if ":" in first else first.split()[:3]
        node = next((n["name"] for n in op_nodes for w in words
                     if w.strip(".") and (n["op"] == w.strip(".") or n["op"].endswith("_" + w.strip(".")))), "")
    return Diagnostic(CODE, "warning", f"the ONNX exporter warns: {first}", node=node, hint=HINT)
