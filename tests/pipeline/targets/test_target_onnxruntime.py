"""pipeline/targets/onnxruntime.py: the exported bundle served by ONNX Runtime.

Parity is against MXNet's own executor (the cpu target) at atol 1e-4 / rtol 1e-3: ONNX Runtime
folds BatchNorm into Conv and reorders float sums, so last-bit equality is not expected, and
the zoo models here are BatchNorm-calibrated so their outputs are O(1) (onnx_target_models.py).
"""
from __future__ import annotations

import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from onnx_target_models import cpu_reference, target_test_bundles, uniform_feed
from pipeline.core.errors import TargetError
from pipeline.onnx.export import ExportError, exportable_ops
from pipeline.targets.base import TARGETS
from pipeline.targets.onnxruntime import OnnxRuntimeTarget

ATOL, RTOL = 1e-4, 1e-3


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    return target_test_bundles(tmp_path_factory.mktemp("zoo"))


_feed, _reference = uniform_feed, cpu_reference


@pytest.mark.parametrize("name", ["resnet18_v1", "mobilenetv2_1.0", "softmax_mlp"])
def test_matches_mxnet_cpu_target(bundles, name):
    bundle = bundles[name]
    feed = _feed(bundle)
    ref = _reference(bundle, feed)
    assert np.abs(ref[0]).max() > 0.1  # a collapsed output would make the tolerance meaningless
    with OnnxRuntimeTarget(threads=2) as target:
        got = target.deploy(bundle).infer(feed)
        session = target._session
        assert [i.name for i in session.get_inputs()] == [s.name for s in bundle.inputs]  # no label, no weights
        again = target.infer(_feed(bundle, seed=1))
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(again[0], _reference(bundle, _feed(bundle, seed=1))[0], atol=ATOL, rtol=RTOL)


def test_session_uses_all_optimizations_threads_and_cpu_provider(bundles):
    with OnnxRuntimeTarget(threads=1) as target:
        target.deploy(bundles["softmax_mlp"])
        options = target._session.get_session_options()
        assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        assert options.intra_op_num_threads == 1
        assert target._session.get_providers() == ["CPUExecutionProvider"]


def test_temp_export_is_removed_on_close_and_export_dir_is_kept(bundles, tmp_path):
    target = OnnxRuntimeTarget().deploy(bundles["softmax_mlp"])
    path = target.onnx_path()
    assert path.is_file() and path.parent.name.startswith("mxdeploy-onnxruntime-")
    target.close()
    assert not path.parent.exists()

    keep = tmp_path / "kept"
    with OnnxRuntimeTarget(export_dir=str(keep)) as target:
        target.deploy(bundles["softmax_mlp"])
    model = onnx.load(str(keep / "model.onnx"))
    assert [i.name for i in model.graph.input] == ["data"]


def test_failed_deploy_leaves_no_temp_folder(monkeypatch, tmp_path):
    import mxnet as mx

    from pipeline.model.bundle import ModelBundle, TensorSpec

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    x = mx.sym.var("data")
    bundle = ModelBundle.from_symbol(mx.sym.erf(x, name="e"), {}, {}, [TensorSpec("data", (2, 2))])
    with pytest.raises(ExportError) as err:
        OnnxRuntimeTarget().deploy(bundle)
    assert err.value.code == "EXP102"
    assert list(tmp_path.iterdir()) == []


def test_options_are_checked(bundles):
    with pytest.raises(TargetError) as err:
        OnnxRuntimeTarget(thread=2).deploy(bundles["softmax_mlp"])
    assert err.value.code == "TGT101" and "did you mean 'threads'" in err.value.message
    for bad in ({"threads": -1}, {"threads": "2"}, {"threads": True}, {"api": "module"}):
        with pytest.raises(TargetError) as err:
            OnnxRuntimeTarget(**bad).deploy(bundles["softmax_mlp"])
        assert err.value.code == "TGT102"
    with pytest.raises(ExportError) as err:
        OnnxRuntimeTarget(opset=18).deploy(bundles["softmax_mlp"])
    assert err.value.code == "EXP106"


def test_deploy_stage_options_are_accepted(bundles):
    """stages/deploy.py passes api= and threads= to every target."""
    with OnnxRuntimeTarget(api="symbol", threads=1) as target:
        assert target.deploy(bundles["softmax_mlp"]).infer(_feed(bundles["softmax_mlp"]))


def test_feed_is_cast_to_the_declared_dtype(bundles):
    bundle = bundles["softmax_mlp"]
    feed = _feed(bundle)
    with OnnxRuntimeTarget() as target:
        as64 = target.deploy(bundle).infer({k: v.astype(np.float64) for k, v in feed.items()})
        np.testing.assert_array_equal(as64[0], target.infer(feed)[0])


def test_registration_and_class_queries():
    assert TARGETS.get("onnxruntime") is OnnxRuntimeTarget
    assert OnnxRuntimeTarget.is_available()
    assert OnnxRuntimeTarget.version() == ort.__version__
    assert OnnxRuntimeTarget.supported_ops() == exportable_ops()
    assert "Convolution" in OnnxRuntimeTarget.supported_ops()
