"""The quantized-bundle contract: who serves which format, and the artifact's integrity."""
import pytest

from pipeline.model import quantized
from pipeline.model.bundle import sha256_file
from pipeline.core.errors import TargetError
from pipeline.targets.build import check_servable

QDQ = {"quantized": {"precision": "int8", "format": "onnx-qdq", "target": "onnxruntime", "path": "p/01-quantize/m.onnx"}}


@pytest.mark.parametrize("fmt, ok, refused", [
    ("onnx-qdq", ["onnxruntime", "openvino"], ["cpu", "onednn", "eia1.large"]),
    ("mxnet-int8", ["cpu", "onednn"], ["onnxruntime", "openvino"]),
    ("mxnet-bf16", ["cpu", "onednn"], ["onnxruntime", "openvino", "eia2.large"]),
    ("openvino-bf16", ["openvino"], ["onnxruntime", "cpu", "onednn"]),
])
def test_servable_targets(fmt, ok, refused):
    meta = {"quantized": {"precision": "x", "format": fmt, "target": ok[0]}}
    for target in ok:
        check_servable(meta, target)
    for target in refused:
        with pytest.raises(TargetError) as err:
            check_servable(meta, target)
        assert err.value.code == "QNT201"


def test_full_precision_bundles_are_served_anywhere_and_need_no_run_dir():
    check_servable({}, "cpu")
    assert quantized.runtime_options({}, "/runs/x") == {}
    assert quantized.runtime_options({"quantized": {"format": "mxnet-int8"}}, "/runs/x") == {}
    assert quantized.runtime_options(QDQ, "/runs/x") == {"base_dir": "/runs/x"}


def test_artifact_path_checks_presence_and_hash(tmp_path):
    with pytest.raises(TargetError) as err:
        quantized.artifact_path(QDQ, None)
    assert err.value.code == "QNT202"
    with pytest.raises(TargetError) as err:
        quantized.artifact_path(QDQ, tmp_path)
    assert err.value.code == "QNT202"
    f = tmp_path / "p" / "01-quantize" / "m.onnx"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"model")
    meta = {"quantized": {**QDQ["quantized"], "sha256": sha256_file(f)}}
    assert quantized.artifact_path(meta, tmp_path) == f
    f.write_bytes(b"other")
    with pytest.raises(TargetError) as err:
        quantized.artifact_path(meta, tmp_path)
    assert err.value.code == "QNT203"
