"""Small, checked edits on the graph view, shared by the passes and the partitioner.

Passes work on a copy (`graph.copy()`) and use these helpers so that input positions stay
dense, heads follow rewired tensors and new names never collide.
"""
from __future__ import annotations

import networkx as nx

from pipeline.graph.convert import node_inputs

# Ops whose value is not a function of their inputs: never folded, merged or evaluated ahead.
NONDETERMINISTIC_PREFIXES = ("_random_", "_sample_", "random_", "sample_", "_shuffle")


def clone(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy safe to edit: `graph.copy()` shares the heads list and each node's attrs dict."""
    new = graph.copy()
    new.graph["heads"] = list(graph.graph["heads"])
    new.graph["attrs"] = dict(graph.graph.get("attrs", {}))
    for _, data in new.nodes(data=True):
        data["attrs"] = dict(data["attrs"])
    return new


def is_variable(graph: nx.MultiDiGraph, name: str) -> bool:
    return graph.nodes[name]["op"] == "null"


def op_nodes(graph: nx.MultiDiGraph) -> list[str]:
    return [n for n, d in graph.nodes(data=True) if d["op"] != "null"]


def op_count(graph: nx.MultiDiGraph) -> int:
    return len(op_nodes(graph))


def is_deterministic(op: str) -> bool:
    return not op.startswith(NONDETERMINISTIC_PREFIXES) and op not in ("Dropout",)


def consumers(graph: nx.MultiDiGraph, name: str, out: int | None = None) -> list[tuple[str, int]]:
    """(consumer, input position) of every edge leaving `name` (only output `out` if given)."""
    return [(v, d["pos"]) for _, v, d in graph.out_edges(name, data=True) if out is None or d["out"] == out]


def is_head(graph: nx.MultiDiGraph, name: str, out: int | None = None) -> bool:
    return any(n == name and (out is None or o == out) for n, o, _ in graph.graph["heads"])


def unique_name(graph: nx.MultiDiGraph, base: str) -> str:
    name, i = base, 1
    while name in graph:
        name = f"{base}_{i}"
        i += 1
    return name


def redirect(graph: nx.MultiDiGraph, old: tuple[str, int], new: tuple[str, int]) -> None:
    """Make every consumer (and head) of tensor `old` read tensor `new` instead (in place)."""
    src, out = old
    for _, v, key, d in list(graph.out_edges(src, keys=True, data=True)):
        if d["out"] == out:
            graph.remove_edge(src, v, key)
            graph.add_edge(new[0], v, out=new[1], pos=d["pos"], version=0)
    graph.graph["heads"] = [(new[0], new[1], 0) if (n, o) == (src, out) else (n, o, v)
                            for n, o, v in graph.graph["heads"]]


def set_inputs(graph: nx.MultiDiGraph, name: str, entries: list[tuple[str, int]]) -> None:
    """Replace all inputs of `name` with `entries` [(producer, out)] (in place)."""
    graph.remove_edges_from(list(graph.in_edges(name, keys=True)))
    for pos, (src, out) in enumerate(entries):
        graph.add_edge(src, name, out=out, pos=pos, version=0)


def add_op(graph: nx.MultiDiGraph, name: str, op: str, attrs: dict, inputs: list[tuple[str, int]],
           order: float) -> str:
    """Add an op node (in place); `order` places it among the nodes it replaces."""
    graph.add_node(name, op=op, name=name, attrs={k: str(v) for k, v in attrs.items()}, order=order)
    set_inputs(graph, name, inputs)
    return name


def add_variable(graph: nx.MultiDiGraph, name: str, kind: str, order: float, attrs: dict | None = None) -> str:
    graph.add_node(name, op="null", name=name, attrs=dict(attrs or {}), order=order, kind=kind)
    return name


def input_entries(graph: nx.MultiDiGraph, name: str) -> list[tuple[str, int]]:
    return [(u, out) for u, out, _ in node_inputs(graph, name)]


def live_nodes(graph: nx.MultiDiGraph) -> set[str]:
    """Nodes the heads depend on."""
    live = set()
    for head, _, _ in graph.graph["heads"]:
        live.add(head)
        live |= nx.ancestors(graph, head)
    return live


def prune(graph: nx.MultiDiGraph) -> list[str]:
    """Remove every node the heads do not depend on (in place); returns their names.

    Declared inputs stay even when unused, so the deployed model keeps its input signature.
    """
    live = live_nodes(graph)
    dead = [n for n, d in graph.nodes(data=True) if n not in live and d.get("kind") != "input"]
    graph.remove_nodes_from(dead)
    return dead
