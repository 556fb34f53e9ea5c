"""The ONNX side: an ONNX model on ONNX Runtime or OpenVINO, tapped by adding graph outputs.

Each run serializes the model with the tapped tensors appended to `graph.output` (they are
removed again right after, so no second copy of the weights is kept) and opens a fresh session
on it. A tapped tensor must be materialized, so the runtime cannot fuse across it: tapping a
Conv's output stops ONNX Runtime from folding the next BatchNormalization into it, and OpenVINO
keeps that tensor in f32 (docs/localize.md). That is why a finding is confirmed without taps:
the node's own subgraph is run alone (`run_subgraph`, pipeline/localize/confirm.py).
Aliases: `onnx:TENSOR` for every tensor, plus `mx:NODE:INDEX` where our exporter recorded
which MXNet output the tensor carries (`metadata_props["mxdeploy.node_map"]`).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from pipeline.localize import errors
from pipeline.localize.errors import LocalizeError
from pipeline.localize.tapnode import Side, TapNode

RUNTIMES = ("onnxruntime", "openvino")


def export_aliases(model) -> dict[str, str]:
    """{onnx tensor: 'mx:NODE:INDEX'} from the exporter's record, where it still holds."""
    from pipeline.onnx.export import valid_node_map

    return {tensor: f"mx:{node}:{index}" for node, index, tensor in valid_node_map(model)}


class OnnxSide(Side):
    kind = "onnx"

    def __init__(self, spec: str, target: str, model, inputs, quantized: dict | None = None):
        super().__init__(spec, target, inputs, quantized)
        self.model = model
        # an openvino-bf16 bundle is served with the bf16 hint (pipeline/targets/openvino.py); so are its taps
        self.precision = "bf16" if (quantized or {}).get("format") == "openvino-bf16" else "f32"

    def nodes(self) -> list[TapNode]:
        graph = self.model.graph
        constant = {t.name for t in graph.initializer}
        fed = {vi.name for vi in graph.input}
        aliases = export_aliases(self.model)
        result = []
        for index, node in enumerate(graph.node):
            reads = [t for t in node.input if t]
            if node.op_type == "Constant" or all(t in constant for t in reads):
                constant.update(t for t in node.output if t)
                continue
            inputs = tuple(t for t in reads if t not in constant and t not in fed)
            for tensor in node.output:
                if tensor:
                    label = node.name or tensor  # mx2onnx leaves node names empty; the tensor names it
                    names = {f"onnx:{tensor}"} | ({aliases[tensor]} if tensor in aliases else set())
                    result.append(TapNode(tensor, node.op_type, label, inputs, frozenset(names)))
        return result

    def _tapped_bytes(self, taps: list[str]) -> bytes:
        from onnx import helper

        graph = self.model.graph
        present = {vi.name for vi in graph.output}
        added = [t for t in taps if t not in present]
        graph.output.extend(helper.make_empty_tensor_value_info(t) for t in added)
        try:
            return self.model.SerializeToString()
        finally:
            del graph.output[len(graph.output) - len(added):]

    def _run(self, feed, taps):
        data = self._tapped_bytes(taps)
        names = [vi.name for vi in self.model.graph.output]
        wanted = names + [t for t in taps if t not in names]
        values = run_onnx_bytes(data, self.target, _runtime_feed(self.model, feed), wanted, precision=self.precision)
        outs = dict(zip(wanted, values))
        return [outs[n] for n in names], {t: outs[t] for t in taps}

    def run_subgraph(self, out_id: str, cut: dict[str, str], feed: dict[str, np.ndarray]) -> np.ndarray:
        """`out_id` computed alone from `cut` ({tensor: input name}), on this side's runtime and precision.

        The cut model's only output is `out_id`, so the runtime fuses inside the node's computation
        as freely as in the untapped model (a Conv's BatchNormalization, OpenVINO's bf16 kernels)."""
        model, _ = onnx_subgraph(self.model, out_id, cut, feed)
        return run_onnx_bytes(model.SerializeToString(), self.target, _runtime_feed(model, feed), [out_id],
                              precision=self.precision)[0]


def _runtime_feed(model, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The feed in the dtypes the model declares (MXNet casts on copy; the runtimes do not)."""
    from onnx import helper

    constant = {t.name for t in model.graph.initializer}
    out = {}
    for vi in model.graph.input:
        if vi.name in constant or vi.name not in feed:
            continue
        dtype = helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        out[vi.name] = np.ascontiguousarray(feed[vi.name], dtype=dtype)
    return out


def run_onnx_bytes(data: bytes, runtime: str, feed: dict[str, np.ndarray], outputs: list[str], *,
                   precision: str = "f32") -> list[np.ndarray]:
    """One forward of a serialized ONNX model on `runtime`; the session is dropped after it.

    The runtimes raise their own untyped exceptions (an op OpenVINO's reader lacks, a tensor it
    fused away, an input the file wants and the feed lacks): through the one runtime wrapper they
    become one coded line, LOC006, with the raw text in the log."""
    from pipeline.core.runtime_errors import runtime_call
    from pipeline.localize.errors import RUNTIME_FAILED, LocalizeError

    with runtime_call(runtime, "a forward of the model", code=RUNTIME_FAILED, error=LocalizeError, where=runtime, feed=feed,
                      hint="if only the tapped copy fails, compare without --localize; otherwise compare on "
                           "another runtime"):
        return _run_onnx_bytes(data, runtime, feed, outputs, precision)


def _run_onnx_bytes(data: bytes, runtime: str, feed, outputs, precision: str) -> list[np.ndarray]:
    if runtime == "onnxruntime":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        return [np.asarray(v) for v in session.run(outputs, feed)]
    import openvino as ov

    # OpenVINO reads ONNX from a file; the copy lives only for the compile.
    fd, name = tempfile.mkstemp(suffix=".onnx", prefix="mxdeploy-localize-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        core = ov.Core()
        compiled = core.compile_model(core.read_model(name), "CPU", {"INFERENCE_PRECISION_HINT": precision})
        results = compiled.create_infer_request().infer(feed)
        by_name = {}
        for port in compiled.outputs:
            for tensor_name in port.get_names():
                by_name[tensor_name] = np.array(results[port], copy=True)
        return [by_name[n] for n in outputs]
    finally:
        Path(name).unlink(missing_ok=True)


def onnx_subgraph(model, out_id: str, cut: dict[str, str], feed: dict, out_dtype: np.dtype | None = None):
    """The nodes computing `out_id` back to the `cut` tensors (renamed), initializers or model inputs.

    With `out_dtype` (a repro's: the tapped value's) the output is typed: an untyped one breaks the
    ONNX spec, and a repro file must pass the checker that `replay` and an upstream tool read it with.
    """
    from onnx import helper

    graph = model.graph
    producer = {t: n for n in graph.node for t in n.output}
    initializers = {t.name: t for t in graph.initializer}
    model_inputs = {vi.name: vi for vi in graph.input if vi.name not in initializers}
    keep, used_init, reads, stack = set(), set(), [], [out_id]
    while stack:
        tensor = stack.pop()
        if tensor in cut or not tensor:
            continue
        if tensor in initializers:
            used_init.add(tensor)
        elif tensor in model_inputs:
            if tensor not in reads:
                reads.append(tensor)
        elif tensor in producer and id(producer[tensor]) not in keep:
            keep.add(id(producer[tensor]))
            stack.extend(producer[tensor].input)
            for attr in producer[tensor].attribute:
                if attr.g.node or attr.graphs:
                    raise LocalizeError(f"node '{producer[tensor].name}' holds a subgraph; the repro cannot cut it",
                                        code=errors.BAD_REPRO, where=out_id, hint="report the whole model instead")
    nodes = []
    for node in graph.node:
        if id(node) in keep:
            copy = type(node)()
            copy.CopyFrom(node)
            copy.input[:] = [cut.get(t, t) for t in node.input]
            nodes.append(copy)
    used_cut = sorted({cut[t] for n in graph.node if id(n) in keep for t in n.input if t in cut})
    inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(feed[name].dtype),
                                            list(feed[name].shape)) for name in used_cut]
    inputs += [model_inputs[name] for name in reads]
    output = helper.make_empty_tensor_value_info(out_id) if out_dtype is None else \
        helper.make_tensor_value_info(out_id, helper.np_dtype_to_tensor_dtype(np.dtype(out_dtype)), None)
    sub = helper.make_graph(nodes, "mxdeploy_repro", inputs, [output], [initializers[n] for n in sorted(used_init)])
    out = helper.make_model(sub, opset_imports=list(model.opset_import), producer_name="mxdeploy-localize")
    out.ir_version = model.ir_version
    return out, reads
