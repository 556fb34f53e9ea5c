"""fold_constants: subgraphs that read only params become params, computed by MXNet."""
import mxnet as mx
import numpy as np

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.graph import bundle_from_graph, graph_of, random_feed, run_bundle
from pipeline.measure.compare import compare
from pipeline.graph.passes import PASSES

INPUTS = [TensorSpec("data", (2, 6))]


def _bundle(sym, params):
    return ModelBundle.from_symbol(sym, params, {}, INPUTS)


def test_param_expression_is_folded():
    w = mx.sym.var("w")
    scaled = mx.sym.elemwise_add(w * 2.0, mx.sym.exp(w), name="scaled")
    sym = mx.sym.FullyConnected(mx.sym.var("data"), scaled, no_bias=True, num_hidden=4, name="fc")
    bundle = _bundle(sym, {"w": mx.nd.random.normal(shape=(4, 6))})
    graph, params = graph_of(bundle)
    new_graph, new_params = PASSES.get("fold_constants")(graph, params, INPUTS)
    assert [d["op"] for _, d in new_graph.nodes(data=True) if d["op"] != "null"] == ["FullyConnected"]
    assert set(new_params.arg) == {"scaled_folded"} and "w" in params.arg
    w_np = bundle.arg_params["w"]
    np.testing.assert_allclose(new_params.arg["scaled_folded"], w_np * 2 + np.exp(w_np), rtol=1e-6)
    new = bundle_from_graph(bundle, new_graph, new_params, stage="optimize")
    feed = random_feed(INPUTS)
    assert compare(run_bundle(bundle, feed), run_bundle(new, feed), atol=1e-6, rtol=1e-6).passed


def test_inputs_and_random_ops_are_not_constant():
    noise = mx.sym.random.uniform(shape=(2, 6), name="noise")
    sym = mx.sym.elemwise_add(mx.sym.var("data"), noise, name="add")
    bundle = _bundle(sym, {})
    graph, params = graph_of(bundle)
    new_graph, _ = PASSES.get("fold_constants")(graph, params, INPUTS)
    assert sorted(new_graph.nodes) == sorted(graph.nodes)


def test_constant_head_stays_an_op():
    sym = mx.sym.Group([mx.sym.relu(mx.sym.var("data"), name="r"), mx.sym.exp(mx.sym.var("w"), name="e")])
    bundle = _bundle(sym, {"w": mx.nd.ones((3,))})
    graph, params = graph_of(bundle)
    new_graph, _ = PASSES.get("fold_constants")(graph, params, INPUTS)
    assert "e" in new_graph


def test_zoo_model_keeps_outputs():
    from pipeline.model.zoo_bundle import zoo_bundle

    bundle = zoo_bundle("mobilenetv2_1.0", (1, 3, 64, 64))
    graph, params = graph_of(bundle)
    new = bundle_from_graph(bundle, *PASSES.get("fold_constants")(graph, params, bundle.inputs), stage="optimize")
    feed = random_feed(bundle.inputs)
    assert compare(run_bundle(bundle, feed), run_bundle(new, feed), atol=0, rtol=0).passed


def test_mxnet_refusing_the_folded_subgraph_is_one_coded_line():
    """Params whose shapes cannot add: MXNet refuses the bind of the constant subgraph (OPT104, not RUN002)."""
    import pytest

    from pipeline.core.errors import StageError

    bad = mx.sym.elemwise_add(mx.sym.var("w1"), mx.sym.var("w2"), name="bad_add")
    sym = mx.sym.broadcast_add(mx.sym.var("data"), bad, name="out")
    bundle = _bundle(sym, {"w1": mx.nd.ones((2,)), "w2": mx.nd.ones((3,))})
    graph, params = graph_of(bundle)
    with pytest.raises(StageError) as info:
        PASSES.get("fold_constants")(graph, params, INPUTS)
    err = info.value
    assert err.code == "OPT104" and "\n" not in err.one_line()
    assert err.message.startswith("MXNet ") and "bad_add" in err.message
