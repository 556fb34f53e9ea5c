"""The pure grouping algorithm: acyclic, exact cover, maximal: on hand cases and random DAGs."""
import itertools

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.partition.algorithm import Part, contracted, partition


def _check(dag, supported, parts):
    # every node in exactly one part
    seen = [n for p in parts for n in p.nodes]
    assert sorted(seen) == sorted(dag.nodes) and len(seen) == len(set(seen))
    # supported parts hold only supported nodes and are connected; unsupported nodes stand alone
    for p in parts:
        if p.supported:
            assert p.nodes <= supported
            assert nx.is_weakly_connected(dag.subgraph(p.nodes))
        else:
            assert len(p.nodes) == 1 and not p.nodes & supported
    graph = contracted(dag, parts)
    assert nx.is_directed_acyclic_graph(graph)
    # parts come in a topological order of the contracted graph
    assert all(i < j for i, j in graph.edges())
    # maximal: merging any two adjacent supported parts would create a cycle
    for i, j in graph.edges():
        if parts[i].supported and parts[j].supported:
            merged = [Part(parts[i].nodes | parts[j].nodes, True)] + [p for k, p in enumerate(parts) if k not in (i, j)]
            assert not nx.is_directed_acyclic_graph(contracted(dag, merged))


@st.composite
def dags(draw):
    n = draw(st.integers(1, 14))
    pairs = list(itertools.combinations(range(n), 2))
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=3 * n)) if pairs else []
    dag = nx.DiGraph()
    dag.add_nodes_from(range(n))
    dag.add_edges_from(edges)
    supported = draw(st.sets(st.sampled_from(range(n)), max_size=n))
    return dag, supported


@settings(max_examples=300, deadline=None)
@given(dags())
def test_random_dags_partition_acyclic_exact_and_maximal(case):
    dag, supported = case
    _check(dag, supported, partition(dag, supported))


def test_diamond_with_unsupported_middle_keeps_ends_apart():
    """a -> b -> d and a -> c -> d with c on the CPU: a and d cannot share a part."""
    dag = nx.DiGraph([("a", "b"), ("b", "d"), ("a", "c"), ("c", "d")])
    parts = partition(dag, {"a", "b", "d"})
    _check(dag, {"a", "b", "d"}, parts)
    supported = [set(p.nodes) for p in parts if p.supported]
    assert len(supported) == 2 and not any({"a", "d"} <= s for s in supported)


def test_chain_split_by_one_cpu_node():
    dag = nx.DiGraph([(1, 2), (2, 3), (3, 4), (4, 5)])
    parts = partition(dag, {1, 2, 4, 5})
    assert [(sorted(p.nodes), p.supported) for p in parts] == [([1, 2], True), ([3], False), ([4, 5], True)]


def test_all_supported_is_one_part_and_none_is_all_cpu():
    dag = nx.DiGraph([(1, 2), (1, 3), (2, 4), (3, 4)])
    assert [sorted(p.nodes) for p in partition(dag, {1, 2, 3, 4})] == [[1, 2, 3, 4]]
    assert all(not p.supported for p in partition(dag, set()))
