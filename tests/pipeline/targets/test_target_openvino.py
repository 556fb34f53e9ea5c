"""pipeline/targets/openvino.py: the exported bundle compiled by OpenVINO for the CPU.

Tolerances, against MXNet's cpu target on BatchNorm-calibrated models (outputs O(1)):
- f32: atol 1e-4 / rtol 1e-3, as for ONNX Runtime (measured: max abs error 5e-5 on
  mobilenetv2_1.0 at 64x64, 1e-5 on resnet18_v1).
- bf16: cosine >= 0.99 and max abs error <= 10% of max |reference|. bf16 keeps 8 significant
  bits (about 2-3 decimal digits) and the error compounds over 18 layers: measured on
  resnet18_v1, max abs error 0.11 on outputs up to 3.0 (3.8%); an element-wise rtol would
  fail on outputs near zero however right the model is, so direction and scale are checked.
Whether bf16 runs depends on the CPU: the test probes it and checks whichever path applies;
the refusal path is also checked everywhere by faking a CPU without BF16.
"""
from __future__ import annotations

import tempfile

import numpy as np
import pytest

ov = pytest.importorskip("openvino")  # the target is optional: without it is_available() is False

from onnx_target_models import cpu_reference, target_test_bundles, uniform_feed  # noqa: E402
from pipeline.core.errors import TargetError  # noqa: E402
from pipeline.onnx.export import exportable_ops, export_bundle  # noqa: E402
from pipeline.targets import openvino as ov_target  # noqa: E402
from pipeline.targets.base import TARGETS  # noqa: E402
from pipeline.targets.openvino import OpenVinoTarget, query_onnx  # noqa: E402

ATOL, RTOL = 1e-4, 1e-3
BF16_MIN_COSINE, BF16_MAX_ABS_OF_SCALE = 0.99, 0.10


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    return target_test_bundles(tmp_path_factory.mktemp("zoo"))


_feed, _reference = uniform_feed, cpu_reference


def _cpu_has_bf16() -> bool:
    return "BF16" in ov_target.cpu_capabilities(ov.Core())


@pytest.mark.parametrize("name", ["resnet18_v1", "mobilenetv2_1.0", "softmax_mlp"])
def test_f32_matches_mxnet_cpu_target(bundles, name):
    bundle = bundles[name]
    feed = _feed(bundle)
    ref = _reference(bundle, feed)
    assert np.abs(ref[0]).max() > 0.1
    with OpenVinoTarget(precision="f32") as target:
        got = target.deploy(bundle).infer(feed)
        first = got[0].copy()
        target.infer(_feed(bundle, seed=1))
        np.testing.assert_array_equal(got[0], first)  # results are copies, not the request's buffers
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, atol=ATOL, rtol=RTOL)


def test_compiled_with_latency_hint_explicit_f32_and_threads(bundles):
    with OpenVinoTarget(threads=1) as target:
        target.deploy(bundles["softmax_mlp"])
        compiled = target._compiled
        assert str(compiled.get_property("PERFORMANCE_HINT")) == "LATENCY"
        assert compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name() == "f32"
        assert compiled.get_property("INFERENCE_NUM_THREADS") == 1


def test_bf16_runs_within_tolerance_or_is_refused(bundles):
    bundle = bundles["resnet18_v1"]
    feed = _feed(bundle)
    target = OpenVinoTarget(precision="bf16")
    if not _cpu_has_bf16():
        with pytest.raises(TargetError) as err:
            target.deploy(bundle)
        assert err.value.code == "OVN101"
        return
    with target:
        (got,) = target.deploy(bundle).infer(feed)
        assert target._compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name() == "bf16"
    (ref,) = _reference(bundle, feed)
    cosine = float(np.dot(got.ravel(), ref.ravel()) / (np.linalg.norm(got) * np.linalg.norm(ref)))
    assert cosine >= BF16_MIN_COSINE
    assert np.abs(got - ref).max() <= BF16_MAX_ABS_OF_SCALE * np.abs(ref).max()
    assert not np.array_equal(got, _f32(bundle, feed))  # bf16 really ran: it differs from f32


def _f32(bundle, feed):
    with OpenVinoTarget() as target:
        return target.deploy(bundle).infer(feed)[0]


def test_bf16_is_refused_not_downgraded_on_a_cpu_without_it(bundles, monkeypatch, tmp_path):
    monkeypatch.setattr(ov_target, "cpu_capabilities", lambda core: frozenset({"FP32", "INT8"}))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(TargetError) as err:
        OpenVinoTarget(precision="bf16").deploy(bundles["softmax_mlp"])
    assert err.value.code == "OVN101" and err.value.where == "precision"
    assert "f32" in err.value.hint
    assert list(tmp_path.iterdir()) == []  # the temp export was removed
    with OpenVinoTarget(precision="f32") as target:  # f32 still deploys on that CPU
        target.deploy(bundles["softmax_mlp"])


def test_precision_option_is_checked(bundles):
    with pytest.raises(TargetError) as err:
        OpenVinoTarget(precision="fp16").deploy(bundles["softmax_mlp"])
    assert err.value.code == "TGT102" and "f32, bf16" in err.value.hint


def test_query_model_finds_every_op_supported_here(bundles):
    bundle = bundles["mobilenetv2_1.0"]
    mx_ops = {n["op"] for n in bundle.graph()["nodes"] if n["op"] != "null"}
    assert mx_ops <= OpenVinoTarget.supported_ops_for(bundle)
    assert OpenVinoTarget.supported_ops_for(bundle) == exportable_ops()


class _CoreWithoutConvolution:
    """A real Core whose CPU plugin claims not to run Convolution: exercises the mapping back."""

    def __init__(self):
        self.core = ov.Core()

    def read_model(self, path):
        return self.core.read_model(path)

    def query_model(self, model, device):
        supported = self.core.query_model(model, device)
        dropped = {op.get_friendly_name() for op in model.get_ops() if op.get_type_name() == "Convolution"}
        return {k: v for k, v in supported.items() if k not in dropped}


def test_query_maps_unsupported_runtime_ops_back_to_mxnet_nodes(bundles, tmp_path):
    bundle = bundles["resnet18_v1"]
    path = export_bundle(bundle, tmp_path / "m.onnx")
    result = query_onnx(bundle, path, core=_CoreWithoutConvolution())
    convs = sorted(n["name"] for n in bundle.graph()["nodes"] if n["op"] == "Convolution")
    assert set(result.unsupported) == {"Convolution"}
    assert sorted(result.unsupported["Convolution"]) == convs
    assert result.unattributed == []
    assert "Convolution" not in result.supported_ops() and "BatchNorm" in result.supported_ops()


def test_registration_and_class_queries():
    assert TARGETS.get("openvino") is OpenVinoTarget
    assert OpenVinoTarget.is_available()
    assert OpenVinoTarget.version() == ov.__version__
    assert OpenVinoTarget.supported_ops() == exportable_ops()


def test_a_model_openvino_cannot_read_is_a_coded_error(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("NoSuchOp", ["x"], ["y"], domain="mxdeploy.test")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("mxdeploy.test", 1)])
    path = tmp_path / "bad.onnx"
    onnx.save(model, str(path))
    with pytest.raises(TargetError) as err:
        ov_target.read_openvino_model(ov.Core(), path)
    assert err.value.code == "OVN103"


def test_unavailable_without_openvino(monkeypatch, bundles):
    import sys

    monkeypatch.setitem(sys.modules, "openvino", None)  # makes `import openvino` raise ImportError
    assert not OpenVinoTarget.is_available()
    with pytest.raises(TargetError) as err:
        OpenVinoTarget().deploy(bundles["softmax_mlp"])
    assert err.value.code == "TGT002"
