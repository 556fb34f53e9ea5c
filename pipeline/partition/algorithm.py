"""Maximal acyclic grouping of supported nodes: the pure graph algorithm behind partitioning.

Every supported node starts as its own part, every unsupported node is a part of its own for
good. Two supported parts joined by an edge A -> B merge unless another path leads from A to B
(through a third part): merging would then put that third part both after and before the
merged one, a cycle in the contracted graph, which no executor can schedule. Merging repeats
until no adjacent pair of supported parts can merge, so each accelerator part is maximal
(connected, and no neighbour can join it) and the contracted graph stays a DAG by
construction. The input is any networkx DiGraph/MultiDiGraph that is acyclic.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx


@dataclass(frozen=True)
class Part:
    nodes: frozenset
    supported: bool


def _reaches_other_way(parts: nx.DiGraph, a, b) -> bool:
    """True when some path a -> x -> ... -> b exists with x != b."""
    stack = [s for s in parts.successors(a) if s != b]
    seen = set(stack)
    while stack:
        x = stack.pop()
        if x == b:
            return True
        for s in parts.successors(x):
            if s not in seen:
                seen.add(s)
                stack.append(s)
    return False


def _merge(parts: nx.DiGraph, members: dict, a, b) -> None:
    for p in parts.predecessors(b):
        if p != a:
            parts.add_edge(p, a)
    for s in parts.successors(b):
        if s != a:
            parts.add_edge(a, s)
    parts.remove_node(b)
    members[a] |= members.pop(b)


def partition(dag: nx.DiGraph, supported) -> list[Part]:
    """Parts of `dag` in topological order: maximal supported groups and single unsupported nodes."""
    supported = set(supported)
    order = list(nx.lexicographical_topological_sort(dag, key=str))
    rank = {n: i for i, n in enumerate(order)}
    part_of = {n: n for n in order}
    members = {n: {n} for n in order}
    parts = nx.DiGraph()
    parts.add_nodes_from(order)
    parts.add_edges_from((u, v) for u, v in dag.edges() if u != v)
    changed = True
    while changed:
        changed = False
        for v in order:
            for u in sorted(dag.predecessors(v), key=rank.get):
                a, b = part_of[u], part_of[v]
                if a == b or u not in supported or v not in supported:
                    continue
                if _reaches_other_way(parts, a, b):
                    continue
                keep, gone = (a, b) if rank[a] <= rank[b] else (b, a)
                _merge(parts, members, keep, gone)
                for n in members[keep]:
                    part_of[n] = keep
                changed = True
    ordered = nx.lexicographical_topological_sort(parts, key=rank.get)
    return [Part(frozenset(members[p]), p in supported) for p in ordered]


def contracted(dag: nx.DiGraph, parts: list[Part]) -> nx.DiGraph:
    """The graph of parts: an edge i -> j when some node of part i feeds a node of part j."""
    index = {n: i for i, part in enumerate(parts) for n in part.nodes}
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(parts)))
    graph.add_edges_from((index[u], index[v]) for u, v in dag.edges() if index[u] != index[v])
    return graph
