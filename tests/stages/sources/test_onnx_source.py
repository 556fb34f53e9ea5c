"""The `onnx` source stage: params, declared shapes from the pipeline, diagnostics."""
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from pipeline.model.bundle import TensorSpec
from pipeline.core.paramspec import build_params
from pipeline.core.stage import STAGES, RunContext
from stages.sources import onnx as onnx_source  # noqa: F401 - registers the stage


def _model(path: Path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 2], np.arange(8, dtype=np.float32))
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], initializer=[w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def _ctx(tmp_path, inputs):
    return RunContext(pipeline="p", stage_dir=tmp_path / "00-onnx", run_dir=tmp_path, config_dir=tmp_path,
                      inputs=inputs)


def test_stage_is_registered_as_a_source_with_a_path_param():
    cls = STAGES.get("onnx")
    assert cls.kind == "source"
    params, issues = build_params(cls.Params, {"path": "m.onnx"})
    assert issues == [] and params.path == "m.onnx"
    _, issues = build_params(cls.Params, {})
    assert issues and "path" in issues[0].message


def test_stage_imports_with_the_declared_shapes(tmp_path):
    _model(tmp_path / "m.onnx")
    cls = STAGES.get("onnx")
    params, _ = build_params(cls.Params, {"path": "m.onnx"})
    bundle, result = cls().run(None, params, _ctx(tmp_path, [TensorSpec("x", (3, 4))]))
    assert bundle.inputs == [TensorSpec("x", (3, 4))]
    assert result.status == "passed" and result.metrics["nodes"] == 1
    assert result.metrics["opsets"] == {"ai.onnx": 17}
    # MatMul by a constant becomes FullyConnected, whose weight is stored transposed (out, in)
    (weight,) = bundle.arg_params.values()
    np.testing.assert_array_equal(weight, np.arange(8, dtype=np.float32).reshape(4, 2).T)


def test_stage_reports_a_dtype_mismatch_as_info(tmp_path):
    _model(tmp_path / "m.onnx")
    cls = STAGES.get("onnx")
    params, _ = build_params(cls.Params, {"path": "m.onnx"})
    _, result = cls().run(None, params, _ctx(tmp_path, [TensorSpec("x", (3, 4), "float16")]))
    (diag,) = result.diagnostics
    assert diag.code == "ONNX202" and diag.severity == "info"
