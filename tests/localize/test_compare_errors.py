"""Bad input to `pipeline compare` is one coded line and exit 2."""
from __future__ import annotations

import pytest
from onnx import TensorProto, helper

from localize_helpers import SHAPE, run_cli


def _one_op(path, op: str, out: str, input_name: str = "x") -> str:
    graph = helper.make_graph([helper.make_node(op, [input_name], [out])], "g",
                              [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    path.write_bytes(model.SerializeToString())
    return str(path)


@pytest.mark.parametrize("target", ["tensorrt", "eia1.large"])
def test_unknown_or_untappable_target_is_loc001(tmp_path, target):
    model = _one_op(tmp_path / "relu.onnx", "Relu", "y")
    code, _, err = run_cli(["compare", model, f"{model}@{target}"])
    assert code == 2 and err.startswith(f"{model}@{target}: LOC001 ") and len(err.splitlines()) == 1


def test_unknown_model_is_a_coded_usage_error(tmp_path):
    code, _, err = run_cli(["compare", "no_such_model_zz", "no_such_model_zz@cpu"])
    assert code == 2 and "CLI001" in err and len(err.splitlines()) == 1


def test_models_with_different_inputs_are_loc002(tmp_path, resnet):
    model = _one_op(tmp_path / "relu.onnx", "Relu", "y")
    code, _, err = run_cli(["compare", model, resnet["onnx"]])
    assert code == 2 and "LOC002" in err and len(err.splitlines()) == 1


def test_models_with_nothing_recorded_in_common_are_loc003(tmp_path):
    """Relu -> y and Sigmoid -> z share no recorded identity: nothing is compared by guesswork."""
    a = _one_op(tmp_path / "relu.onnx", "Relu", "y")
    b = _one_op(tmp_path / "sigmoid.onnx", "Sigmoid", "z")
    code, _, err = run_cli(["compare", a, b, "--localize"])
    assert code == 2 and "LOC003" in err and len(err.splitlines()) == 1


def test_max_taps_below_one_is_refused(resnet):
    code, _, err = run_cli(["compare", resnet["prefix"], resnet["onnx"], "--input", SHAPE, "--max-taps", "0"])
    assert code == 2 and "CLI001" in err


def test_a_runtime_failure_on_a_tapped_model_is_loc006(tmp_path):
    import numpy as np

    from pipeline.core.errors import MxdeployError
    from pipeline.localize.onnx_side import run_onnx_bytes

    model = (tmp_path / "relu.onnx")
    _one_op(model, "Relu", "y")
    with pytest.raises(MxdeployError) as info:
        run_onnx_bytes(model.read_bytes(), "onnxruntime", {"wrong": np.zeros((1, 4), np.float32)}, ["y"])
    line = info.value.one_line()
    assert info.value.code == "LOC006" and "ONNX Runtime" in line and "\n" not in line


def test_a_model_openvino_refuses_is_one_coded_line_naming_the_op(tmp_path):
    """A file ONNX's checker accepts with an op OpenVINO's reader has no rule for (a custom domain)."""
    import numpy as np
    from onnx import TensorProto, helper, save

    from pipeline.core.errors import MxdeployError
    from pipeline.localize.onnx_side import run_onnx_bytes

    graph = helper.make_graph([helper.make_node("Mystery", ["x"], ["y"], domain="org.example")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = tmp_path / "mystery.onnx"
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                 helper.make_opsetid("org.example", 1)]), str(path))
    with pytest.raises(MxdeployError) as info:
        run_onnx_bytes(path.read_bytes(), "openvino", {"x": np.zeros((1, 4), np.float32)}, ["y"])
    line = info.value.one_line()
    assert info.value.code == "LOC006" and "OpenVINO" in line and "Mystery" in line and "\n" not in line
