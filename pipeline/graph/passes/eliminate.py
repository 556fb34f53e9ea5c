"""eliminate: no-op nodes (identity in inference) and nodes no output depends on.

Dropout is an identity at inference unless `mode='always'` (then it drops at inference too
and stays). BlockGrad/stop_gradient and MakeLoss only change gradients. A no-op whose input is
a variable and which is itself a head stays, so every output remains computed by an op.
"""
from __future__ import annotations

from pipeline.graph import edit
from pipeline.graph.passes.base import register_pass

NOOPS = frozenset({"_copy", "identity", "BlockGrad", "stop_gradient", "MakeLoss", "make_loss",
                   "_identity_with_attr_like_rhs"})


def _is_noop(graph, name) -> bool:
    node = graph.nodes[name]
    if node["op"] == "Dropout":
        if node["attrs"].get("mode", "training") == "always":
            return False
        return all(d["out"] == 0 for _, _, d in graph.out_edges(name, data=True)) and \
            all(o == 0 for n, o, _ in graph.graph["heads"] if n == name)
    return node["op"] in NOOPS


@register_pass("eliminate", "drop Dropout, identity/_copy/BlockGrad/MakeLoss and dead nodes")
def eliminate(graph, params, inputs):
    graph = edit.clone(graph)
    for name in [n for n in edit.op_nodes(graph) if _is_noop(graph, n)]:
        data = edit.input_entries(graph, name)[0]
        if edit.is_head(graph, name) and edit.is_variable(graph, data[0]):
            continue
        edit.redirect(graph, (name, 0), data)
        graph.remove_node(name)
    edit.prune(graph)
    return graph, params.restrict(graph.nodes)
