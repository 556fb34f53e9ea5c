"""Fold shape-only computations into constants before export (OpenVINO compiles the result).

SSD and the other GluonCV detectors build anchors and offsets from `_arange`, `zeros_like`,
`slice_like(anchors, feature_map)`: values that depend on the data only through its shape.
Exported as ops, they give OpenVINO's CPU plugin tensors whose memory it cannot size at
compile time ("Can not create StaticMemory object. The memory desc is undefined"), which
refused all 9 sampled detectors. With the declared (static) input shapes they are constants:
every node whose inputs are params, constants or only the *shape* of data (the second input of
slice_like / broadcast_like / reshape_like, the input of zeros_like / ones_like / shape_array /
size_array) is evaluated once with MXNet and replaced by a param. Only the frontier is kept:
folded nodes nothing else reads are dropped.
"""
from __future__ import annotations

import json

import numpy as np

from pipeline.core.errors import ExportError
from pipeline.core.runtime_errors import runtime_call

# op -> input positions read only for their shape
SHAPE_ONLY_INPUTS = {"slice_like": {1}, "broadcast_like": {1}, "reshape_like": {1}, "zeros_like": {0},
                     "ones_like": {0}, "shape_array": {0}, "size_array": {0},
                     # older SSD checkpoints' anchors: a function of the feature map's shape only, so
                     # folded to a constant it needs no ONNX translation (mx2onnx has none)
                     "_contrib_MultiBoxPrior": {0}}
# ops that exist in the exported graph only as folded constants (static input shapes)
FOLDED_ONLY_OPS = frozenset({"_contrib_MultiBoxPrior"})
_NEVER_FOLD = {"_contrib_box_nms", "_contrib_MultiBoxDetection", "_contrib_Proposal", "_contrib_MultiProposal"}


def fold_shape_constants(graph: dict, params: dict[str, np.ndarray], shapes: dict[str, tuple]) -> tuple[dict, dict]:
    """(graph, params) with every static non-variable frontier node replaced by a folded param."""
    import mxnet as mx

    nodes = graph["nodes"]
    static = []
    for node in nodes:
        if node["op"] == "null":
            static.append(node["name"] in params)
            continue
        shape_only = SHAPE_ONLY_INPUTS.get(node["op"], set())
        static.append(node["op"] not in _NEVER_FOLD and
                      all(static[src] or pos in shape_only for pos, (src, *_) in enumerate(node["inputs"])))
    # frontier: a static op node read by a non-static node (or an output) through output 0
    readers = [(i, pos, src, out) for i, node in enumerate(nodes) for pos, (src, out, *_) in enumerate(node["inputs"])]
    heads = {src for src, *_ in graph["heads"]}
    frontier = sorted({src for i, pos, src, out in readers
                       if static[src] and nodes[src]["op"] != "null" and not static[i]
                       and pos not in SHAPE_ONLY_INPUTS.get(nodes[i]["op"], set())} |
                      {h for h in heads if static[h] and nodes[h]["op"] != "null"})
    frontier = [f for f in frontier if all(out == 0 for i, pos, src, out in readers if src == f)]
    if not frontier:
        return graph, params
    # the frontier as the heads of the same graph (gluoncv repeats node names: no lookup by name)
    heads = {k: v for k, v in graph.items() if k != "node_row_ptr"}
    outputs = mx.sym.load_json(json.dumps({**heads, "heads": [[f, 0, 0] for f in frontier]}))
    feed = {k: mx.nd.array(v, dtype=v.dtype) for k, v in params.items()}
    for name in outputs.list_inputs():
        if name not in feed:
            if name not in shapes:  # an undeclared input (a label): leave the graph as it is
                return graph, params
            feed[name] = mx.nd.zeros(shapes[name])
    with runtime_call("mxnet", "the shape-only constants folded before export", code="EXP111", error=ExportError,
                      nodes=[nodes[f]["name"] for f in frontier],
                      hint="declare the input shapes the graph accepts, or deploy to cpu / onednn (no export)"):
        executor = outputs.bind(mx.cpu(), {k: feed[k] for k in outputs.list_arguments()},
                                aux_states={k: feed[k] for k in outputs.list_auxiliary_states()}, grad_req="null")
        values = [v.asnumpy() for v in executor.forward(is_train=False)]
    out = json.loads(json.dumps(graph))
    new_params = dict(params)
    taken = {n["name"] for n in nodes}
    for index, value in zip(frontier, values):
        name = f"{nodes[index]['name']}__folded"
        while name in taken:  # gluoncv reuses node names (one block per FPN level): keep each distinct
            name += "_"
        taken.add(name)
        out["nodes"][index] = {"op": "null", "name": name, "inputs": []}
        new_params[name] = value
    out["arg_nodes"] = [i for i, node in enumerate(out["nodes"]) if node["op"] == "null"]
    out.pop("node_row_ptr", None)  # stale once nodes change their output count; MXNet recomputes it
    pruned = json.loads(mx.sym.load_json(json.dumps(out)).tojson())
    used = {n["name"] for n in pruned["nodes"] if n["op"] == "null"}
    return pruned, {k: v for k, v in new_params.items() if k in used}
