"""fold_constants: subgraphs fed only by stored params are computed once, here, by MXNet.

A tensor is constant when its op is deterministic, carries no fused subgraph and reads only
constants (params, aux states, or nothing: `_zeros`, `_full`). Declared inputs and free
variables are not constant. The constant tensors that a non-constant node (or nothing but a
head) reads are evaluated with MXNet's executor on the stored params and become new params;
the folded ops then die. Heads are left computed by their op, so an output is never a bare
variable.
"""
from __future__ import annotations

import json

import numpy as np

from pipeline.core.errors import StageError
from pipeline.core.runtime_errors import runtime_call
from pipeline.model import bf16
from pipeline.graph import edit
from pipeline.graph.convert import to_json, topo_order
from pipeline.graph.passes.base import register_pass


def _constant_nodes(graph) -> set[str]:
    const = set()
    for name in topo_order(graph):
        node = graph.nodes[name]
        if node["op"] == "null":
            if node.get("kind") in ("param", "aux"):
                const.add(name)
        elif (edit.is_deterministic(node["op"]) and not node.get("subgraphs")
              and not edit.is_head(graph, name)
              and all(src in const for src, _ in edit.input_entries(graph, name))):
            const.add(name)
    return const


def _evaluate(graph, tensors, params) -> list[np.ndarray]:
    import mxnet as mx

    data = json.loads(to_json(graph))
    index = {n["name"]: i for i, n in enumerate(data["nodes"])}
    data["heads"] = [[index[n], out, 0] for n, out in tensors]
    sym = mx.sym.load_json(json.dumps(data))
    stored, narrow = {**params.arg, **params.aux}, bf16.declared(json.dumps(data))
    args = bf16.to_ndarrays(stored, narrow, sym.list_arguments())
    aux = bf16.to_ndarrays(stored, narrow, sym.list_auxiliary_states())
    # MXNet can refuse the folded subgraph (a kernel it lacks for the params' dtype): a coded error
    with runtime_call("mxnet", "the constant subgraphs fold_constants evaluates", code="OPT104", error=StageError,
                      where="fold_constants", nodes=[n for n, _ in tensors],
                      hint="leave fold_constants out of the passes, or fix the node it names"):
        exe = sym.bind(mx.cpu(), args=args, aux_states=aux, grad_req="null")
        return [bf16.to_numpy(o) for o in exe.forward(is_train=False)]


@register_pass("fold_constants", "precompute subgraphs fed only by params and constants")
def fold_constants(graph, params, inputs):
    const = _constant_nodes(graph)
    frontier = []
    for u, v, d in graph.edges(data=True):
        if u in const and v not in const and not edit.is_variable(graph, u) and (u, d["out"]) not in frontier:
            frontier.append((u, d["out"]))
    if not frontier:
        return edit.clone(graph), params
    values = _evaluate(graph, frontier, params)
    graph = edit.clone(graph)
    new_params = {}
    for (node, out), value in zip(frontier, values):
        suffix = "_folded" if out == 0 else f"_folded{out}"
        name = edit.add_variable(graph, edit.unique_name(graph, f"{node}{suffix}"), "param",
                                 graph.nodes[node]["order"] + 0.5)
        edit.redirect(graph, (node, out), (name, 0))
        new_params[name] = value
    edit.prune(graph)
    return graph, params.replace(arg=new_params).restrict(graph.nodes)
