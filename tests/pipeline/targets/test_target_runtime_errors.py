"""Runtime refusals through the targets: one coded line (runtime, version, node/op), raw text to the log.

pipeline/core/runtime_errors.py is the one wrapper; these go through the real runtimes:
ONNX Runtime has no float64 ConvTranspose/AveragePool kernels, OpenVINO's ONNX frontend has no
converter for an op in an unknown domain.
"""
from __future__ import annotations

import mxnet as mx
import numpy as np
import pytest
from onnx import TensorProto, helper

from pipeline.core.errors import TargetError
from pipeline.core.runtime_errors import LOG_ENV, first_error_line, named_node, runtime_version
from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.targets.base import TARGETS


def _pool64() -> ModelBundle:
    sym = mx.sym.Pooling(mx.sym.var("data"), kernel=(2, 2), stride=(2, 2), pool_type="avg", name="pool0")
    return ModelBundle.from_symbol(sym, {}, {}, [TensorSpec("data", (1, 2, 4, 4), "float64")])


def test_onnx_runtime_refusing_the_export_is_ort101_with_the_raw_text_in_the_log(tmp_path, monkeypatch):
    log = tmp_path / "log.txt"
    monkeypatch.setenv(LOG_ENV, str(log))
    with pytest.raises(TargetError) as info:
        TARGETS.get("onnxruntime")().deploy(_pool64())
    err = info.value
    assert err.code == "ORT101" and "\n" not in err.one_line()
    assert err.message.startswith(f"ONNX Runtime {runtime_version('onnxruntime')} refused the session for model.onnx")
    assert "at node 'pool0' (op AveragePool)" in err.message and "NOT_IMPLEMENTED" not in err.message
    assert err.node == "pool0"  # the MXNet node: every exported node is named (pipeline/onnx/node_names.py)
    assert "[ONNXRuntimeError] : 9 : NOT_IMPLEMENTED" in log.read_text()  # the full text, in the log
    assert "--localize" in err.hint


def test_the_same_bundle_runs_on_mxnet():
    with TARGETS.get("cpu")() as session:
        session.deploy(_pool64())
        out = session.infer({"data": np.ones((1, 2, 4, 4))})
    np.testing.assert_allclose(out[0], np.ones((1, 2, 2, 2)))


def test_openvino_refusing_a_graph_is_ovn103_naming_the_op(tmp_path):
    ov = pytest.importorskip("openvino")
    from pipeline.targets.openvino import read_openvino_model

    node = helper.make_node("Mystery", ["X"], ["Y"], name="mystery0", domain="com.example")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 8])])
    path = tmp_path / "m.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                              helper.make_opsetid("com.example", 1)]).SerializeToString())
    with pytest.raises(TargetError) as info:
        read_openvino_model(ov.Core(), path)
    err = info.value
    assert err.code == "OVN103" and err.where == str(path) and "\n" not in err.one_line()
    assert err.message.startswith(f"OpenVINO {runtime_version('openvino')} refused to read m.onnx")
    assert "Mystery" in err.message and "Exception from src" not in err.message


@pytest.mark.parametrize("text, reason, node, op", [
    ("[ONNXRuntimeError] : 1 : FAIL : Load model from m.onnx failed:\nNode (conv0) Op (Conv) [ShapeInferenceError]"
     " kernel mismatch", "Load model from m.onnx failed: Node (conv0) Op (Conv) [ShapeInferenceError] kernel mismatch",
     "conv0", "Conv"),
    ("Exception from src/inference/src/cpp/core.cpp:105:\nCheck 'false' failed at src/plugin.cpp:1:\n"
     "Can not create StaticMemory object. The memory desc is undefined", "Can not create StaticMemory object. The "
     "memory desc is undefined", "", ""),
    ("Traceback (most recent call last):\n  File \"x.py\", line 1\nMXNetError: Error in operator fc1: [12:00:00] "
     "../src/x.cc:1: Check failed: shape", "Error in operator fc1: Check failed: shape", "fc1", ""),
])
def test_reason_line_and_node_of_each_runtimes_text(text, reason, node, op):
    assert first_error_line(RuntimeError(text)) == reason
    assert named_node(text) == (node, op)


def test_the_cli_prints_one_line_and_the_runtime_text_only_with_debug(tmp_path, capsys):
    from pipeline import cli

    sym = mx.sym.Convolution(mx.sym.var("data"), kernel=(3, 3), num_filter=2, name="conv0")
    mx.model.save_checkpoint(str(tmp_path / "f64"), 0, sym, {"conv0_weight": mx.nd.ones((2, 2, 3, 3), dtype="float64"),
                                                             "conv0_bias": mx.nd.zeros(2, dtype="float64")}, {})
    argv = ["convert", str(tmp_path / "f64"), str(tmp_path / "out.onnx"), "--input", "data=1,2,5,5"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("conv0: EXP103 MXNet 1.9.1 refused the graph's ONNX translation")
    assert "../src/operator" not in err and "infer_type error" not in err
    assert cli.main(["--debug", *argv]) == 2
    assert "../src/operator/nn/convolution.cc" in capsys.readouterr().err  # the runtime's own text, on request
