"""fold_batchnorm: BatchNorm folded into the Convolution/FullyConnected before it, exactly."""
import mxnet as mx
import numpy as np
import pytest

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.graph import bundle_from_graph, graph_of, random_feed, run_bundle
from pipeline.measure.compare import compare
from pipeline.graph.passes import PASSES


def _random_params(sym, shapes, seed=0):
    rng = np.random.default_rng(seed)
    arg_shapes, _, aux_shapes = sym.infer_shape(**shapes)
    arg = {n: rng.uniform(0.5, 1.5, s) if n.endswith("gamma") else rng.standard_normal(s)
           for n, s in zip(sym.list_arguments(), arg_shapes) if n not in shapes}
    aux = {n: rng.uniform(0.5, 2.0, s) if n.endswith("var") else rng.standard_normal(s)
           for n, s in zip(sym.list_auxiliary_states(), aux_shapes)}
    return ({k: v.astype("float32") for k, v in arg.items()}, {k: v.astype("float32") for k, v in aux.items()})


def _fold(bundle, atol=1e-5):
    graph, params = graph_of(bundle)
    new_graph, new_params = PASSES.get("fold_batchnorm")(graph, params, bundle.inputs)
    new = bundle_from_graph(bundle, new_graph, new_params, stage="optimize")
    feed = random_feed(bundle.inputs, seed=2)
    result = compare(run_bundle(bundle, feed), run_bundle(new, feed), atol=atol, rtol=1e-4)
    assert result.passed, result
    return new_graph, new


CASES = {
    "conv-no-bias-fix-gamma": dict(no_bias=True, bn={}),
    "conv-bias-free-gamma": dict(no_bias=False, bn=dict(fix_gamma=False, eps=1e-5)),
    "conv-global-stats": dict(no_bias=True, bn=dict(fix_gamma=False, use_global_stats=True, eps=2e-3)),
    "conv-grouped": dict(no_bias=True, bn=dict(fix_gamma=False), num_group=2),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_conv_batchnorm_folds(case):
    spec = CASES[case]
    x = mx.sym.var("data")
    conv = mx.sym.Convolution(x, num_filter=4, kernel=(3, 3), pad=(1, 1), no_bias=spec["no_bias"],
                              num_group=spec.get("num_group", 1), name="conv")
    sym = mx.sym.relu(mx.sym.BatchNorm(conv, name="bn", **spec["bn"]), name="out")
    shapes = {"data": (2, 4, 5, 5)}
    arg, aux = _random_params(sym, shapes)
    bundle = ModelBundle.from_symbol(sym, arg, aux, [TensorSpec("data", shapes["data"])])
    new_graph, new = _fold(bundle)
    assert "bn" not in new_graph and not new.aux_params
    assert new_graph.nodes["conv"]["attrs"]["no_bias"] == "False"
    assert set(new.arg_params) == {"conv_weight", "conv_bias"}


def test_fully_connected_batchnorm_folds():
    x = mx.sym.var("data")
    sym = mx.sym.BatchNorm(mx.sym.FullyConnected(x, num_hidden=5, name="fc"), fix_gamma=False, name="bn")
    shapes = {"data": (3, 7)}
    arg, aux = _random_params(sym, shapes)
    bundle = ModelBundle.from_symbol(sym, arg, aux, [TensorSpec("data", shapes["data"])])
    new_graph, _ = _fold(bundle)
    assert "bn" not in new_graph and new_graph.graph["heads"] == [("fc", 0, 0)]


def test_not_folded_when_conv_output_is_read_elsewhere():
    x = mx.sym.var("data")
    conv = mx.sym.Convolution(x, num_filter=4, kernel=(1, 1), name="conv")
    sym = mx.sym.elemwise_add(mx.sym.BatchNorm(conv, name="bn"), conv, name="add")
    shapes = {"data": (1, 4, 3, 3)}
    arg, aux = _random_params(sym, shapes)
    bundle = ModelBundle.from_symbol(sym, arg, aux, [TensorSpec("data", shapes["data"])])
    new_graph, _ = _fold(bundle)
    assert "bn" in new_graph


def test_shared_weight_is_copied_not_changed():
    x = mx.sym.var("data")
    w = mx.sym.var("w")
    a = mx.sym.BatchNorm(mx.sym.Convolution(x, w, num_filter=4, kernel=(1, 1), no_bias=True, name="c1"),
                         fix_gamma=False, name="bn")
    b = mx.sym.Convolution(x, w, num_filter=4, kernel=(1, 1), no_bias=True, name="c2")
    sym = mx.sym.elemwise_add(a, b, name="add")
    shapes = {"data": (1, 4, 3, 3)}
    arg, aux = _random_params(sym, shapes)
    bundle = ModelBundle.from_symbol(sym, arg, aux, [TensorSpec("data", shapes["data"])])
    new_graph, new = _fold(bundle)
    assert "bn" not in new_graph
    np.testing.assert_array_equal(new.arg_params["w"], bundle.arg_params["w"])
    assert "w_bnfold" in new.arg_params


@pytest.mark.parametrize("axis,folds", [(1, False), (-1, True), (2, True)])
def test_only_the_channel_axis_folds(axis, folds):
    """FullyConnected(flatten=False) on 3-d data: its channel is the last axis, not axis 1."""
    x = mx.sym.var("data")
    fc = mx.sym.FullyConnected(x, num_hidden=5, flatten=False, name="fc")
    sym = mx.sym.BatchNorm(fc, axis=axis, fix_gamma=False, name="bn")
    shapes = {"data": (2, 3, 7)}
    arg, aux = _random_params(sym, shapes)
    bundle = ModelBundle.from_symbol(sym, arg, aux, [TensorSpec("data", shapes["data"])])
    new_graph, _ = _fold(bundle)
    assert ("bn" not in new_graph) == folds


def _no_batchnorm_and_matches(name, side):
    from pipeline.model.zoo_bundle import zoo_bundle

    bundle = zoo_bundle(name, (1, 3, side, side))
    new_graph, new = _fold(bundle, atol=1e-4)
    assert not [n for n, d in new_graph.nodes(data=True) if d["op"] == "BatchNorm"]
    assert new.node_count() < bundle.node_count()


def test_resnet18_has_no_batchnorm_and_matches():
    _no_batchnorm_and_matches("resnet18_v1", 64)


def test_resnet50_at_224_has_no_batchnorm_and_matches():
    _no_batchnorm_and_matches("resnet50_v1", 224)


def test_a_kept_batchnorm_is_left_and_the_others_fold():
    """fold_batchnorms(keep=...): the NNCF quantizer folds every BatchNorm but those a user excluded."""
    from pipeline.graph.passes.fold_batchnorm import fold_batchnorms

    x = mx.sym.var("data")
    h = mx.sym.BatchNorm(mx.sym.Convolution(x, num_filter=4, kernel=(1, 1), name="c1"), fix_gamma=False, name="bn1")
    sym = mx.sym.BatchNorm(mx.sym.Convolution(h, num_filter=4, kernel=(1, 1), name="c2"), fix_gamma=False, name="bn2")
    shapes = {"data": (1, 4, 3, 3)}
    arg, aux = _random_params(sym, shapes)
    bundle = ModelBundle.from_symbol(sym, arg, aux, [TensorSpec("data", shapes["data"])])
    graph, params = graph_of(bundle)
    folded, store = fold_batchnorms(graph, params, bundle.inputs, keep=frozenset({"bn2"}))
    assert "bn1" not in folded and "bn2" in folded
    new = bundle_from_graph(bundle, folded, store, stage="optimize")
    feed = random_feed(bundle.inputs, seed=3)
    assert compare(run_bundle(bundle, feed), run_bundle(new, feed), atol=1e-5, rtol=1e-4).passed
