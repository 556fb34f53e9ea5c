"""Shape-only constants folded at export (pipeline/onnx/export_fold.py): OpenVINO compiles, values kept."""

import numpy as np

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.onnx.export import to_onnx


def _anchor_graph():
    """SSD's pattern: anchors from _arange, cut to the feature map by slice_like, added to it."""
    import mxnet as mx

    data = mx.sym.var("data")
    feature = mx.sym.Convolution(data, num_filter=2, kernel=(3, 3), pad=(1, 1), name="conv")
    grid = mx.sym.reshape(mx.sym.arange(0, 2 * 16 * 16, dtype="float32"), shape=(1, 2, 16, 16))
    anchors = mx.sym.slice_like(grid, feature, axes=(2, 3))
    out = feature + anchors * 0.01 + mx.sym.zeros_like(feature)
    rng = np.random.default_rng(0)
    params = {"conv_weight": rng.standard_normal((2, 3, 3, 3)).astype(np.float32),
              "conv_bias": np.zeros(2, np.float32)}
    return ModelBundle.from_symbol(out, params, {}, [TensorSpec("data", (1, 3, 8, 8))])


def test_shape_only_ops_become_constants_and_openvino_compiles_them():
    import mxnet as mx
    import onnxruntime as ort
    import openvino as ov

    bundle = _anchor_graph()
    model = to_onnx(bundle)
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"Range", "Shape", "Slice", "ConstantOfShape"}, ops
    data = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    args = {**{k: mx.nd.array(v) for k, v in bundle.arg_params.items()}, "data": mx.nd.array(data)}
    ref = bundle.symbol().bind(mx.cpu(), args, grad_req="null").forward()[0].asnumpy()
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"data": data})
    np.testing.assert_allclose(got[0], ref, atol=1e-5, rtol=1e-5)
    core = ov.Core()
    compiled = core.compile_model(core.read_model(model.SerializeToString(), b""), "CPU",
                                  {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"})
    np.testing.assert_allclose(compiled(data)[compiled.outputs[0]], ref, atol=1e-4, rtol=1e-4)


def test_nodes_sharing_a_name_fold_to_distinct_constants():
    """GluonCV reuses node names across FPN levels; each folded value must keep its own shape."""
    import mxnet as mx
    import onnxruntime as ort

    data = mx.sym.var("data")
    small = mx.sym.Pooling(data, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool")
    out = mx.sym.Concat(mx.sym.flatten(data + mx.sym.ones_like(data, name="same")),
                        mx.sym.flatten(small + mx.sym.ones_like(small, name="same")), dim=1)
    bundle = ModelBundle.from_symbol(out, {}, {}, [TensorSpec("data", (1, 2, 4, 4))])
    model = to_onnx(bundle)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"data": x})
    ref = out.bind(mx.cpu(), {"data": mx.nd.array(x)}, grad_req="null").forward()[0].asnumpy()
    np.testing.assert_allclose(got[0], ref, atol=1e-6)


def test_multibox_prior_exports_as_folded_anchors():
    """MXNet's exporter has no MultiBoxPrior translation; its anchors depend on the shape only."""
    import mxnet as mx
    import onnxruntime as ort

    data = mx.sym.var("data")
    feature = mx.sym.Convolution(data, num_filter=4, kernel=(1, 1), name="conv")
    anchors = mx.sym.contrib.MultiBoxPrior(feature, sizes=(0.2, 0.4), ratios=(1, 2, 0.5))
    out = mx.sym.Concat(mx.sym.flatten(anchors), mx.sym.flatten(feature), dim=1)
    params = {"conv_weight": np.random.default_rng(0).standard_normal((4, 3, 1, 1)).astype(np.float32),
              "conv_bias": np.zeros(4, np.float32)}
    bundle = ModelBundle.from_symbol(out, params, {}, [TensorSpec("data", (1, 3, 6, 6))])
    model = to_onnx(bundle)
    x = np.random.default_rng(1).standard_normal((1, 3, 6, 6)).astype(np.float32)
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"data": x})
    args = {**{k: mx.nd.array(v) for k, v in params.items()}, "data": mx.nd.array(x)}
    ref = out.bind(mx.cpu(), args, grad_req="null").forward()[0].asnumpy()
    np.testing.assert_allclose(got[0], ref, atol=1e-6)


def test_multibox_prior_with_a_dynamic_axis_is_a_coded_refusal():
    import mxnet as mx
    import pytest

    from pipeline.core.errors import ExportError

    anchors = mx.sym.contrib.MultiBoxPrior(mx.sym.var("data"), sizes=(0.2,), ratios=(1,))
    bundle = ModelBundle.from_symbol(anchors, {}, {}, [TensorSpec("data", (1, 3, 6, 6), dynamic=(0,))])
    with pytest.raises(ExportError) as info:
        to_onnx(bundle)
    assert info.value.code == "EXP102"


def test_mxnet_refusing_the_fold_is_a_coded_export_error():
    """A shape-only frontier MXNet cannot bind (params of shapes that do not add) is EXP111, not RUN002."""
    import json

    import mxnet as mx
    import pytest

    from pipeline.core.errors import ExportError
    from pipeline.onnx.export_fold import fold_shape_constants

    bad = mx.sym.elemwise_add(mx.sym.var("w1"), mx.sym.var("w2"), name="bad_add")
    out = mx.sym.broadcast_add(mx.sym.var("data"), mx.sym.zeros_like(bad, name="zeros"), name="out")
    params = {"w1": np.ones(2, np.float32), "w2": np.ones(3, np.float32)}
    with pytest.raises(ExportError) as info:
        fold_shape_constants(json.loads(out.tojson()), params, {"data": (1, 2)})
    err = info.value
    assert err.code == "EXP111" and "\n" not in err.one_line() and err.message.startswith("MXNet ")
