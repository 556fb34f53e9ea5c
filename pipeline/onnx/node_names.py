"""Every node of an exported ONNX graph gets a name, derived from the MXNet node it came from.

mx2onnx names some nodes (BatchNormalization, Gemm) and leaves others empty (Conv, Flatten,
Softmax). A runtime that refuses a node names it by that field, so ONNX Runtime said
"Could not find an implementation for Conv(11) node with name ''": nothing to map back.
The exporter names each node's outputs after the MXNet node (`conv0`, `fc0_data_flattened`),
so an unnamed node takes its first output's name; a taken name gets `_1`, `_2`... Names are
deterministic (graph order), and tensor names, which the node maps key on, are untouched.
Quantization (OpenVINO's friendly names, ORT's nodes_to_exclude) reads the same names.
"""
from __future__ import annotations


def name_nodes(model) -> None:
    """Give every unnamed node of `model` (in place) its first output's name, made unique."""
    taken = {node.name for node in model.graph.node if node.name}
    for node in model.graph.node:
        if node.name:
            continue
        base = next((o for o in node.output if o), "") or node.op_type
        name, i = base, 1
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        node.name = name
        taken.add(name)
