"""deploy: the inference-only contract refused with coded errors; sessions through both APIs."""
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

import stages.deploy  # noqa: F401
import stages.sources.checkpoint  # noqa: F401
from pipeline.core.errors import StageError
from pipeline.core.paramspec import build_params
from pipeline.targets.base import Target
from stages.deploy import DeployParams, contract_violations
from stages.sources.checkpoint import CheckpointParams

DIGITS = [("data", (4, 64))]


@pytest.fixture
def digits(make_runner):
    runner = make_runner(DIGITS)
    bundle, _ = runner.run("checkpoint", None, CheckpointParams(prefix="digits-mlp"))
    return runner, bundle


@pytest.mark.parametrize("api", ["symbol", "module"])
def test_checkpoint_with_softmax_label_deploys_without_a_label(digits, api):
    runner, bundle = digits
    out, result = runner.run("deploy", bundle, DeployParams(api=api, threads=1))
    assert result.status == "passed"
    assert set(result.metrics) == {"load_seconds", "first_forward_ms"}
    assert out.metadata["deployment"] == {"target": "cpu", "api": api, "options": {"threads": 1}}
    assert out.history[-1] == {"stage": "deploy", "target": "cpu", "api": api}
    assert "deployment" not in bundle.metadata  # the input bundle is left as it was
    session = runner.session
    assert isinstance(session, Target) and session.bundle is out
    x = load_digits().data[:4].astype(np.float32)
    probs = session.infer({"data": x})[0]
    assert probs.shape == (4, 10) and (probs.argmax(1) == load_digits().target[:4]).all()


def test_a_second_deploy_closes_the_first_session(digits):
    runner, bundle = digits
    runner.run("deploy", bundle, DeployParams())
    first = runner.session
    runner.run("deploy", bundle, DeployParams(api="module"))
    assert first.bundle is None and runner.session is not first


ACCEL = "eia1.large"


@pytest.mark.parametrize("values, accelerator, code, message", [
    ({"for_training": True}, True, "DEP101", "for training cannot be set to true with EIA context"),
    ({"for_training": True}, False, "DEP101", "for training cannot be set to true for an inference deployment"),
    ({"contexts": ["eia(0)", "eia(1)"]}, True, "DEP102", "Maximum one EIA device can be attached to an instance"),
    ({"group2ctxs": {"dev1": "eia(2)"}}, True, "DEP102", "Maximum one EIA device can be attached to an instance"),
    ({"contexts": ["cpu(0)", "cpu(1)"]}, False, "DEP102", "inference is served on one device"),
    ({"group2ctxs": {"dev1": "cpu(0)"}}, False, "DEP102", "group2ctxs {'dev1': 'cpu(0)'} asks for data or model"),
    ({"contexts": ["gpu(0)"]}, False, "DEP103", "GPU context gpu(0) is not supported"),
    ({"grad_req": "write"}, False, "DEP104", "grad_req 'write' allocates gradients"),
    ({"optimizer": "sgd"}, True, "DEP105", "optimizer 'sgd' has no use for inference"),
    ({"contexts": ["tpu:0"]}, False, "DEP106", "cannot read context 'tpu:0'"),
    ({"group2ctxs": {"dev1": "tpu:0"}}, False, "DEP106", "cannot read context 'tpu:0'"),
])
def test_contract_rules(values, accelerator, code, message):
    params, issues = build_params(DeployParams, values)
    assert issues == []
    violations = contract_violations(params, accelerator)
    assert violations and violations[0].code == code and message in violations[0].message
    assert violations[0].hint


def test_a_migrated_single_context_passes():
    params, _ = build_params(DeployParams, {"contexts": ["eia(0)"], "grad_req": "null", "for_training": False})
    assert contract_violations(params, True) == []
    assert contract_violations(DeployParams(contexts=["cpu"]), False) == []


@pytest.mark.parametrize("values, code", [
    ({"for_training": True}, "DEP101"), ({"contexts": ["cpu(0)", "cpu(1)"]}, "DEP102"),
    ({"contexts": ["gpu(0)"]}, "DEP103"), ({"grad_req": "add"}, "DEP104"), ({"optimizer": "adam"}, "DEP105"),
])
def test_deploy_refuses_before_binding(digits, values, code):
    runner, bundle = digits
    params, _ = build_params(DeployParams, values)
    with pytest.raises(StageError) as info:
        runner.run("deploy", bundle, params)
    assert info.value.code == code and info.value.where == "deploy (cpu)"
    assert runner.session is None


def test_several_violations_report_the_first_to_fix():
    params = DeployParams(for_training=True, optimizer="sgd", contexts=["gpu(0)", "gpu(1)"])
    assert [v.code for v in contract_violations(params, False)] == ["DEP103", "DEP102", "DEP101", "DEP105"]


def test_params_are_validated():
    _, issues = build_params(DeployParams, {"target": "cpux", "api": "gluon"})
    assert {i.path for i in issues} == {("target",), ("api",)}
    assert any("did you mean 'cpu'" in i.message for i in issues)
    assert stages.deploy.Deploy.check_params(DeployParams(threads=0))[0].path == ("threads",)


def test_a_runtime_refusal_names_the_stage_folders_copy_of_the_model(make_runner):
    """ONNX Runtime has no float64 AveragePool: ORT101 names model.onnx in the stage folder, which
    exists after deploy, not the temp copy the session read (removed on close)."""
    import mxnet as mx

    from pipeline.core.errors import TargetError
    from pipeline.model.bundle import ModelBundle, TensorSpec
    from stages.deploy import DeployParams

    sym = mx.sym.Pooling(mx.sym.var("data"), kernel=(2, 2), stride=(2, 2), pool_type="avg", name="pool0")
    bundle = ModelBundle.from_symbol(sym, {}, {}, [TensorSpec("data", (1, 2, 4, 4), "float64")])
    runner = make_runner([("data", (1, 2, 4, 4), "float64")])
    with pytest.raises(TargetError) as info:
        runner.run("deploy", bundle, DeployParams(target="onnxruntime"))
    err = info.value
    stage_dir = runner.run_dir / "pipe" / "00-deploy"
    assert err.code == "ORT101" and err.where == str(stage_dir / "model.onnx"), err.where
    assert (stage_dir / "model.onnx").is_file()


def test_an_openvino_refusal_in_deploy_is_one_coded_line_naming_the_kept_file(make_runner):
    """SSD's anchor pattern with a dynamic batch axis: nothing is folded at export and OpenVINO's
    CPU plugin refuses to compile it ("Can not create StaticMemory object"): OVN105, one line,
    the file it refused kept in the stage folder."""
    import mxnet as mx

    from pipeline.core.errors import TargetError
    from pipeline.model.bundle import ModelBundle, TensorSpec
    from pipeline.targets import TARGETS
    from stages.deploy import DeployParams

    if not TARGETS.get("openvino").is_available():
        pytest.skip("openvino is not installed")
    feature = mx.sym.Convolution(mx.sym.var("data"), num_filter=2, kernel=(3, 3), pad=(1, 1), name="conv")
    grid = mx.sym.reshape(mx.sym.arange(0, 2 * 16 * 16, dtype="float32"), shape=(1, 2, 16, 16))
    out = feature + mx.sym.slice_like(grid, feature, axes=(2, 3), name="anchors") * 0.01 + mx.sym.zeros_like(feature)
    params = {"conv_weight": mx.nd.array(np.random.default_rng(0).normal(size=(2, 3, 3, 3))), "conv_bias": mx.nd.zeros(2)}
    spec = TensorSpec("data", (1, 3, 8, 8), dynamic=(0,))
    bundle = ModelBundle.from_symbol(out, params, {}, [spec])
    runner = make_runner([spec])
    with pytest.raises(TargetError) as info:
        runner.run("deploy", bundle, DeployParams(target="openvino"))
    err = info.value
    assert err.code == "OVN105" and "\n" not in err.one_line() and "Exception from src" not in err.one_line()
    assert "Can not create StaticMemory object" in err.message and err.message.startswith("OpenVINO ")
    assert err.where == str(runner.run_dir / "pipe" / "00-deploy" / "model.onnx") and Path(err.where).is_file()
    _, ok = runner.run("deploy", bundle, DeployParams(target="onnxruntime"))  # ONNX Runtime opens the same export
    assert ok.status == "passed"
