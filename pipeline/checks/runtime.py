"""EI9xx runtimes: bind the graph, and open the sessions the deployment will need, without a forward.

A model can pass every static rule and still be refused the moment something binds it: an
attribute MXNet parses but cannot use (a kernel larger than the input, a group count that
does not divide the channels), an export the exporter refuses, an ONNX graph ONNX Runtime or
OpenVINO will not open (GluonCV's YOLOv3 in ORT's `AddInitializerWithOrtValue`, SSD in
OpenVINO's `compile_model`). Those used to surface at convert or deploy time; here they are
check errors naming the node (and the attribute, where the runtime's text names one):

- EI911: MXNet's shape or type inference fails on the declared inputs (every shape set);
- EI912: the exporter refuses the graph (onnxruntime and openvino targets);
- EI913: the exporter warned that its translation changes semantics (mx2onnx logs these);
- EI914: the target's runtime refuses to open a session on the export (no forward runs);
- EI915: ONNX Runtime refuses to open an ONNX source's original file, which verify runs as
  the reference.

Every runtime call goes through pipeline/core/runtime_errors.py, so the message is one line
with the runtime's version; the full text goes to the log.
"""
from __future__ import annotations

import re

import numpy as np

from pipeline.checks.memory_fit import is_dynamic, shape_text
from pipeline.checks.subject import CheckSubject, rule
from pipeline.core.diagnostics import Diagnostic
from pipeline.core.errors import MxdeployError, TargetError
from pipeline.core.runtime_errors import runtime_call
from pipeline.onnx import export_warnings

EXPORT_CODES_COVERED = ("EXP101", "EXP102")
RUNTIME_CODES = ("EI911", "EI914", "EI915")  # a runtime refused: its full text is in the runtime log  # unexportable or fused ops: the operators rule (EI5xx) says so


def _attribute(subject: CheckSubject, node: str, text: str) -> str:
    """`num_filter: "four"` when the runtime's text names one of the node's attributes."""
    for n in subject.op_nodes():
        if n["name"] != node:
            continue
        for key, value in sorted(subject.attrs(n).items(), key=lambda kv: -len(kv[0])):
            if re.search(rf"(?<![\w]){re.escape(key)}(?![\w])", text):
                return f'{key}: "{value}"'
    return ""


def bind_problems(subject: CheckSubject) -> list[Diagnostic]:
    """EI911 for each static shape set MXNet cannot infer shapes or types for (cached on the subject)."""
    if "bind" in subject.cache:
        return subject.cache["bind"]
    sym = subject.bundle.symbol()
    # the params' own dtypes too: a float64 weight under a float32 input binds nowhere
    params = {**subject.bundle.arg_params, **subject.bundle.aux_params}
    arguments = set(sym.list_arguments()) | set(sym.list_auxiliary_states())
    dtypes = {**{k: v.dtype for k, v in params.items() if k in arguments},
              **{s.name: np.dtype(s.dtype) for s in subject.bundle.inputs}}
    names = [n["name"] for n in subject.op_nodes()]
    found = []
    for shapes in subject.shape_sets():
        if is_dynamic(shapes):
            continue
        try:
            with runtime_call("mxnet", f"shape inference at {shape_text(shapes)}", code="EI911", nodes=names):
                sym.infer_shape(**shapes)
            with runtime_call("mxnet", "type inference", code="EI911", nodes=names):
                sym.infer_type(**dtypes)
        except MxdeployError as exc:
            node = getattr(exc, "node", "")
            attr = _attribute(subject, node, getattr(exc, "detail", exc.message)) if node else ""
            found.append(Diagnostic("EI911", "error", exc.message + (f" (attribute {attr})" if attr else ""),
                                    node=node, hint="fix the node's attribute, or the declared input shape and "
                                                    "dtype; no forward can run until the graph binds"))
    subject.cache["bind"] = found
    return found


@rule("bind")
def check_bind(subject: CheckSubject) -> list[Diagnostic]:
    return bind_problems(subject)


@rule("runtime-session")
def check_runtime_session(subject: CheckSubject) -> list[Diagnostic]:
    """Export and open the target's session (onnxruntime, openvino), and an ONNX source's reference."""
    from pipeline.targets.onnx_base import ExportedOnnxTarget

    found = _reference_session(subject)
    if not issubclass(subject.target, ExportedOnnxTarget) or not subject.target.is_available():
        return found
    if bind_problems(subject) or any(is_dynamic(s) for s in subject.shape_sets()[:1]):
        return found  # nothing exports a graph that does not bind
    from pipeline.model import quantized

    if quantized.record(subject.bundle.metadata):
        return found  # a quantized bundle's file is opened by deploy, relative to its run directory
    session = subject.target()
    with export_warnings.captured(quiet=True) as logged:
        try:
            session.deploy(subject.bundle)
        except TargetError as exc:
            found.append(Diagnostic("EI914", "error", exc.message, node=getattr(exc, "node", ""),
                                    hint=exc.hint))
        except MxdeployError as exc:
            if exc.code not in EXPORT_CODES_COVERED:
                found.append(Diagnostic("EI912", "error", f"the ONNX export fails: {exc.code} {exc.message}",
                                        node=getattr(exc, "node", "") or exc.where, hint=exc.hint))
        finally:
            session.close()
    # the target collects its export's warnings (deploy reports them); anything logged after, here
    found += [d for d in session.deploy_diagnostics if d.code == export_warnings.CODE]
    found += export_warnings.diagnostics(logged, subject.op_nodes())
    return list(dict.fromkeys(found))


def _reference_session(subject: CheckSubject) -> list[Diagnostic]:
    reference = subject.bundle.metadata.get("reference") or {}
    if reference.get("kind") != "onnxruntime" or not reference.get("path"):
        return []
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        with runtime_call("onnxruntime", "to open the source model (verify's reference)", code="EI915",
                          where=reference["path"]):
            ort.InferenceSession(reference["path"], options, providers=["CPUExecutionProvider"])
    except MxdeployError as exc:
        return [Diagnostic("EI915", "error", f"{reference['path']}: {exc.message}", node=getattr(exc, "node", ""),
                           hint="ONNX Runtime runs the source file as verify's reference: give a file it supports "
                                "(another opset, or the op's float32 form)")]
    return []
