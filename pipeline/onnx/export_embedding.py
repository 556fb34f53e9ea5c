"""MXNet's Embedding index clipping kept in the export, when the deployment asks for it.

MXNet's `Embedding` clips every index into [0, input_dim - 1] (a token id past the vocabulary
reads the last row); the exporter's translation is a plain `Gather`, which ONNX Runtime refuses
for such an id ("indices element out of data bounds") and OpenVINO answers with zeros. With
`clip_indices` (deploy's param, the ONNX targets' option) each Embedding's index input goes
through `clip(0, input_dim - 1)` first, exported as ONNX `Clip`, so the export computes what
MXNet does for every id; without it the export is MXNet's translation unchanged (and `check`
warns about ranges past the table: EI901).
"""
from __future__ import annotations

from pipeline.model.symbol_json import node_attrs


def clip_embedding_indices(graph: dict) -> dict:
    """A copy of `graph` (symbol JSON) with a `clip` before the indices of every Embedding."""
    nodes = graph["nodes"]
    if not any(n["op"] == "Embedding" for n in nodes):
        return graph
    new_nodes: list[dict] = []
    moved: dict[int, int] = {}

    def entry(old: list) -> list:
        return [moved[old[0]], old[1], 0]

    for index, node in enumerate(nodes):
        inputs = [entry(i) for i in node["inputs"]]
        if node["op"] == "Embedding":
            rows = int(node_attrs(node)["input_dim"])
            new_nodes.append({"op": "clip", "name": f"{node['name']}_clip_indices",
                              "attrs": {"a_min": "0", "a_max": str(rows - 1)}, "inputs": [inputs[0]]})
            inputs[0] = [len(new_nodes) - 1, 0, 0]
        new_nodes.append(dict(node, inputs=inputs))
        moved[index] = len(new_nodes) - 1
    out = {k: v for k, v in graph.items() if k not in ("nodes", "arg_nodes", "heads", "node_row_ptr")}
    out["nodes"] = new_nodes
    out["arg_nodes"] = [i for i, n in enumerate(new_nodes) if n["op"] == "null"]
    out["heads"] = [entry(h) for h in graph["heads"]]
    return out
