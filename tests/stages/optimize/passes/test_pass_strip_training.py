"""strip_training: each loss head becomes the inference op it computes, labels go."""
import mxnet as mx
import pytest

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.graph import bundle_from_graph, graph_of, random_feed, run_bundle
from pipeline.measure.compare import compare
from pipeline.graph.passes import PASSES
from pipeline.graph.passes.strip_training import served_default_axis


def _bundle(head, shape):
    data = mx.sym.var("data")
    body = mx.sym.Convolution(data, num_filter=4, kernel=(1, 1), name="conv") if len(shape) == 4 else \
        mx.sym.FullyConnected(data, num_hidden=5, flatten=len(shape) == 2, name="fc")
    sym = head(body)
    arg_shapes, _, _ = sym.infer_shape(data=shape)
    rng = mx.nd.random
    params = {n: rng.normal(shape=s) for n, s in zip(sym.list_arguments(), arg_shapes)
              if n != "data" and not n.endswith("label")}
    return ModelBundle.from_symbol(sym, params, {}, [TensorSpec("data", shape)])


HEADS = {
    "softmax-2d": (lambda x: mx.sym.SoftmaxOutput(x, name="head"), (2, 3)),
    "softmax-4d-default": (lambda x: mx.sym.SoftmaxOutput(x, name="head"), (2, 3, 4, 5)),
    "softmax-3d-joint": (lambda x: mx.sym.SoftmaxOutput(x, name="head"), (2, 3, 4)),
    "softmax-4d-multi": (lambda x: mx.sym.SoftmaxOutput(x, multi_output=True, name="head"), (2, 3, 4, 5)),
    "softmax-4d-preserve": (lambda x: mx.sym.SoftmaxOutput(x, preserve_shape=True, name="head"), (2, 3, 4, 5)),
    "softmax-multi-wins": (lambda x: mx.sym.SoftmaxOutput(x, multi_output=True, preserve_shape=True, name="head"),
                           (2, 3, 4, 5)),
    "linear": (lambda x: mx.sym.LinearRegressionOutput(x, name="head"), (2, 3)),
    "logistic": (lambda x: mx.sym.LogisticRegressionOutput(x, name="head"), (2, 3)),
    "mae": (lambda x: mx.sym.MAERegressionOutput(x, name="head"), (2, 3)),
}


@pytest.mark.parametrize("case", sorted(HEADS))
def test_loss_head_becomes_inference_op(case):
    head, shape = HEADS[case]
    bundle = _bundle(head, shape)
    graph, params = graph_of(bundle)
    new_graph, new_params = PASSES.get("strip_training")(graph, params, bundle.inputs)
    ops = {d["op"] for _, d in new_graph.nodes(data=True)}
    assert not ops & {"SoftmaxOutput", "LinearRegressionOutput", "LogisticRegressionOutput", "MAERegressionOutput"}
    assert "head_label" not in new_graph
    assert "head_label" in graph  # the input graph is untouched
    new = bundle_from_graph(bundle, new_graph, new_params, stage="optimize")
    assert not [n for n in new.symbol().list_arguments() if n.endswith("label")]
    feed = random_feed(bundle.inputs, seed=3)
    result = compare(run_bundle(bundle, feed), run_bundle(new, feed), atol=1e-6, rtol=1e-5)
    assert result.passed, result


def test_zoo_model_without_heads_is_unchanged():
    from pipeline.model.zoo_bundle import zoo_bundle

    bundle = zoo_bundle("resnet18_v1", (1, 3, 32, 32))
    graph, params = graph_of(bundle)
    new_graph, _ = PASSES.get("strip_training")(graph, params, bundle.inputs)
    assert sorted(new_graph.nodes) == sorted(graph.nodes) and new_graph is not graph


def test_zoo_model_with_training_head():
    """resnet18 as a training checkpoint (SoftmaxOutput + label): stripped, same probabilities."""
    from pipeline.model.zoo_bundle import zoo_bundle

    base = zoo_bundle("resnet18_v1", (1, 3, 32, 32))
    sym = mx.sym.SoftmaxOutput(base.symbol(), name="softmax")
    bundle = ModelBundle.from_symbol(sym, base.arg_params, base.aux_params, base.inputs)
    graph, params = graph_of(bundle)
    new = bundle_from_graph(bundle, *PASSES.get("strip_training")(graph, params, bundle.inputs), stage="optimize")
    assert "softmax_label" not in new.symbol().list_arguments()
    feed = random_feed(bundle.inputs)
    assert compare(run_bundle(bundle, feed), run_bundle(new, feed), atol=1e-6, rtol=1e-5).passed


def test_probe_sees_the_reference_kernel_for_3d():
    """Rank 3 never takes the oneDNN kernel: the documented joint softmax over (n, -1)."""
    assert served_default_axis(3) == "joint"
