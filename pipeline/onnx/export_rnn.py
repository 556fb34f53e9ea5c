"""Multi-layer fused `RNN` ops split into one-layer ops before export (an MXNet 1.9.1 exporter bug).

MXNet's opset-13 translation of a 2-layer LSTM slices layer 0's input weights as 4*H*H values,
i.e. it assumes the input size equals the hidden size; with any other input size ONNX Runtime
fails in a Reshape ("Input shape:{0}, requested shape:{1,48}") and the translation has no
3+-layer form at all. Its one-layer translation reads the input size from the data, so each
layer of a stacked RNN becomes its own one-layer `RNN` node: its slice of the flat parameter
vector (MXNet's layout: every layer's i2h and h2h weights first, then every layer's i2h and h2h
biases), its slice of the begin states (`slice_axis` on axis 0), and the layers' final states
concatenated back on axis 0, so the graph's outputs are unchanged.

Only unidirectional RNNs whose parameters are a stored param are split (the slices are cut
here, on the host); anything else is left to the exporter as it is.
"""
from __future__ import annotations

import numpy as np

from pipeline.model.symbol_json import node_attrs

GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def _splittable(node: dict, nodes: list[dict], params: dict) -> bool:
    attrs = node_attrs(node)
    return (node["op"] == "RNN" and int(attrs.get("num_layers", "1")) > 1
            and attrs.get("bidirectional", "False") in ("False", "0", "false")
            and attrs.get("mode") in GATES and attrs.get("projection_size", "None") == "None"
            and attrs.get("use_sequence_length", "False") in ("False", "0", "false")
            and nodes[node["inputs"][1][0]]["name"] in params)


def layer_slices(flat: np.ndarray, layers: int, hidden: int, gates: int) -> list[np.ndarray]:
    """Each layer's own flat parameter vector [W_i2h, W_h2h, b_i2h, b_h2h] from MXNet's packed one."""
    gh = gates * hidden
    biases = layers * 2 * gh
    weights = flat.size - biases
    input_size = (weights - (layers - 1) * gh * 2 * hidden) // gh - hidden
    out, offset = [], 0
    for layer in range(layers):
        size = gh * ((input_size if layer == 0 else hidden) + hidden)
        w = flat[offset:offset + size]
        offset += size
        b = flat[weights + layer * 2 * gh: weights + (layer + 1) * 2 * gh]
        out.append(np.concatenate([w, b]))
    return out


def split_rnn_layers(graph: dict, params: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """(graph, params) with every splittable multi-layer RNN replaced by a chain of one-layer RNNs."""
    nodes = graph["nodes"]
    if not any(_splittable(n, nodes, params) for n in nodes):
        return graph, params
    params = dict(params)
    new_nodes: list[dict] = []
    moved: dict[int, int] = {}  # old node -> new node (copied nodes keep their output indices)
    split: dict[tuple[int, int], list[int]] = {}  # old (RNN, output) -> new [node, output]

    def add(node: dict) -> int:
        new_nodes.append(node)
        return len(new_nodes) - 1

    def entry(old: list) -> list:
        return [*split[(old[0], old[1])], 0] if (old[0], old[1]) in split else [moved[old[0]], old[1], 0]

    for index, node in enumerate(nodes):
        if not _splittable(node, nodes, params):
            moved[index] = add(dict(node, inputs=[entry(i) for i in node["inputs"]]))
            continue
        attrs, name = node_attrs(node), node["name"]
        layers, hidden, mode = int(attrs["num_layers"]), int(attrs["state_size"]), attrs["mode"]
        flat = params[nodes[node["inputs"][1][0]]["name"]].reshape(-1)  # its variable stays, unused (dropped at export)
        data, states = entry(node["inputs"][0]), [entry(i) for i in node["inputs"][2:]]
        finals: list[list[int]] = [[] for _ in states]
        for layer, piece in enumerate(layer_slices(flat, layers, hidden, GATES[mode])):
            pname = f"{name}_l{layer}_parameters"
            params[pname] = piece.astype(flat.dtype)
            pid = add({"op": "null", "name": pname, "inputs": []})
            sliced = [add({"op": "slice_axis", "name": f"{name}_l{layer}_begin{k}",
                           "attrs": {"axis": "0", "begin": str(layer), "end": str(layer + 1)}, "inputs": [s]})
                      for k, s in enumerate(states)]
            last = layer == layers - 1
            rid = add({"op": "RNN", "name": name if last else f"{name}_l{layer}",
                       "attrs": {**attrs, "num_layers": "1", "state_outputs": "True"},
                       "inputs": [data, [pid, 0, 0]] + [[s, 0, 0] for s in sliced]})
            data = [rid, 0, 0]
            for k in range(len(states)):
                finals[k].append(rid)
        split[(index, 0)] = [data[0], 0]
        for k, rids in enumerate(finals):
            cid = add({"op": "Concat", "name": f"{name}_state{k}", "attrs": {"dim": "0", "num_args": str(layers)},
                       "inputs": [[r, k + 1, 0] for r in rids]})
            split[(index, k + 1)] = [cid, 0]
    out = {key: value for key, value in graph.items() if key not in ("nodes", "arg_nodes", "heads", "node_row_ptr")}
    out["nodes"] = new_nodes
    out["arg_nodes"] = [i for i, n in enumerate(new_nodes) if n["op"] == "null"]
    out["heads"] = [entry(h) for h in graph["heads"]]
    return out, params

