"""cse: common subexpression elimination.

Two op nodes with the same op, the same attrs and the same inputs (producer, output, in
order) compute the same tensors; the later one is dropped and its readers read the earlier
one. Visiting in topological order makes merges cascade (once two producers merge, their
identical consumers become identical too). Random ops and fused ops are never merged.
"""
from __future__ import annotations

import json

from pipeline.graph import edit
from pipeline.graph.convert import topo_order
from pipeline.graph.passes.base import register_pass


def _signature(graph, name) -> str | None:
    node = graph.nodes[name]
    if node["op"] == "null" or node.get("subgraphs") or not edit.is_deterministic(node["op"]):
        return None
    return json.dumps([node["op"], sorted(node["attrs"].items()), edit.input_entries(graph, name)])


@register_pass("cse", "merge op nodes with identical op, attrs and inputs")
def cse(graph, params, inputs):
    graph = edit.clone(graph)
    seen: dict[str, str] = {}
    for name in topo_order(graph):
        sig = _signature(graph, name)
        if sig is None:
            continue
        if sig not in seen:
            seen[sig] = name
            continue
        keep = seen[sig]
        for out in sorted({d["out"] for _, _, d in graph.out_edges(name, data=True)}
                          | {o for n, o, _ in graph.graph["heads"] if n == name}):
            edit.redirect(graph, (name, out), (keep, out))
        graph.remove_node(name)
    edit.prune(graph)
    return graph, params.restrict(graph.nodes)
