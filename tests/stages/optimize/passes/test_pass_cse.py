"""cse: identical op + attrs + inputs computed once."""
import mxnet as mx

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.graph import bundle_from_graph, graph_of, random_feed, run_bundle
from pipeline.measure.compare import compare
from pipeline.graph.edit import op_count
from pipeline.graph.passes import PASSES

INPUTS = [TensorSpec("data", (2, 6))]


def _run(sym, params=None):
    bundle = ModelBundle.from_symbol(sym, params or {}, {}, INPUTS)
    graph, store = graph_of(bundle)
    new_graph, new_store = PASSES.get("cse")(graph, store, INPUTS)
    new = bundle_from_graph(bundle, new_graph, new_store, stage="optimize")
    feed = random_feed(INPUTS)
    assert compare(run_bundle(bundle, feed), run_bundle(new, feed), atol=0, rtol=0).passed
    return graph, new_graph


def test_duplicates_merge_and_cascade():
    x = mx.sym.var("data")
    a = mx.sym.sigmoid(mx.sym.relu(x, name="r1"), name="s1")
    b = mx.sym.sigmoid(mx.sym.relu(x, name="r2"), name="s2")
    graph, new_graph = _run(mx.sym.elemwise_add(a, b, name="add"))
    assert op_count(graph) == 5 and op_count(new_graph) == 3
    assert not {"r2", "s2"} & set(new_graph)
    assert [u for u, _, _ in sorted(new_graph.in_edges("add", data=True), key=lambda e: e[2]["pos"])] == ["s1", "s1"]


def test_different_attrs_or_input_order_do_not_merge():
    x = mx.sym.var("data")
    y = mx.sym.relu(x, name="r")
    sym = mx.sym.Group([mx.sym.softmax(x, axis=0, name="a"), mx.sym.softmax(x, axis=1, name="b"),
                        mx.sym.elemwise_sub(x, y, name="c"), mx.sym.elemwise_sub(y, x, name="d")])
    graph, new_graph = _run(sym)
    assert op_count(new_graph) == op_count(graph)


def test_duplicate_heads_are_both_kept_as_outputs():
    x = mx.sym.var("data")
    graph, new_graph = _run(mx.sym.Group([mx.sym.exp(x, name="e1"), mx.sym.exp(x, name="e2")]))
    assert new_graph.graph["heads"] == [("e1", 0, 0), ("e1", 0, 0)]


def test_zoo_model_keeps_outputs():
    from pipeline.model.zoo_bundle import zoo_bundle

    bundle = zoo_bundle("resnet18_v1", (1, 3, 64, 64))
    graph, params = graph_of(bundle)
    new = bundle_from_graph(bundle, *PASSES.get("cse")(graph, params, bundle.inputs), stage="optimize")
    feed = random_feed(bundle.inputs)
    assert compare(run_bundle(bundle, feed), run_bundle(new, feed), atol=0, rtol=0).passed
