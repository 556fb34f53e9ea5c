"""Bundle -> ONNX through MXNet 1.9.1's own converter, with its traps removed.

MXNet's exporter is the translator we trust for MXNet's op semantics, but as installed here
it makes files that ONNX Runtime rejects or runs slowly:

1. **The opset floats to the newest one onnx knows.** `mx.onnx.export_model` in 1.9.1 takes
   no opset argument: it asks `onnx.defs.onnx_opset_version()` (23 with onnx 1.18), picks the
   newest translation it has (written for opset 13) and declares opset 23 on the model. Its
   reduce translations (mean, max, min, prod, norm, and LayerNorm, built on ReduceMean) emit
   `axes` as an attribute, which opset 18 moved to an input; its Split has no `num_outputs`,
   required from opset 18. Measured with onnx 1.18 (tests/pipeline/test_onnx_export.py): each
   fails `onnx.checker` unpinned and matches MXNet at opset 13 (and 17). broadcast_axis, also
   reported broken, exported correctly at 13, 17, 18 and 23 here. So we call the converter
   `export_model` wraps, `MXNetGraph.create_onnx_graph_proto`, which takes `opset_version`,
   and declare that opset (and its IR version) on the model.
2. **Every param is also a graph input.** ONNX Runtime treats an initializer listed among
   the inputs as overridable, so it neither constant-folds nor fuses it (Conv+BatchNorm,
   Conv+Add+Relu...). We drop those inputs (measured: bench/bench_onnx_export.py).
3. **Training heads keep their label input.** SoftmaxOutput exports to Softmax and ignores
   the label, yet the label stays a required input. We drop label inputs no node consumes.
4. Its stacked-LSTM translation assumes input size == hidden size: multi-layer `RNN` ops are
   split into one-layer ones first (pipeline/onnx/export_rnn.py).
5. Ops it translates wrongly or not at all (per-class box_nms, AdaptiveAvgPooling2D with
   output_size > 1, MultiBoxDetection, Proposal, ROIAlign's aligned/position-sensitive forms)
   get our own converters (pipeline/onnx/export_ops/), installed for the duration of each export.
6. Smaller converter bugs (the skipped `softmax_label` that breaks SoftmaxOutput, boolean
   attributes whose MXNet default is true read as false, BatchNorm's fix_gamma ignored, the
   converter's own checker call) are worked around in pipeline/onnx/export_quirks.py.

Graphs fused by oneDNN (`_sg_mkldnn_*` / `_sg_onednn_*` ops) and graphs with ops the exporter
has no translation for are refused before the converter sees them, with one coded error each.
Outputs keep MXNet's order; helper constants nothing reads are dropped. Inputs declared with
`dynamic` axes get symbolic dims there (named by `dynamic_dim_names`); every other dim is static.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from pipeline.core import atomic
from pipeline.onnx import export_quirks as quirks
from pipeline.onnx.export_embedding import clip_embedding_indices
from pipeline.onnx.export_rnn import split_rnn_layers
from pipeline.onnx.export_fold import fold_shape_constants
from pipeline.onnx.node_names import name_nodes
from pipeline.model.bundle import ModelBundle
from pipeline.core.runtime_errors import runtime_call
from pipeline.core.errors import ExportError  # noqa: F401  (raised here; callers import it from this module)
from pipeline.model.labels import label_variables

DEFAULT_OPSET = 13
# The exporter has translations for opsets 12 and 13; from opset 18 its reduce and Split
# translations are invalid (see the module docstring), so 12..17 is what it can honestly emit.
SUPPORTED_OPSETS = range(12, 18)
FUSED_OP_PREFIXES = ("_sg_mkldnn_", "_sg_onednn_")
_PROTOBUF_LIMIT = 2**31  # a ModelProto cannot be serialized past 2 GiB
NODE_MAP_KEY = "mxdeploy.node_map"  # metadata_props entry: MXNet node output -> ONNX tensor


def _registry() -> dict[int, dict]:
    """MXNet's converter registry {opset: {op: function}}, filled when mxnet.onnx imports."""
    import mxnet.onnx  # noqa: F401  (registers the op translations)
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph

    return MXNetGraph.registry_


def exportable_ops(opset: int = DEFAULT_OPSET) -> frozenset[str]:
    """MXNet op names the exporter translates at `opset` (it falls back to older translations)."""
    ops: set[str] = set()
    for version, table in _registry().items():
        if version <= opset:
            ops.update(table)
    ops.discard("null")  # variables, not an op
    from pipeline.onnx import export_ops

    from pipeline.onnx.export_fold import FOLDED_ONLY_OPS

    return frozenset(ops | export_ops.op_names() | FOLDED_ONLY_OPS)


def _check_opset(opset: int) -> None:
    if opset not in SUPPORTED_OPSETS:
        raise ExportError(f"opset {opset} is not supported by MXNet 1.9.1's exporter", code="EXP106",
                          where=f"opset={opset}",
                          hint=f"use an opset from {SUPPORTED_OPSETS.start} to {SUPPORTED_OPSETS.stop - 1} "
                               f"(default {DEFAULT_OPSET})")


def check_exportable(bundle: ModelBundle, opset: int = DEFAULT_OPSET) -> None:
    """Refuse fused graphs (EXP101) and untranslatable ops (EXP102, every op and node listed)."""
    nodes = [n for n in bundle.graph()["nodes"] if n["op"] != "null"]
    fused = [n for n in nodes if n["op"].startswith(FUSED_OP_PREFIXES)]
    if fused:
        listed = ", ".join(f"{n['op']} ({n['name']})" for n in fused[:5])
        more = f" and {len(fused) - 5} more" if len(fused) > 5 else ""
        raise ExportError(f"the graph was fused by oneDNN and cannot be exported to ONNX: {listed}{more}",
                          code="EXP101", where=fused[0]["name"],
                          hint="export to ONNX before the onednn_fuse stage (or from the unfused bundle); "
                               "oneDNN's fused ops exist only inside MXNet")
    known = exportable_ops(opset)
    if dynamic_dim_names(bundle.inputs):  # nothing is folded then: ops that only exist folded have no form
        from pipeline.onnx.export_fold import FOLDED_ONLY_OPS

        known = known - FOLDED_ONLY_OPS
    missing: dict[str, list[str]] = {}
    for node in nodes:
        if node["op"] not in known:
            missing.setdefault(node["op"], []).append(node["name"])
    if missing:
        listed = "; ".join(f"{op} (nodes: {', '.join(names)})" for op, names in sorted(missing.items()))
        raise ExportError(f"{len(missing)} op type(s) have no ONNX translation in MXNet's exporter: {listed}",
                          code="EXP102", where=next(iter(missing.values()))[0],
                          hint="replace these ops before export, or deploy to a target that runs MXNet "
                               "itself (cpu, onednn)")


def _graph_inputs(graph: dict, sym, bundle: ModelBundle, params: set[str]) -> tuple[list[tuple], list[str]]:
    """Shapes and dtypes of the variables the exporter treats as inputs (its JSON order).

    Label variables need a shape too: they are inferred here and dropped after export.
    """
    declared = {s.name: s for s in bundle.inputs}
    labels = [n for n in label_variables(json.dumps(graph)) if n not in declared]
    order = [n["name"] for n in graph["nodes"] if n["op"] == "null" and n["name"] not in params]
    undeclared = [n for n in order if n not in declared and n not in labels]
    if undeclared:
        raise ExportError(f"no shape for graph inputs: {', '.join(undeclared)}", code="EXP107",
                          where=undeclared[0], hint="declare every data input in the pipeline's inputs")
    label_shapes: dict[str, tuple] = {}
    if any(n in labels for n in order):
        import mxnet as mx

        with runtime_call("mxnet", "shape inference of the graph to export", code="EXP107", error=ExportError,
                          hint="check the declared input shapes"):
            arg_shapes, _, _ = sym.infer_shape(**bundle.input_shapes())
        label_shapes = dict(zip(sym.list_arguments(), arg_shapes))
    specs = [(declared[n].shape, np.dtype(declared[n].dtype)) if n in declared
             else (label_shapes[n], np.dtype("float32")) for n in order]
    return specs, labels


def _onnx_output_name(mx_name: str) -> str:
    """The graph output name the exporter gives MXNet output `mx_name` (its get_outputs rule)."""
    if mx_name.endswith("_state_output"):
        return mx_name[: -len("_state_output")] + "1"
    if mx_name.endswith("_statecell_output"):
        return mx_name[: -len("_statecell_output")] + "2"
    if mx_name.endswith("_output"):
        return mx_name[: -len("_output")]
    if re.search(r".*_output[0-9]$", mx_name):
        return mx_name[: -len("_output0")] + mx_name[-1]
    return mx_name


def to_onnx(bundle: ModelBundle, *, opset: int = DEFAULT_OPSET, clip_indices: bool = False):
    """The bundle as a checked onnx.ModelProto (in memory): see the module docstring.

    `clip_indices` keeps MXNet's Embedding index clipping (pipeline/onnx/export_embedding.py).
    """
    import mxnet as mx
    import onnx
    from onnx import helper
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph

    _check_opset(opset)
    check_exportable(bundle, opset)
    param_names = set(bundle.arg_params) | set(bundle.aux_params)
    sym = bundle.symbol()
    internals = sym.get_internals()
    graph_json = quirks.spell_out_boolean_defaults(bundle.graph())
    aliases = quirks.alias_skipped_label(graph_json, internals[len(internals) - 1].name, param_names)
    arrays = quirks.fixed_gamma_params(graph_json, {**bundle.arg_params, **bundle.aux_params})
    graph_json, arrays = split_rnn_layers(graph_json, arrays)
    graph_json = clip_embedding_indices(graph_json) if clip_indices else graph_json
    if not dynamic_dim_names(bundle.inputs):  # folding bakes the declared shapes in: static inputs only
        graph_json, arrays = fold_shape_constants(graph_json, arrays, bundle.input_shapes())
    param_names = set(arrays)
    sym = quirks.load_symbol(graph_json)
    specs, labels = _graph_inputs(graph_json, sym, bundle, param_names)
    params = {k: mx.nd.array(v, dtype=v.dtype) for k, v in arrays.items()}
    dims = dynamic_dim_names(bundle.inputs)
    order = [n["name"] for n in graph_json["nodes"] if n["op"] == "null" and n["name"] not in param_names]
    dynamic_shapes = [tuple(None if a in dims.get(n, {}) else d for a, d in enumerate(shape))
                      for n, (shape, _) in zip(order, specs)] if dims else None
    from pipeline.onnx import export_ops

    with quirks.checker_opset(opset), export_ops.installed(opset), quirks.recording_outputs() as lookup, \
            runtime_call("mxnet", "the graph's ONNX translation (mx2onnx)", code="EXP103", error=ExportError,
                         nodes=[n["name"] for n in graph_json["nodes"] if n["op"] != "null"],
                         hint="an op is used with attributes or dtypes the exporter does not translate "
                              "(e.g. a non-NCHW layout, float64 weights under float32 inputs); change it before export"):
        graph = MXNetGraph().create_onnx_graph_proto(
            sym, params, [s for s, _ in specs], [helper.np_dtype_to_tensor_dtype(d) for _, d in specs],
            opset_version=opset, dynamic=bool(dims), dynamic_input_shapes=dynamic_shapes)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="mxdeploy",
                              producer_version=mx.__version__,
                              doc_string="exported by mxdeploy with MXNet's mx2onnx converter")
    model.ir_version = helper.find_min_ir_version_for(opsets)
    _rename_values(model.graph, aliases)
    _name_dynamic_dims(model.graph, dims)
    _clean_graph(model.graph, [aliases.get(n, n) for n in labels],
                 [_onnx_output_name(n) for n in sym.list_outputs()])
    record_node_map(model, graph_json, lookup[0] if lookup else [])
    name_nodes(model)  # a runtime names the node it refuses by this field (pipeline/onnx/node_names.py)
    if model.ByteSize() >= _PROTOBUF_LIMIT:
        raise ExportError("the exported model exceeds protobuf's 2 GiB limit", code="EXP108",
                          hint="this exporter writes weights inside the model; shrink the model")
    with runtime_call("onnx", "the exported model in onnx.checker (with shape inference)", code="EXP104",
                      error=ExportError, hint="report this model: the exporter produced invalid ONNX"):
        onnx.checker.check_model(model, full_check=True)
    return model


def dynamic_dim_names(inputs) -> dict[str, dict[int, str]]:
    """{input: {axis: symbolic dim name}} for the declared `dynamic` axes.

    Dims the model ties share a name: a batch axis is `batch`, any other dynamic axis is
    `dyn{axis}_{declared size}`, so the sequence axis of token ids, token types and a mask
    (axis 1, size 16 in each) is one symbol `dyn1_16`, as verify's second size keeps them equal.
    """
    return {s.name: {a: "batch" if a == s.batch_axis else f"dyn{a}_{s.shape[a]}" for a in s.dynamic}
            for s in inputs if s.dynamic}


def _name_dynamic_dims(graph, dims: dict[str, dict[int, str]]) -> None:
    """Write the symbolic names on the graph inputs (the exporter leaves dynamic dims unnamed)."""
    for value in graph.input:
        for axis, dim_name in dims.get(value.name, {}).items():
            dim = value.type.tensor_type.shape.dim[axis]
            dim.ClearField("dim_value")
            dim.dim_param = dim_name


def record_node_map(model, graph_json: dict, outputs_lookup: list) -> None:
    """Store which ONNX tensor carries each MXNet node output, as the exporter recorded it.

    `metadata_props[NODE_MAP_KEY]` holds JSON `[[mx_node, output_index, onnx_tensor, op_type,
    [inputs]], ...]`, read by localization (pipeline/localize/matching.py) to compare an MXNet
    node with its ONNX tensor without guessing from names. The producing ONNX node's op and
    inputs are kept so a reader can tell whether a later tool rewrote that node (`valid_node_map`).
    Only tensors some node of the final graph writes are listed; when the converter's record
    does not line up with the graph (it skipped a node), nothing is recorded rather than a
    shifted, wrong mapping.
    """
    nodes = graph_json["nodes"]
    if len(outputs_lookup) != len(nodes):
        return
    producer = {name: node for node in model.graph.node for name in node.output}
    entries = []
    for node, outputs in zip(nodes, outputs_lookup):
        if node["op"] == "null":
            continue
        for index, out in enumerate(outputs):
            if out.name in producer:
                writer = producer[out.name]
                entries.append([node["name"], index, out.name, writer.op_type, list(writer.input)])
    entry = model.metadata_props.add()
    entry.key, entry.value = NODE_MAP_KEY, json.dumps(entries, separators=(",", ":"))


def valid_node_map(model) -> list[tuple[str, int, str]]:
    """The (mx_node, index, onnx_tensor) entries of the model's node map that still hold.

    Tools that rewrite an exported file keep its metadata_props: ONNX Runtime's quantization
    pre-processing folds BatchNormalization into Conv and inserts QuantizeLinear/
    DequantizeLinear pairs, yet copies the map. An entry is kept only when its tensor is still
    written by a node of the same op that reads the same tensors, looking through activation
    Q/DQ pairs; a rewritten node (fused, re-weighted) drops out and is reported unmatched by
    localization rather than compared with a tensor that now means something else.
    """
    raw = next((p.value for p in model.metadata_props if p.key == NODE_MAP_KEY), None)
    try:
        entries = json.loads(raw) if raw else []
    except ValueError:
        return []
    producer = {name: node for node in model.graph.node for name in node.output}

    def through_qdq(name: str) -> str:
        for _ in range(8):  # a Q/DQ pair per hop; never more than a few in a row
            dq = producer.get(name)
            q = producer.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
            if q is None or q.op_type != "QuantizeLinear":
                return name
            name = q.input[0]
        return name

    out = []
    for entry in entries:
        if not isinstance(entry, list) or len(entry) != 5:
            continue
        node, index, tensor, op_type, inputs = entry
        writer = producer.get(tensor)
        if writer is not None and writer.op_type == op_type and \
                [through_qdq(t) for t in writer.input] == list(inputs):
            out.append((node, int(index), tensor))
    return out


def _rename_values(graph, renames: dict[str, str]) -> None:
    """Give aliased variables their own names back, wherever the ONNX graph mentions them."""
    if not renames:
        return
    for value in list(graph.input) + list(graph.value_info):
        value.name = renames.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]


def _clean_graph(graph, labels: list[str], output_order: list[str]) -> None:
    """Drop initializers and unused labels from the inputs, drop dead initializers, order outputs."""
    consumed = {name for node in graph.node for name in node.input}
    used_labels = [n for n in labels if n in consumed]
    if used_labels:
        raise ExportError(f"label input(s) {', '.join(used_labels)} are used by the exported graph, "
                          "not only by a loss head", code="EXP105", where=used_labels[0],
                          hint="declare them as inputs, or remove the training-only branch "
                               "(optimize: strip_training)")
    initializers = {t.name for t in graph.initializer}
    keep = [vi for vi in graph.input if vi.name not in initializers and vi.name not in labels]
    del graph.input[:]
    graph.input.extend(keep)
    outputs = {vi.name for vi in graph.output}
    live = [t for t in graph.initializer if t.name in consumed or t.name in outputs]
    del graph.initializer[:]
    graph.initializer.extend(live)
    rank = {name: i for i, name in enumerate(output_order)}
    if set(rank) == outputs and len(rank) == len(graph.output):
        ordered = sorted(graph.output, key=lambda vi: rank[vi.name])
        del graph.output[:]
        graph.output.extend(ordered)


def export_bundle(bundle: ModelBundle, dest: Path, *, opset: int = DEFAULT_OPSET, clip_indices: bool = False) -> Path:
    """Export `bundle` to the ONNX file `dest` (written atomically) and return its path."""
    model = to_onnx(bundle, opset=opset, clip_indices=clip_indices)
    dest = Path(dest)
    atomic.write_bytes(dest, model.SerializeToString())
    return dest


def initializers_as_inputs(model, names):
    """A copy of `model` that also lists the initializers `names` (the bundle's params) among
    its inputs, as MXNet's exporter does; its own helper constants stay initializer-only.

    Only for measuring what that costs (bench/bench_onnx_export.py); never deploy this form.
    """
    from onnx import helper

    out = type(model)()
    out.CopyFrom(model)
    names = set(names) - {vi.name for vi in out.graph.input}
    out.graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                           for t in out.graph.initializer if t.name in names)
    return out
