"""Model-level parity: exporter-shaped graphs at opsets 13, 17 and 20 match ONNX Runtime within 1e-4,
and Gluon zoo models exported by MXNet's own exporter come back equal to the original."""
import numpy as np
import pytest

from onnx_in_models import MODELS
from onnx_in_parity import check_model, graph_model


@pytest.mark.parametrize("opset", [13, 17, 20])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_matches_onnxruntime(name, opset, tmp_path):
    nodes, inputs, consts, outputs = MODELS[name](opset)
    check_model(graph_model(nodes, inputs, consts, outputs, opset), inputs, tmp_path, 1e-4)


def test_transformer_shape_arithmetic_folds_away(tmp_path):
    """Shape/Gather/Unsqueeze/Concat and the int64 constants leave no trace in the MXNet graph."""
    import onnx

    from pipeline.onnx.load import load_onnx

    nodes, inputs, consts, outputs = MODELS["transformer"](17)
    onnx.save(graph_model(nodes, inputs, consts, outputs, 17), str(tmp_path / "t.onnx"))
    bundle = load_onnx(tmp_path / "t.onnx", None)
    ops = {n["op"] for n in bundle.graph()["nodes"]}
    assert not ops & {"shape_array", "take", "expand_dims"}
    assert all(v.dtype != np.int64 for v in bundle.arg_params.values())
    assert [s.name for s in bundle.inputs] == ["x", "mask"]


@pytest.mark.parametrize("zoo_name", ["resnet18_v1", "mobilenetv2_0.25"])
def test_gluon_zoo_round_trip_through_mxnet_exporter(zoo_name, tmp_path):
    import mxnet as mx
    from mxnet.gluon.model_zoo import vision

    from onnx_in_parity import run_mxnet

    mx.random.seed(0)
    net = vision.get_model(zoo_name)
    net.initialize(mx.init.Xavier(magnitude=2.0))
    net.hybridize()
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
    expected = net(mx.nd.array(x)).asnumpy()
    net.export(str(tmp_path / "net"))
    sym, arg, aux = mx.model.load_checkpoint(str(tmp_path / "net"), 0)
    mx.onnx.export_model(sym, {**arg, **aux}, [x.shape], [np.float32], str(tmp_path / "net.onnx"))
    got = run_mxnet(tmp_path / "net.onnx", {"data": x})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-4)
