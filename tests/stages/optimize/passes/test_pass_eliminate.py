"""eliminate: inference no-ops and dead nodes go; outputs do not change."""
import json

import mxnet as mx
import pytest

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.graph import bundle_from_graph, graph_of, random_feed, run_bundle
from pipeline.measure.compare import compare
from pipeline.graph.passes import PASSES

INPUTS = [TensorSpec("data", (2, 6))]


def _bundle(sym):
    arg_shapes, _, _ = sym.infer_shape(data=(2, 6))
    params = {n: mx.nd.random.normal(shape=s) for n, s in zip(sym.list_arguments(), arg_shapes) if n != "data"}
    return ModelBundle.from_symbol(sym, params, {}, INPUTS)


def _apply(bundle):
    graph, params = graph_of(bundle)
    new_graph, new_params = PASSES.get("eliminate")(graph, params, bundle.inputs)
    new = bundle_from_graph(bundle, new_graph, new_params, stage="optimize")
    feed = random_feed(bundle.inputs, seed=5)
    result = compare(run_bundle(bundle, feed), run_bundle(new, feed), atol=0, rtol=0)
    assert result.passed, result
    return new_graph


NOOPS = {
    "Dropout": lambda x: mx.sym.Dropout(x, p=0.5, name="noop"),
    "_copy": lambda x: mx.sym.identity(x, name="noop"),
    "BlockGrad": lambda x: mx.sym.stop_gradient(x, name="noop"),
    "MakeLoss": lambda x: mx.sym.MakeLoss(x, name="noop"),
}


@pytest.mark.parametrize("op", sorted(NOOPS))
def test_noop_is_removed(op):
    x = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=4, name="fc")
    sym = mx.sym.relu(NOOPS[op](x), name="out")
    new_graph = _apply(_bundle(sym))
    assert "noop" not in new_graph and list(new_graph.predecessors("out")) == ["fc"]


def test_noop_head_is_removed_and_head_follows():
    sym = mx.sym.Dropout(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=4, name="fc"), name="noop")
    new_graph = _apply(_bundle(sym))
    assert new_graph.graph["heads"] == [("fc", 0, 0)]


def test_dropout_always_stays():
    """mode='always' drops at inference too: not a no-op."""
    sym = mx.sym.Dropout(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=4, name="fc"), p=0.5,
                         mode="always", name="drop")
    graph, params = graph_of(_bundle(sym))
    new_graph, _ = PASSES.get("eliminate")(graph, params, INPUTS)
    assert "drop" in new_graph


def test_dead_nodes_and_their_params_go():
    x = mx.sym.var("data")
    live = mx.sym.FullyConnected(x, num_hidden=4, name="live")
    dead = mx.sym.FullyConnected(x, num_hidden=3, name="dead")
    bundle = _bundle(mx.sym.Group([live, dead]))
    data = json.loads(bundle.symbol_json)
    data["heads"] = data["heads"][:1]
    bundle = bundle.evolve(stage="test", symbol_json=json.dumps(data), outputs=["live_output"])
    new_graph = _apply(bundle)
    assert not {"dead", "dead_weight", "dead_bias"} & set(new_graph)
    new = bundle_from_graph(bundle, new_graph, graph_of(bundle)[1], stage="t")
    assert set(new.arg_params) == {"live_weight", "live_bias"}


def test_zoo_models_keep_outputs():
    from pipeline.model.zoo_bundle import zoo_bundle

    for name in ("resnet18_v1", "squeezenet1.1"):  # squeezenet has a Dropout
        bundle = zoo_bundle(name, (1, 3, 224, 224) if name.startswith("squeeze") else (1, 3, 64, 64))
        before = {d["op"] for _, d in graph_of(bundle)[0].nodes(data=True)}
        after = {d["op"] for _, d in _apply(bundle).nodes(data=True)}
        assert "Dropout" not in after and before - after <= {"Dropout"}
