"""load_onnx (the importer's one entry point): declared shapes, coded errors, IR versions, metadata, folding and frozen inputs."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from onnx_in_parity import check_model, graph_model, rand, run_mxnet
from pipeline.onnx.load import load_onnx
from pipeline.onnx.importer.errors import DynamicValueError, OnnxImportError

N = helper.make_node


def _save(model, tmp_path, name="m.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _dynamic_model(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([N("Relu", ["x"], ["y"])], "g", [x], [y])
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path)


def test_dynamic_dims_need_a_declared_shape(tmp_path):
    path = _dynamic_model(tmp_path)
    with pytest.raises(OnnxImportError) as info:
        load_onnx(path, None)
    assert info.value.code == "ONNX103"
    assert "x('?', 3, 4)" in info.value.message and "--input" in info.value.hint
    bundle = load_onnx(path, {"x": (5, 3, 4)})
    assert bundle.inputs[0].shape == (5, 3, 4)


def test_declared_input_that_does_not_exist(tmp_path):
    with pytest.raises(OnnxImportError) as info:
        load_onnx(_dynamic_model(tmp_path), {"x": (1, 3, 4), "data": (1, 3)})
    assert info.value.code == "ONNX104" and "data" in info.value.message and "x" in info.value.hint


def test_declared_shape_must_fit_the_model(tmp_path):
    with pytest.raises(OnnxImportError) as info:
        load_onnx(_dynamic_model(tmp_path), {"x": (1, 4, 4)})
    assert info.value.code == "ONNX107"


def test_unreadable_file(tmp_path):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\x00\xffnot a protobuf")
    with pytest.raises(OnnxImportError) as info:
        load_onnx(path, None)
    assert info.value.code == "ONNX102"
    with pytest.raises(OnnxImportError) as info:
        load_onnx(tmp_path / "missing.onnx", None)
    assert info.value.code == "ONNX102"


def test_ir_version_newer_than_the_installed_onnx_still_loads(tmp_path):
    model = graph_model([N("Relu", ["x"], ["y"])], {"x": rand(2, 3)}, {}, ["y"], 23)
    model.ir_version = onnx.IR_VERSION + 5
    path = _save(model, tmp_path)
    out = run_mxnet(path, {"x": rand(2, 3)})[0]
    np.testing.assert_allclose(out, np.maximum(rand(2, 3), 0))
    assert load_onnx(path, None).metadata["onnx"]["ir_version"] == onnx.IR_VERSION + 5


def test_metadata_and_saved_bundle_round_trip(tmp_path):
    from pipeline.model.bundle import ModelBundle
    from pipeline.targets.cpu import CpuTarget

    model = graph_model([N("MatMul", ["x", "w"], ["y"])], {"x": rand(2, 3)}, {"w": rand(3, 4, seed=1)}, ["y"], 13)
    path = _save(model, tmp_path)
    bundle = load_onnx(path, None)
    assert bundle.metadata["source"] == {"kind": "onnx", "path": str(path.resolve())}
    assert bundle.metadata["reference"]["kind"] == "onnxruntime"
    assert bundle.metadata["mxnet_version"] == 10901
    loaded = ModelBundle.load(bundle.save(tmp_path / "b").parent)
    with CpuTarget() as target:
        out = target.deploy(loaded).infer({"x": rand(2, 3)})[0]
    np.testing.assert_allclose(out, rand(2, 3) @ rand(3, 4, seed=1), atol=1e-6)


def test_dynamic_value_error_names_node_and_tensor(tmp_path):
    model = graph_model([N("Reshape", ["x", "shape"], ["y"], name="rs")],
                        {"x": rand(2, 6), "shape": np.array([3, 4], np.int64)}, {}, ["y"], 13)
    path = _save(model, tmp_path)
    with pytest.raises(DynamicValueError) as info:
        load_onnx(path, None)
    assert info.value.code == "ONNX105" and info.value.tensor == "shape" and "'rs'" in info.value.message
    bundle = load_onnx(path, None, constants={"shape": np.array([3, 4], np.int64)})
    assert [s.name for s in bundle.inputs] == ["x"]
    assert bundle.metadata["reference"]["frozen_inputs"]["shape"]["value"] == [3, 4]


def test_unsupported_attribute_is_a_coded_error(tmp_path):
    model = graph_model([N("ScatterND", ["x", "i", "u"], ["y"], reduction="mul", name="sc")],
                        {"x": rand(4, 3), "i": np.array([[1]], np.int64), "u": rand(1, 3)}, {}, ["y"], 18)
    with pytest.raises(OnnxImportError) as info:
        load_onnx(_save(model, tmp_path), None)
    assert info.value.code == "ONNX106" and "reduction='mul'" in info.value.message


def test_int64_shape_constants_do_not_become_params(tmp_path):
    nodes = [N("Constant", [], ["s"], value_ints=[3, -1]), N("Reshape", ["x", "s"], ["r"]),
             N("Unsqueeze", ["r", "ax"], ["y"])]
    model = graph_model(nodes, {"x": rand(2, 6)}, {"ax": np.array([0], np.int64)}, ["y"], 13)
    check_model(model, {"x": rand(2, 6)}, tmp_path, 0)
    assert load_onnx(tmp_path / "model.onnx", None).arg_params == {}


def test_empty_optional_inputs_and_unnamed_nodes(tmp_path):
    nodes = [N("Clip", ["x", "", "hi"], ["a"]), N("Clip", ["a", "", ""], ["y"])]
    model = graph_model(nodes, {"x": rand(3, 4)}, {"hi": np.array(0.2, np.float32)}, ["y"], 13)
    check_model(model, {"x": rand(3, 4)}, tmp_path, 0)


def test_weights_stay_float_params_and_a_scalar_input_is_carried_as_one_element(tmp_path):
    model = graph_model([N("Mul", ["x", "s"], ["y"])], {"x": rand(2, 3), "s": np.array(3.0, np.float32)}, {},
                        ["y"], 13)
    path = _save(model, tmp_path)
    bundle = load_onnx(path, None)
    assert {s.name: s.shape for s in bundle.inputs} == {"x": (2, 3), "s": (1,)}
    check_model(model, {"x": rand(2, 3), "s": np.array(3.0, np.float32)}, tmp_path, 1e-6)
