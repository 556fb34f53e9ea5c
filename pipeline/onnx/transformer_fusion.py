"""Transformer blocks in the form ONNX Runtime runs fast: fused Attention and LayerNormalization.

MXNet 1.9.1's exporter writes GluonNLP's interleaved self-attention
(`_contrib_interleaved_matmul_selfatt_qk` -> masked `softmax` -> `..._valatt`) as a chain of
Shape/Slice/Reshape/Transpose/MatMul, and `LayerNorm` as ReduceMean/Sub/Pow/.../Sub(Neg beta).
ONNX Runtime's transformer optimizer recognises neither, so the fusions that make BERT fast on
a CPU are lost. This pass rewrites the exported model for the onnxruntime target, using the
MXNet graph (which says exactly what each block is) rather than pattern-matching ONNX:

- each LayerNorm becomes one `LayerNormalization` (ONNX Runtime accepts it at opset 13);
- each interleaved self-attention becomes one `com.microsoft.Attention`: the projection
  weights are read from the query/key/value params the graph interleaves per head, laid out as
  Attention wants them ([Wq^T | Wk^T | Wv^T]), the valid lengths become its 1-D right-padding
  `mask_index`, and the (seq, batch, C) layout GluonNLP uses is transposed around it;
- nodes nothing reads any more are removed.

Then ONNX Runtime's own transformer optimizer fuses what it knows on the result (Add +
LayerNormalization -> SkipLayerNormalization, Gelu with its bias). An attention block that does
not have the expected shape is left as exported and counted as unfused, so the caller can warn.
Softmax masking differs in how masked scores are removed (MXNet: probability 0; Attention: a
-10000 bias), which is exact in float32 once exponentiated.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.model.bundle import ModelBundle
from pipeline.model.symbol_json import node_attrs

QK_OP = "_contrib_interleaved_matmul_selfatt_qk"
VALATT_OP = "_contrib_interleaved_matmul_selfatt_valatt"
_PASS_THROUGH = ("Dropout", "_copy", "identity")
_LENGTH_CHAIN = ("Reshape", "broadcast_axis", "expand_dims")


@dataclass
class FusionReport:
    attention: int = 0
    layer_norm: int = 0
    unfused_attention: list[str] = field(default_factory=list)  # MXNet node names left as exported
    num_heads: int = 0  # of the fused blocks (0: none fused; ONNX Runtime's optimizer then detects)
    hidden_size: int = 0
    optimizer: dict[str, int] = field(default_factory=dict)  # ONNX Runtime's own fusion counts

    def metrics(self) -> dict:
        return {"attention_fused": self.attention, "layernorm_fused": self.layer_norm,
                "attention_unfused": len(self.unfused_attention),
                **{f"ort_{k}": v for k, v in sorted(self.optimizer.items()) if v}}


def is_transformer(bundle: ModelBundle) -> bool:
    return any(n["op"] == QK_OP for n in bundle.graph()["nodes"])


class _MxGraph:
    """Name-level access to the Symbol JSON: the producer of each input, by node name."""

    def __init__(self, bundle: ModelBundle):
        self.bundle = bundle
        self.nodes = bundle.graph()["nodes"]
        self.by_name = {n["name"]: n for n in self.nodes}
        self.params = bundle.arg_params

    def repeats_per_batch(self, name: str) -> bool:
        """Whether (batch, seq) tensor `name` is a per-batch value broadcast along seq, provably:
        GluonNLP builds its lengths as valid_length (batch, 1) + zeros (1, seq), then casts."""
        node = self.skip(self.by_name[name], ("Cast",))
        if node["op"] != "broadcast_add":
            return False
        a, b = (self.skip(i, ("Reshape",)) for i in self.inputs(node))
        for value, zeros in ((a, b), (b, a)):
            if zeros["op"] == "zeros_like" and self.rank(value["name"]) == 1:
                return True
        return False

    def rank(self, name: str) -> int:
        """The rank of node `name`'s first output at the declared input shapes (MXNet's inference)."""
        node = self.by_name[name]
        if node["op"] == "null":
            spec = {s.name: s.shape for s in self.bundle.inputs}.get(name)
            return len(spec) if spec is not None else -1
        from pipeline.core.errors import ExportError
        from pipeline.core.runtime_errors import runtime_call

        sub = self.bundle.symbol().get_internals()[f"{name}_output"]
        feeds = set(sub.list_arguments())  # MXNet refuses shapes of inputs the subgraph does not read
        with runtime_call("mxnet", f"shape inference of '{name}' (transformer fusion)", code="EXP107",
                          error=ExportError, where=name, hint="declare every data input with its shape"):
            _, shapes, _ = sub.infer_shape(**{k: v for k, v in self.bundle.input_shapes().items() if k in feeds})
        return len(shapes[0])

    def inputs(self, node: dict) -> list[dict]:
        return [self.nodes[entry[0]] for entry in node["inputs"]]

    def skip(self, node: dict, ops: tuple[str, ...]) -> dict:
        while node["op"] in ops and node["inputs"]:
            node = self.inputs(node)[0]
        return node


def _interleaved_params(g: _MxGraph, node: dict) -> list[np.ndarray] | None:
    """The three (query, key, value) params a weight/bias chain interleaves, in that order."""
    node = g.skip(node, ("Reshape",))
    if node["op"] not in ("Concat", "stack") or len(node["inputs"]) != 3:
        return None
    out = []
    for part in g.inputs(node):
        var = g.skip(part, ("Reshape",))
        if var["op"] != "null" or var["name"] not in g.params:
            return None
        out.append(np.asarray(g.params[var["name"]], np.float32))
    return out if all(p.shape == out[0].shape for p in out) else None


@dataclass
class _Attention:
    name: str  # the valatt node, whose output tensor the fused block produces
    x: str  # the (seq, batch, C) input tensor of the QKV projection
    weight: np.ndarray  # (C, 3C)
    bias: np.ndarray  # (3C,)
    heads: int
    length: str | None  # the valid lengths softmax masks with, or None when nothing is masked
    length_rank: int = 1  # 1: (batch,); 2: (batch, seq), the same length repeated per query


def _attention_blocks(g: _MxGraph) -> tuple[list[_Attention], list[str]]:
    found, unfused = [], []
    for node in g.nodes:
        if node["op"] != VALATT_OP:
            continue
        block = _match_attention(g, node)
        (found if block else unfused).append(block or node["name"])
    return found, unfused


def _match_attention(g: _MxGraph, valatt: dict) -> _Attention | None:
    qkv, att = g.inputs(valatt)
    att = g.skip(att, _PASS_THROUGH)
    if qkv["op"] != "FullyConnected" or att["op"] != "softmax" or node_attrs(qkv).get("flatten") != "False":
        return None
    soft = node_attrs(att)
    if soft.get("axis", "-1") != "-1" or soft.get("temperature") not in (None, "None"):
        return None
    qk = g.inputs(att)[0]
    heads = node_attrs(valatt).get("heads")
    if qk["op"] != QK_OP or g.inputs(qk)[0] is not qkv or node_attrs(qk).get("heads") != heads:
        return None
    x, weight_chain, bias_chain = g.inputs(qkv)
    weights = _interleaved_params(g, weight_chain)
    biases = _interleaved_params(g, bias_chain)
    if weights is None or biases is None or x["op"] == "null" and x["name"] in g.params:
        return None
    length, rank = None, 1
    if soft.get("use_length") == "True":
        length = g.skip(g.inputs(att)[1], _LENGTH_CHAIN)["name"]
        rank = g.rank(length)
        if rank == 2 and not g.repeats_per_batch(length):
            return None  # lengths that vary per query row: no 1-D mask says that
        if rank not in (1, 2):
            return None
    return _Attention(valatt["name"], x["name"], np.concatenate([w.T for w in weights], axis=1),
                      np.concatenate(biases), int(heads), length, rank)


def fuse_transformer(model, bundle: ModelBundle):
    """Rewrite the exported `model` (an onnx.ModelProto, changed in place) for ONNX Runtime."""
    from onnx import helper, numpy_helper

    g = _MxGraph(bundle)
    report = FusionReport()
    graph = model.graph
    producers = {out: i for i, n in enumerate(graph.node) for out in n.output}
    replacements: dict[str, list] = {}  # produced tensor -> the nodes that now produce it
    blocks, report.unfused_attention = _attention_blocks(g)
    for block in blocks:
        if block.name not in producers or block.x not in producers and block.x not in _graph_inputs(graph):
            report.unfused_attention.append(block.name)
            continue
        w, b = f"{block.name}__attention_w", f"{block.name}__attention_b"
        graph.initializer.extend([numpy_helper.from_array(block.weight, w), numpy_helper.from_array(block.bias, b)])
        inputs = [f"{block.name}__bsc", w, b]
        nodes = [helper.make_node("Transpose", [block.x], [inputs[0]], perm=[1, 0, 2], name=f"{block.name}__in")]
        if block.length is not None:
            lengths = block.length
            if block.length_rank == 2:  # (batch, seq) of one length per row: Attention's 1-D form is column 0
                zero = f"{block.name}__col0"
                graph.initializer.append(numpy_helper.from_array(np.array(0, np.int64), zero))
                lengths = f"{block.name}__lengths"
                nodes.append(helper.make_node("Gather", [block.length, zero], [lengths], axis=1,
                                              name=f"{block.name}__lengths"))
            nodes.append(helper.make_node("Cast", [lengths], [f"{block.name}__mask"], to=6,  # int32
                                          name=f"{block.name}__mask"))
            inputs.append(f"{block.name}__mask")
        nodes.append(helper.make_node("Attention", inputs, [f"{block.name}__out"], domain="com.microsoft",
                                      num_heads=block.heads, name=f"{block.name}__attention"))
        nodes.append(helper.make_node("Transpose", [f"{block.name}__out"], [block.name], perm=[1, 0, 2],
                                      name=f"{block.name}__back"))
        replacements[block.name] = nodes
        report.attention += 1
        report.num_heads, report.hidden_size = block.heads, int(block.weight.shape[0])
    for node in g.nodes:
        if node["op"] != "LayerNorm" or node["name"] not in producers:
            continue
        attrs = node_attrs(node)
        if attrs.get("axis", "-1") != "-1" or attrs.get("output_mean_var", "False") == "True":
            continue
        data, gamma, beta = (i["name"] for i in g.inputs(node))
        replacements[node["name"]] = [helper.make_node(
            "LayerNormalization", [data, gamma, beta], [node["name"]], axis=-1,
            epsilon=float(attrs.get("eps", "1e-5")), name=f"{node['name']}__layernorm")]
        report.layer_norm += 1
    if not replacements:
        return model, report
    _apply(model, replacements)
    if report.attention:
        if not any(o.domain == "com.microsoft" for o in model.opset_import):
            model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model, report


def _graph_inputs(graph) -> set[str]:
    return {i.name for i in graph.input} | {t.name for t in graph.initializer}


def _apply(model, replacements: dict[str, list]) -> None:
    """Drop each replaced tensor's old producer, add the new nodes, prune the nodes and
    initializers nothing reads, and keep the node list topologically sorted (ONNX requires it)."""
    graph = model.graph
    kept = [n for n in graph.node if not set(n.output) & set(replacements)]
    new_nodes = kept + [n for nodes in replacements.values() for n in nodes]
    needed = {o.name for o in graph.output}
    live = []
    for node in reversed(_toposort(new_nodes, _graph_inputs(graph))):
        if set(node.output) & needed:
            live.append(node)
            needed |= set(node.input)
    del graph.node[:]
    graph.node.extend(reversed(live))
    used = {i for n in graph.node for i in n.input}
    keep_init = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep_init)
    # graph inputs stay as declared, even one nothing reads now: they are the model's interface


def _toposort(nodes: list, available: set[str]) -> list:
    ready, pending, out = set(available), list(nodes), []
    while pending:
        progress = [n for n in pending if all(not i or i in ready for i in n.input)]
        if not progress:
            raise ValueError(f"transformer fusion left a cycle or a dangling input at {pending[0].name}")
        for n in progress:
            ready |= set(n.output)
        out += progress
        pending = [n for n in pending if n not in progress]
    return out


def optimize_with_onnxruntime(model, num_heads: int, hidden_size: int, report: FusionReport):
    """ONNX Runtime's transformer optimizer on the rewritten model (its Python fusions only)."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(model, model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                               opt_level=0)
    report.optimizer = {k: int(v) for k, v in optimized.get_fused_operator_statistics().items()}
    return optimized.model
