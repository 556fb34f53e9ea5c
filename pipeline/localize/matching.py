"""Pair the nodes of two sides by their recorded aliases, never by resemblance of names.

Two tensors match when they share an alias (`mx:NODE:INDEX` or `onnx:TENSOR`, recorded by our
exporter and importer) and neither shares it with another tensor. A tensor with no partner
(fused away, a helper op the exporter added, a side without any record) is reported as
unmatched and never compared. When several tensors of one side carry the same alias (an
Identity the importer passed through), the first in topological order stands for them.
Each pair knows its matched inputs: the nearest matched ancestors on side A's graph.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.localize.tapnode import TapNode


@dataclass(frozen=True)
class Pair:
    index: int  # position in side A's topological order of matched nodes
    a: TapNode
    b: TapNode
    inputs: tuple[int, ...]  # indices of the pairs it reads (nearest matched ancestors)


@dataclass
class Matching:
    pairs: list[Pair]
    unmatched_a: list[str] = field(default_factory=list)
    unmatched_b: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)


def match(nodes_a: list[TapNode], nodes_b: list[TapNode]) -> Matching:
    owners: dict[str, list[str]] = {}
    by_id_b = {}
    for node in nodes_b:
        by_id_b.setdefault(node.id, node)
        for alias in node.aliases:
            owners.setdefault(alias, []).append(node.id)
    taken: set[str] = set()
    raw: list[tuple[TapNode, TapNode]] = []
    unmatched_a, ambiguous = [], []
    for node in nodes_a:
        candidates = {b for alias in node.aliases for b in owners.get(alias, [])[:1]}
        if len(candidates) > 1:
            ambiguous.append(node.id)
        elif not candidates:
            unmatched_a.append(node.id)
        else:
            b = candidates.pop()
            if b not in taken:  # else: a pass-through of a tensor already paired
                taken.add(b)
                raw.append((node, by_id_b[b]))
    index_of = {a.id: i for i, (a, _) in enumerate(raw)}
    producers = {n.id: n for n in nodes_a}
    memo: dict[str, frozenset[int]] = {}

    def ancestors(tid: str) -> frozenset[int]:
        """Matched pairs nearest to `tid` on each path back (iterative: graphs can be deep)."""
        stack = [tid]
        while stack:
            top = stack[-1]
            if top in memo:
                stack.pop()
                continue
            if top in index_of:
                memo[top] = frozenset({index_of[top]})
                stack.pop()
                continue
            node = producers.get(top)
            pending = [t for t in (node.inputs if node else ()) if t not in memo]
            if pending:
                stack.extend(pending)
                continue
            memo[top] = frozenset().union(*(memo[t] for t in (node.inputs if node else ())))
            stack.pop()
        return memo[tid]

    pairs = [Pair(i, a, b, tuple(sorted(frozenset().union(*(ancestors(t) for t in a.inputs)) if a.inputs
                                        else ())))
             for i, (a, b) in enumerate(raw)]
    unmatched_b = [n.id for n in nodes_b if n.id not in taken]
    return Matching(pairs, unmatched_a, unmatched_b, ambiguous)
