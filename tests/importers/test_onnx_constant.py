"""Static values: Constant, ConstantOfShape, Range, Shape, Size, EyeLike, and shape folding."""
import numpy as np
import pytest
from onnx import helper, numpy_helper

from onnx_in_parity import Case, check, check_model, graph_model, params, rand

X = rand(2, 3, 4)
I64 = np.int64


def _const_then_add(opset, **attrs):
    if opset < 7:  # Add-1 predates numpy broadcasting; the Constant alone is the output
        return graph_model([helper.make_node("Constant", [], ["y0"], **attrs)], {}, {}, ["y0"], opset)
    nodes = [helper.make_node("Constant", [], ["c"], **attrs), helper.make_node("Add", ["x", "c"], ["y0"])]
    return graph_model(nodes, {"x": X}, {}, ["y0"], opset)


CASES = [
    Case("Shape", (1, 13, 15, 19, 21), {"x": X}),
    Case("Shape", (15, 21), {"x": X}, attrs={"start": 1, "end": -1}, name="range"),
    Case("Size", (1, 13, 19, 21), {"x": X}),
    Case("ConstantOfShape", (9, 20, 21), {}, {"s": np.array([2, 3], I64)},
         attrs={"value": numpy_helper.from_array(np.array([1.5], np.float32))}),
    Case("Range", (11,), {}, {"a": np.array(1, I64), "b": np.array(10, I64), "d": np.array(3, I64)}),
    Case("Range", (11,), {}, {"a": np.array(0.5, np.float32), "b": np.array(2.0, np.float32),
                              "d": np.array(0.25, np.float32)}, name="float"),
    Case("EyeLike", (9, 22), {"x": rand(3, 4)}, attrs={"k": 1}),
]


@pytest.mark.parametrize("case,opset", params(CASES))
def test_constant_ops_match_onnxruntime(case, opset, tmp_path):
    check(case, opset, tmp_path)


@pytest.mark.parametrize("opset", [1, 9, 11, 12, 13, 19, 21])
def test_constant_value_tensor(opset, tmp_path):
    model = _const_then_add(opset, value=numpy_helper.from_array(rand(3, 4, seed=9)))
    check_model(model, {"x": X} if opset >= 7 else {}, tmp_path, 1e-6)


@pytest.mark.parametrize("key,value", [("value_float", 2.5), ("value_floats", [1.0, 2.0, 3.0, 4.0])])
def test_constant_value_attributes(key, value, tmp_path):
    check_model(_const_then_add(13, **{key: value}), {"x": X}, tmp_path, 1e-6)


def test_shape_gather_unsqueeze_concat_reshape_folds(tmp_path):
    """The chain exporters emit for x.view(x.size(0), -1) folds to a static reshape: no params."""
    from onnx_in_parity import run_mxnet  # noqa: F401 - imported for the bundle check below
    from pipeline.onnx.load import load_onnx

    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y0"]),
    ]
    consts = {"zero": np.array(0, I64), "ax": np.array([0], I64), "minus1": np.array([-1], I64)}
    model = graph_model(nodes, {"x": X}, consts, ["y0"], 13)
    check_model(model, {"x": X}, tmp_path, 0)
    bundle = load_onnx(tmp_path / "model.onnx", {"x": X.shape})
    assert bundle.arg_params == {}
    assert [n["op"] for n in bundle.graph()["nodes"] if n["op"] != "null"] == ["Reshape"]


# (op, opset) pairs exercised above outside CASES, for the every-key-has-a-test check.
COVERED = [("Constant", o) for o in (1, 9, 11, 12, 13, 19, 21)]
