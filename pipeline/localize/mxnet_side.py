"""The MXNet side: a bundle bound on MXNet's executor, tapped through `sym.get_internals()`.

A tap binds `Group([outputs..., internals[id] ...])`, so MXNet's memory planner keeps only those
extra tensors alive: the memory of one run grows with the number of taps, not the graph size.
Aliases come from what was recorded when the graph was made: a native MXNet graph is its own
origin (`mx:NODE:INDEX`); a graph our importer made from ONNX carries `metadata["onnx"]
["node_map"]` (ONNX tensor -> MXNet output) and, when that ONNX file came from our exporter, its
`export_node_map` back to the original MXNet nodes (pipeline/onnx/importer/convert.py).
"""
from __future__ import annotations

import json
import re

import numpy as np

from pipeline.localize.tapnode import Side, TapNode
from pipeline.model import bf16
from pipeline.targets.cpu import unfused_binds

_MULTI = re.compile(r"^(.*)_output(\d+)$")


def output_ids(graph: dict, internal_names: list[str]) -> dict[tuple[str, int], str]:
    """{(node name, output index): internal output name} for every op node's visible output.

    A name two nodes share (a Gluon block called twice, as Mask R-CNN's shared ResNet stage is,
    exports two `..._fwd` nodes of one name) cannot be tapped: `internals[name]` refuses it, and
    matching by that name would pair the wrong call. Those nodes are left out (unmatched)."""
    counts: dict[str, int] = {}
    for n in graph["nodes"]:
        counts[n["name"]] = counts.get(n["name"], 0) + 1
    ops = {n["name"] for n in graph["nodes"] if n["op"] != "null" and counts[n["name"]] == 1}
    out = {}
    for name in internal_names:
        if name.endswith("_output") and name[: -len("_output")] in ops:
            out[(name[: -len("_output")], 0)] = name
        else:
            match = _MULTI.match(name)
            if match and match.group(1) in ops:
                out[(match.group(1), int(match.group(2)))] = name
    return out


def graph_nodes(symbol_json: str, metadata: dict, internal_names: list[str]) -> list[TapNode]:
    graph = json.loads(symbol_json)
    nodes = graph["nodes"]
    ids = output_ids(graph, internal_names)
    aliases = _aliases(metadata, ids)
    result = []
    for node in nodes:
        if node["op"] == "null":
            continue
        inputs = tuple(ids[(nodes[src]["name"], idx)] for src, idx, *_ in node["inputs"]
                       if nodes[src]["op"] != "null" and (nodes[src]["name"], idx) in ids)
        for (name, index), tid in sorted((k, v) for k, v in ids.items() if k[0] == node["name"]):
            result.append(TapNode(tid, node["op"], name, inputs, frozenset(aliases.get(tid, ()))))
    return result


def _aliases(metadata: dict, ids: dict[tuple[str, int], str]) -> dict[str, set[str]]:
    onnx = metadata.get("onnx") or {}
    if "node_map" not in onnx:  # a native MXNet graph: each output is its own origin
        return {tid: {f"mx:{name}:{index}"} for (name, index), tid in ids.items()}
    origin = {tensor: f"mx:{node}:{index}" for node, index, tensor in onnx.get("export_node_map", [])}
    out: dict[str, set[str]] = {}
    for tensor, tid in onnx["node_map"]:
        out.setdefault(tid, set()).add(f"onnx:{tensor}")
        if tensor in origin:
            out[tid].add(origin[tensor])
    return out


class MXNetSide(Side):
    kind = "mxnet"

    def __init__(self, spec: str, target: str, bundle, symbol=None):
        from pipeline.model import quantized

        super().__init__(spec, target, bundle.inputs, quantized.record(bundle.metadata))
        self.bundle = bundle
        self.sym = symbol if symbol is not None else bundle.symbol()
        self._internals = self.sym.get_internals()
        self._arg_params, self._aux_params = bundle.mx_params()

    def nodes(self) -> list[TapNode]:
        return graph_nodes(self.sym.tojson(), self.bundle.metadata, self._internals.list_outputs())

    def symbol_of(self, tid: str):
        return self._internals[tid]

    def _run(self, feed, taps):
        import mxnet as mx

        from pipeline.model.labels import label_variables

        heads = [self.sym[i] for i in range(len(self.sym.list_outputs()))]
        group = mx.sym.Group(heads + [self._internals[t] for t in taps])
        shapes = {n: feed[n].shape for n in feed if n in group.list_arguments()}
        from pipeline.core.runtime_errors import runtime_call
        from pipeline.localize.errors import RUNTIME_FAILED, LocalizeError

        with runtime_call("mxnet", f"shape inference for inputs {shapes}", code=RUNTIME_FAILED, error=LocalizeError,
                          where=self.describe(), hint="declare input shapes the graph accepts"):
            arg_shapes, _, _ = group.infer_shape(**shapes)
        labels = set(label_variables(self.sym.tojson()))
        args = {}
        for name, shape in zip(group.list_arguments(), arg_shapes):
            if name in feed:
                args[name] = mx.nd.array(feed[name], dtype=feed[name].dtype)
            elif name in self._arg_params:
                args[name] = self._arg_params[name]
            elif name in labels:
                args[name] = mx.nd.zeros(shape)
        aux = {n: self._aux_params[n] for n in group.list_auxiliary_states()}
        with runtime_call("mxnet", "the graph with tapped outputs" if taps else "the graph", code=RUNTIME_FAILED,
                          error=LocalizeError, where=self.describe(),
                          hint="if only the tapped graph fails, compare without --localize; otherwise compare on "
                               "another target"), unfused_binds(bool(taps)):
            exe = group.bind(ctx=mx.cpu(), args=args, aux_states=aux, grad_req="null")
            exe.forward(is_train=False)
        values = [bf16.to_numpy(o) for o in exe.outputs]  # a bf16 tensor is widened, not read as its raw bits
        del exe
        return values[: len(heads)], dict(zip(taps, values[len(heads):]))

    def run_subgraph(self, out_id: str, cut: dict[str, str], feed: dict[str, np.ndarray]) -> np.ndarray:
        """`out_id` computed alone from `cut` ({tap id: variable}) fed from `feed`, bound as deployed.

        No tensor is tapped, so the bind fuses as the untapped model's does (MXNet's default oneDNN
        subgraph backend on cpu). A cut tensor is fed in the dtype the graph computes it in (bf16
        inside an AMP graph), so the node sees what it sees in the full model."""
        import mxnet as mx

        from pipeline.core.runtime_errors import runtime_call
        from pipeline.localize.errors import RUNTIME_FAILED, LocalizeError

        sym, params = subgraph_symbol(self, out_id, cut)
        dtypes = self._tensor_dtypes()
        var_dtype = {var: dtypes.get(tid) for tid, var in cut.items()}
        args = {n: params[n] for n in sym.list_arguments() if n in params}
        for name in sym.list_arguments():
            if name in feed:
                array = mx.nd.array(feed[name], dtype=feed[name].dtype)
                args[name] = array.astype(var_dtype[name]) if var_dtype.get(name) is not None else array
        aux = {n: params[n] for n in sym.list_auxiliary_states() if n in params}
        with runtime_call("mxnet", "the node's subgraph", code=RUNTIME_FAILED, error=LocalizeError,
                          where=self.describe(), hint="the finding stays unconfirmed; compare without --localize"):
            exe = sym.bind(ctx=mx.cpu(), args=args, aux_states=aux, grad_req="null")
            exe.forward(is_train=False)
            return bf16.to_numpy(exe.outputs[0])

    def _tensor_dtypes(self) -> dict[str, object]:
        """{internal output name: the dtype MXNet infers for it} (bf16 tensors of an AMP graph)."""
        import mxnet as mx

        given = {s.name: np.dtype(s.dtype) for s in self.inputs if s.name in self._internals.list_inputs()}
        try:  # the params' types come from the graph's own __dtype__ attributes
            _, out_types, _ = self._internals.infer_type_partial(**given)
        except mx.base.MXNetError:  # untypeable: the cut is fed as given; a mismatch fails the bind (LOC006)
            return {}
        return dict(zip(self._internals.list_outputs(), out_types))


def subgraph_symbol(side: MXNetSide, out_id: str, boundary: dict[str, str]):
    """The Symbol computing `out_id` from `boundary` ({tap id: variable name}) and params.

    Each boundary tensor becomes a variable; nodes only the cut-off part needed are dropped.
    Returns (symbol, {param name: NDArray}) holding just the params the subgraph reads.
    """
    import mxnet as mx

    sym = side.symbol_of(out_id)
    graph = json.loads(sym.tojson())
    nodes = graph["nodes"]
    ids = output_ids(graph, sym.get_internals().list_outputs())
    by_id = {v: k for k, v in ids.items()}
    cut = {by_id[t]: var for t, var in boundary.items() if t in by_id}
    new_nodes, remap, var_index = [], {}, {}

    def ref(src: int, idx: int) -> list[int]:
        key = (nodes[src]["name"], idx)
        if key in cut:
            if key not in var_index:
                var_index[key] = len(new_nodes)
                new_nodes.append({"op": "null", "name": cut[key], "inputs": []})
            return [var_index[key], 0, 0]
        return [visit(src), idx, 0]

    def visit(i: int) -> int:
        if i in remap:
            return remap[i]
        node = dict(nodes[i])
        node["inputs"] = [ref(src, idx) for src, idx, *_ in node["inputs"]]
        remap[i] = len(new_nodes)
        new_nodes.append(node)
        return remap[i]

    head_src, head_idx = graph["heads"][0][:2]
    head = ref(head_src, head_idx)
    out = {"nodes": new_nodes, "arg_nodes": [i for i, n in enumerate(new_nodes) if n["op"] == "null"],
           "heads": [head], "attrs": graph.get("attrs", {})}
    sub = mx.sym.load_json(json.dumps(out))
    params = {n: side._arg_params[n] for n in sub.list_arguments() if n in side._arg_params}
    params.update({n: side._aux_params[n] for n in sub.list_auxiliary_states() if n in side._aux_params})
    return sub, params
