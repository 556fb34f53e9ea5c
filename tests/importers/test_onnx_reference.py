"""The onnxruntime reference kind, rebuilt from bundle metadata as the verify stage does."""
import numpy as np
import onnx
import pytest
from onnx import helper

from onnx_in_parity import graph_model, rand
from pipeline.core.errors import ModelError
from pipeline.model.references import REFERENCES
from pipeline.onnx.load import load_onnx
from stages.sources import onnx_reference as reference  # noqa: F401 - registers the kind

N = helper.make_node


def test_reference_runs_the_original_file(tmp_path):
    model = graph_model([N("Mul", ["x", "s"], ["y"])], {"x": rand(2, 3), "s": np.array(3.0, np.float32)}, {},
                        ["y"], 13)
    onnx.save(model, str(tmp_path / "m.onnx"))
    bundle = load_onnx(tmp_path / "m.onnx", None)
    ref = REFERENCES.get("onnxruntime")(bundle.metadata["reference"], tmp_path)
    # the feed follows the bundle: the scalar arrives as (1,)
    (out,) = ref.run({"x": rand(2, 3), "s": np.array([3.0], np.float32)})
    np.testing.assert_allclose(out, rand(2, 3) * 3, rtol=1e-6)


def test_reference_feeds_frozen_and_unused_inputs(tmp_path):
    nodes = [N("Reshape", ["x", "shape"], ["a"]), N("EyeLike", ["z"], ["b"])]
    model = graph_model(nodes, {"x": rand(2, 6), "shape": np.array([3, 4], np.int64), "z": rand(2, 2)}, {},
                        ["a", "b"], 13)
    onnx.save(model, str(tmp_path / "m.onnx"))
    bundle = load_onnx(tmp_path / "m.onnx", None, constants={"shape": np.array([3, 4], np.int64)})
    assert [s.name for s in bundle.inputs] == ["x"]
    ref = REFERENCES.get("onnxruntime")(bundle.metadata["reference"], tmp_path)
    a, b = ref.run({"x": rand(2, 6)})
    np.testing.assert_allclose(a, rand(2, 6).reshape(3, 4))
    np.testing.assert_allclose(b, np.eye(2))


def test_missing_reference_file_is_a_coded_error(tmp_path):
    ref = REFERENCES.get("onnxruntime")({"kind": "onnxruntime", "path": str(tmp_path / "gone.onnx")}, tmp_path)
    with pytest.raises(ModelError) as info:
        ref.run({})
    assert info.value.code == "ONNX110"
