"""The bisection on synthetic sides: it finds the first divergent node in O(log n) runs of <= K taps.

The sides are plain Python (a chain or a diamond of nodes whose values are computed from the
input), so the search's bound and its input check are tested without any runtime.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.localize.localizer import localize
from pipeline.localize.matching import match
from pipeline.localize.tapnode import Side, TapNode


class FakeSide(Side):
    """Node i computes parents' sum + 1 (times `wrong` at the corrupted node); taps are counted."""

    def __init__(self, graph: dict[str, tuple[str, ...]], corrupt: str | None = None, aliases=True):
        super().__init__("fake", "cpu", [])
        self.graph, self.corrupt, self.aliased, self.max_seen = graph, corrupt, aliases, 0

    def nodes(self):
        return [TapNode(n, "Op", n, ins, frozenset({f"mx:{n}:0"} if self.aliased else ())) for n, ins in self.graph.items()]

    def _values(self, x):
        values = {}
        for name, ins in self.graph.items():
            v = sum((values[i] for i in ins), x) + 1.0
            values[name] = v * 1.5 if name == self.corrupt else v
        return values

    def _run(self, feed, taps):
        self.max_seen = max(self.max_seen, len(taps))
        values = self._values(feed["x"])
        return [values[list(self.graph)[-1]]], {t: values[t] for t in taps}


def _chain(n: int) -> dict[str, tuple[str, ...]]:
    return {f"n{i}": ((f"n{i - 1}",) if i else ()) for i in range(n)}


def _run(a, b, max_taps):
    feed = {"x": np.ones((2, 3), dtype=np.float32)}
    baseline = (a.run(feed, [])[0], b.run(feed, [])[0])
    return localize(a, b, feed, atol=1e-6, rtol=1e-6, max_taps=max_taps, baseline=baseline)[0]


@pytest.mark.parametrize("n,bad,k", [(200, "n137", 4), (200, "n0", 8), (1000, "n999", 8), (50, "n25", 1)])
def test_the_chain_is_bisected_in_log_runs(n, bad, k):
    graph = _chain(n)
    a, b = FakeSide(graph), FakeSide(graph, corrupt=bad)
    data = _run(a, b, k)
    assert data["first_divergent"]["node"] == bad
    assert data["runs"] <= math.ceil(math.log(n) / math.log(k + 1)) + 2
    assert a.max_seen <= k and b.max_seen <= k


def test_a_divergent_input_sends_the_search_below_it():
    """Two branches from n0: the corrupted one (b1) comes later in the order than the clean one's
    nodes, and the join reads both; the finding is b1, whose own input agrees."""
    graph = {"n0": (), "a1": ("n0",), "a2": ("a1",), "a3": ("a2",), "b1": ("n0",), "b2": ("b1",),
             "join": ("a3", "b2"), "out": ("join",)}
    data = _run(FakeSide(graph), FakeSide(graph, corrupt="b1"), 2)
    assert data["first_divergent"]["node"] == "b1"
    assert [i["node"] for i in data["first_divergent"]["inputs"]] == ["n0"]


def test_nodes_without_a_recorded_alias_are_never_matched():
    graph = _chain(5)
    result = match(FakeSide(graph).nodes(), FakeSide(graph, aliases=False).nodes())
    assert result.pairs == [] and len(result.unmatched_a) == 5 and len(result.unmatched_b) == 5


def test_an_alias_two_tensors_claim_is_ambiguous_not_guessed():
    a = [TapNode("t", "Op", "t", (), frozenset({"mx:x:0", "onnx:y"}))]
    b = [TapNode("u", "Op", "u", (), frozenset({"mx:x:0"})), TapNode("v", "Op", "v", (), frozenset({"onnx:y"}))]
    result = match(a, b)
    assert result.pairs == [] and result.ambiguous == ["t"]
