"""Random MXNet graphs, random CPU nodes: the partitioned bundle always runs and matches."""
import json

import mxnet as mx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipeline.partition.runtime  # noqa: F401
from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.graph import random_feed, run_bundle
from pipeline.measure.compare import compare
from stages.partition import PartitionParams, partition_bundle

UNARY = ("relu", "sigmoid", "tanh", "abs")
BINARY = ("elemwise_add", "elemwise_mul", "elemwise_sub")


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 9))
    nodes, consumed = [], set()
    for i in range(n):
        arity = draw(st.sampled_from((1, 2)))
        ops = UNARY if arity == 1 else BINARY
        srcs = [draw(st.integers(-1, i - 1)) for _ in range(arity)]  # -1 is the input
        consumed |= set(srcs)
        nodes.append((f"n{i}", draw(st.sampled_from(ops)), srcs))
    cpu = draw(st.sets(st.sampled_from([name for name, _, _ in nodes]), max_size=n))
    return nodes, sorted(cpu), [i for i in range(n) if i not in consumed]


def _symbol(nodes, heads):
    syms = []
    data = mx.sym.var("data")
    for name, op, srcs in nodes:
        args = [data if s < 0 else syms[s] for s in srcs]
        syms.append(getattr(mx.sym, op)(*args, name=name))
    return mx.sym.Group([syms[i] for i in heads])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_partitioned_random_graph_matches(case):
    nodes, cpu, heads = case
    bundle = ModelBundle.from_symbol(_symbol(nodes, heads), {}, {}, [TensorSpec("data", (2, 3))])
    new, result, artifacts = partition_bundle(bundle, PartitionParams("cpu", exclude_nodes=tuple(cpu)))
    plan = json.loads(artifacts["plan.json"])
    placed = [n for s in plan["subgraphs"] for n in s["nodes"]] + [n["name"] for n in plan["cpu_nodes"]]
    assert sorted(placed) == sorted(name for name, _, _ in nodes)
    assert result.metrics["cpu_nodes"] == len(cpu)
    feed = random_feed(bundle.inputs, seed=1)
    outcome = compare(run_bundle(bundle, feed), run_bundle(new, feed), atol=1e-6, rtol=1e-6)
    assert outcome.passed, outcome
