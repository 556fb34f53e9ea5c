"""Work-arounds for MXNet 1.9.1's ONNX converter (mxnet/onnx/mx2onnx), one function per quirk.

Each was found by a test in tests/pipeline/test_onnx_export.py that fails without it. They
rewrite what the converter is given (the graph JSON, the params) or the context it runs in,
never the converter itself.
"""
from __future__ import annotations

import contextlib
import functools
import json
import threading

import numpy as np

from pipeline.model.symbol_json import node_attrs

_CHECKER_LOCK = threading.Lock()
_BOOLEAN = "boolean, optional, default="


@contextlib.contextmanager
def checker_opset(opset: int):
    """Pin onnx.checker's DEFAULT_CONTEXT opset while the converter checks its own graph.

    `create_onnx_graph_proto` ends with `onnx.checker.check_graph(graph)`, which validates
    against onnx's module-level default context: the newest opset (23 with onnx 1.18), where
    ReduceMean & co. no longer take an `axes` attribute. The context is shared by the process,
    so it is changed under a lock and restored on the way out.
    """
    from onnx import checker

    with _CHECKER_LOCK:
        saved = checker.DEFAULT_CONTEXT.opset_imports
        checker.DEFAULT_CONTEXT.opset_imports = {"": opset}
        try:
            yield
        finally:
            checker.DEFAULT_CONTEXT.opset_imports = saved


@functools.lru_cache(maxsize=None)
def _boolean_defaults(op: str) -> dict[str, str]:
    """{attribute: 'True'|'False'} for the plain boolean attributes of MXNet op `op`."""
    import mxnet as mx

    try:
        info = mx.operator.get_operator_arguments(op)
    except mx.MXNetError:
        return {}
    out = {}
    for name, kind in zip(info.names, info.types):
        if kind.startswith(_BOOLEAN):
            out[name] = "True" if kind[len(_BOOLEAN):].strip() in ("1", "True", "true") else "False"
    return out


def spell_out_boolean_defaults(graph: dict) -> dict:
    """Write every omitted boolean attribute with MXNet's default, in place; returns `graph`.

    The converter reads a missing boolean as false (`attrs.get(name, 0)`), but some default to
    true in MXNet: a symbol-API `FullyConnected` on a 4-D input (flatten defaults to True, and
    only Gluon writes it out) was exported as Flatten(axis=-1) + Gemm, which ONNX Runtime
    rejects with a shape mismatch; BatchNorm's fix_gamma likewise (see `fixed_gamma_params`).
    """
    for node in graph["nodes"]:
        if node["op"] == "null":
            continue
        written = node_attrs(node)  # under whichever key this MXNet version wrote them
        missing = {k: v for k, v in _boolean_defaults(node["op"]).items() if k not in written}
        if missing:
            node.setdefault("attrs", {}).update(missing)
    return graph


def fixed_gamma_params(graph: dict, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`params` with the gamma of every fix_gamma BatchNorm set to ones.

    MXNet's BatchNorm with fix_gamma=True (the symbol API's default) computes with gamma = 1
    whatever the stored gamma holds; the converter ignores fix_gamma and exports the stored
    gamma. Needs `spell_out_boolean_defaults` first so the default is visible.
    """
    nodes = graph["nodes"]
    uses: dict[int, int] = {}
    for node in nodes:
        for src, *_ in node["inputs"]:
            uses[src] = uses.get(src, 0) + 1
    out = dict(params)
    for node in nodes:
        if node["op"] != "BatchNorm" or node_attrs(node).get("fix_gamma") not in ("True", "1", "true"):
            continue
        src = node["inputs"][1][0]
        gamma = nodes[src]["name"]
        if gamma not in out:
            continue
        if uses[src] > 1:
            from pipeline.core.errors import ExportError

            raise ExportError(f"BatchNorm '{node['name']}' fixes gamma, but its gamma '{gamma}' is shared "
                                "with other nodes", code="EXP109", where=node["name"],
                                hint="set fix_gamma=False and store ones in its gamma, or unshare the param")
        out[gamma] = np.ones_like(out[gamma])
    return out


def alias_skipped_label(graph: dict, last_node: str, params: set[str]) -> dict[str, str]:
    """Rename, in place, the variable the converter would skip, so it does not skip it.

    The converter drops the variable named `<last node>_label` (`softmax_label`) without
    recording an output for it, which shifts its node-index lookup by one: the opset-13
    SoftmaxOutput translation then reads the wrong inputs and fails with IndexError. Under
    another name the label is an ordinary input, unused, removed after export.
    Returns {alias: original name} to rename it back in the ONNX graph.
    """
    skipped = f"{last_node}_label"
    nodes = [n for n in graph["nodes"] if n["op"] == "null" and n["name"] == skipped and skipped not in params]
    if not nodes:
        return {}
    taken = {n["name"] for n in graph["nodes"]}
    alias = f"{skipped}__mxdeploy"
    while alias in taken:
        alias += "_"
    for node in nodes:
        node["name"] = alias
    return {alias: skipped}


def load_symbol(graph: dict):
    import mxnet as mx

    return mx.sym.load_json(json.dumps(graph))


_RECORD_LOCK = threading.Lock()


@contextlib.contextmanager
def recording_outputs():
    """Capture the converter's own `outputs_lookup`: per MXNet node, the ONNX tensors it wrote.

    `create_onnx_graph_proto` fills that list (one entry per node of the graph JSON, in order)
    and passes it to every `convert_layer` call, then drops it. It is the exporter's own record
    of which ONNX tensor carries which MXNet output, the mapping localization needs
    (pipeline/localize/matching.py), so we keep a reference to it instead of re-deriving names.
    The class attribute is swapped under a lock and restored on the way out.
    """
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph

    seen: list = []
    original = MXNetGraph.__dict__["convert_layer"]

    def convert_layer(node, **kwargs):
        if not seen and "outputs_lookup" in kwargs:
            seen.append(kwargs["outputs_lookup"])
        return original.__func__(node, **kwargs)

    with _RECORD_LOCK:
        MXNetGraph.convert_layer = staticmethod(convert_layer)
        try:
            yield seen
        finally:
            MXNetGraph.convert_layer = original
