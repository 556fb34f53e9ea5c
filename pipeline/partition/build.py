"""Turn a partition of the graph view into an executable graph, a plan and a picture.

Each accelerator part becomes one `Custom` node (op_type `mxdeploy_subgraph`, see
pipeline/partition/runtime.py) whose attrs carry the part's own symbol JSON. Inside, the
part reads its params under their own names and each tensor crossing into it under a new
variable name; outside, those are exactly the custom node's inputs, so the params file does
not change and the custom node's outputs replace the part's outgoing tensors. Variables go
with the parts that read them; declared inputs stay outside, fed to whichever parts read them.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field

import networkx as nx

from pipeline.graph import edit
from pipeline.graph.convert import to_json
from pipeline.graph.shapes import nbytes
from pipeline.partition.runtime import OP_TYPE
from pipeline.partition.algorithm import Part


@dataclass
class Subgraph:
    name: str
    nodes: list[str]
    inputs: list[tuple[str, tuple[str, int]]] = field(default_factory=list)   # (inner name, outer tensor)
    outputs: list[tuple[str, int]] = field(default_factory=list)              # outer tensors it produces
    symbol_json: str = ""


def _tensor_label(graph, tensor) -> str:
    node, out = tensor
    return node if edit.is_variable(graph, node) or out == 0 else f"{node}:{out}"


def extract(graph: nx.MultiDiGraph, part: Part, name: str) -> Subgraph:
    """The part as a standalone graph: its op nodes, the variables it reads, boundary inputs."""
    inside = set(part.nodes)
    sub = nx.MultiDiGraph()
    boundary: dict[tuple[str, int], str] = {}
    result = Subgraph(name, sorted(inside, key=lambda n: graph.nodes[n]["order"]))
    for n in result.nodes:
        sub.add_node(n, **graph.nodes[n])
    for n in result.nodes:
        for u, _, d in graph.in_edges(n, data=True):
            if u in inside:
                sub.add_edge(u, n, **d)
                continue
            tensor = (u, d["out"])
            if tensor not in boundary:
                if edit.is_variable(graph, u):
                    boundary[tensor] = u
                    sub.add_node(u, **graph.nodes[u])
                else:
                    var = f"{u}_output{d['out']}"
                    while var in graph or var in sub:
                        var += "_"
                    boundary[tensor] = var
                    sub.add_node(var, op="null", name=var, attrs={}, kind="input", order=graph.nodes[u]["order"])
            sub.add_edge(boundary[tensor], n, out=0, pos=d["pos"], version=0)
    outputs = []
    for n in result.nodes:
        for _, v, d in graph.out_edges(n, data=True):
            if v not in inside and (n, d["out"]) not in outputs:
                outputs.append((n, d["out"]))
        for h, out, _ in graph.graph["heads"]:
            if h == n and (n, out) not in outputs:
                outputs.append((n, out))
    result.outputs = sorted(outputs, key=lambda t: (graph.nodes[t[0]]["order"], t[1]))
    sub.graph["heads"] = [(n, out, 0) for n, out in result.outputs]
    sub.graph["attrs"] = dict(graph.graph.get("attrs", {}))
    result.symbol_json = json.dumps(json.loads(to_json(sub)), separators=(",", ":"))
    inner_to_outer = {inner: outer for outer, inner in boundary.items()}
    result.inputs = [(inner, inner_to_outer[inner]) for inner in inner_to_outer]
    return result


def replace_parts(graph: nx.MultiDiGraph, subgraphs: list[Subgraph], engine: str) -> nx.MultiDiGraph:
    """A copy of `graph` where each subgraph is one custom node."""
    import mxnet as mx

    graph = edit.clone(graph)
    moved: dict[tuple[str, int], tuple[str, int]] = {}  # tensors of parts already replaced
    for sg in subgraphs:
        sym = mx.sym.load_json(sg.symbol_json)
        outer = {inner: moved.get(t, t) for inner, t in sg.inputs}
        ordered = sym.list_arguments() + sym.list_auxiliary_states()
        params = [n for n in ordered if edit.is_variable(graph, outer[n][0])
                  and graph.nodes[outer[n][0]].get("kind") in ("param", "aux")]
        key = hashlib.sha256(sg.symbol_json.encode()).hexdigest()[:16]
        attrs = {"op_type": OP_TYPE, "symbol_json": sg.symbol_json, "key": f"{sg.name}-{key}",
                 "param_names": json.dumps(params), "engine": engine}
        order = min(graph.nodes[n]["order"] for n in sg.nodes)
        edit.add_op(graph, sg.name, "Custom", attrs, [outer[n] for n in ordered], order)
        for k, tensor in enumerate(sg.outputs):
            edit.redirect(graph, tensor, (sg.name, k))
            moved[tensor] = (sg.name, k)
        graph.remove_nodes_from(sg.nodes)
    return graph


def plan(graph, parts, subgraphs, info, reasons: dict[str, str], target: str) -> dict:
    """plan.json: what runs where and what crosses between them (shapes, bytes)."""

    def tensor(t):
        shape, dtype = info[t]
        kind = graph.nodes[t[0]].get("kind", "activation") if edit.is_variable(graph, t[0]) else "activation"
        return {"tensor": _tensor_label(graph, t), "kind": kind, "shape": list(shape), "dtype": dtype,
                "bytes": nbytes(shape, dtype)}

    cpu = [n for p in parts if not p.supported for n in p.nodes]
    cpu.sort(key=lambda n: graph.nodes[n]["order"])
    return {
        "target": target,
        "subgraphs": [{"name": sg.name, "nodes": sg.nodes,
                       "ops": dict(sorted(Counter(graph.nodes[n]["op"] for n in sg.nodes).items())),
                       "inputs": [tensor(t) for _, t in sg.inputs], "outputs": [tensor(t) for t in sg.outputs]}
                      for sg in subgraphs],
        "cpu_nodes": [{"name": n, "op": graph.nodes[n]["op"], "reason": reasons.get(n, "")} for n in cpu],
    }


def dot(graph, parts, subgraphs) -> str:
    """plan.dot: op nodes, one cluster per accelerator subgraph, CPU nodes outside (graphviz text)."""
    def q(text):
        return json.dumps(str(text))

    lines = ["digraph partition {", "  rankdir=TB;", "  node [shape=box, fontsize=10];"]
    for sg in subgraphs:
        lines.append(f"  subgraph {q('cluster_' + sg.name)} {{")
        lines.append(f"    label={q(sg.name)}; style=filled; color=lightblue;")
        lines += [f"    {q(n)} [label={q(n + chr(10) + graph.nodes[n]['op'])}];" for n in sg.nodes]
        lines.append("  }")
    for p in parts:
        if not p.supported:
            (n,) = p.nodes
            lines.append(f"  {q(n)} [label={q(n + chr(10) + graph.nodes[n]['op'])}, style=filled, color=orange];")
    for n, d in graph.nodes(data=True):
        if d.get("kind") == "input":
            lines.append(f"  {q(n)} [shape=ellipse];")
    for u, v in sorted(set(graph.edges())):
        if graph.nodes[u]["op"] != "null" or graph.nodes[u].get("kind") == "input":
            lines.append(f"  {q(u)} -> {q(v)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
