"""The `check` stage: params, status, metrics, strict mode and the check.json artifact."""
import json

import mxnet as mx

from checks_helpers import SMALL, DeployParams, conv_net, make_bundle
from pipeline.core.paramspec import build_params
from pipeline.core.stage import STAGES, RunContext
from stages import check as check_stage  # noqa: F401  (registers `check`)


def _ctx(tmp_path, planned=()):
    return RunContext("p1", tmp_path / "01-check", tmp_path, tmp_path, [], stage_index=1,
                      planned_stages=list(planned))


def _params(**values):
    params, issues = build_params(STAGES.get("check").Params, values)
    assert issues == []
    return params


def test_params_validate_target_names():
    _, issues = build_params(STAGES.get("check").Params, {"target": "eia1.mediun"})
    assert len(issues) == 1 and "did you mean 'eia1.medium'" in issues[0].message
    _, issues = build_params(STAGES.get("check").Params, {})
    assert "missing required parameter 'target'" in issues[0].message
    params = _params(target="eia1.large", strict=True, shapes=[{"data": [2, 3, 16, 16]}])
    assert params.shapes == ({"data": (2, 3, 16, 16)},)


def test_clean_model_passes_and_writes_check_json(tmp_path):
    bundle = make_bundle(conv_net(), SMALL)
    out, result = STAGES.get("check")().run(bundle, _params(target="eia1.medium"), _ctx(tmp_path))
    assert out is None and result.status == "passed"
    assert result.metrics["unsupported_ops"] == 0
    assert result.metrics["smallest_fit"] == "eia1.medium"
    assert result.metrics["memory_bytes"] > bundle.params_bytes()
    report = json.loads((tmp_path / "01-check" / "check.json").read_text())
    assert report["target"] == "eia1.medium" and report["memory"]["bytes"] == result.metrics["memory_bytes"]
    assert result.artifacts == {"check": "check.json"}


def test_errors_fail_the_stage_and_planned_deploy_is_seen(tmp_path):
    bundle = make_bundle(conv_net(), SMALL)
    planned = [("check", None), ("deploy", DeployParams(for_training=True))]
    _, result = STAGES.get("check")().run(bundle, _params(target="eia1.medium"), _ctx(tmp_path, planned))
    assert result.status == "failed"
    assert [d.code for d in result.diagnostics] == ["EI201"]


def test_strict_turns_warnings_into_errors(tmp_path):
    bundle = make_bundle(mx.sym.SoftmaxOutput(conv_net(), name="softmax"), SMALL)
    _, lenient = STAGES.get("check")().run(bundle, _params(target="eia1.medium"), _ctx(tmp_path))
    assert lenient.status == "passed" and [(d.code, d.severity) for d in lenient.diagnostics] == [
        ("EI204", "warning")]
    _, strict = STAGES.get("check")().run(bundle, _params(target="eia1.medium", strict=True), _ctx(tmp_path))
    assert strict.status == "failed" and [(d.code, d.severity) for d in strict.diagnostics] == [("EI204", "error")]
    assert strict.metrics["errors"] == 1 and strict.metrics["warnings"] == 0


def test_unsupported_op_count_metric(tmp_path):
    net = mx.sym.FullyConnected(mx.sym.sort(conv_net(), name="sort0"), num_hidden=2, name="fc1")
    bundle = make_bundle(net, SMALL)
    _, result = STAGES.get("check")().run(bundle, _params(target="eia1.medium"), _ctx(tmp_path))
    assert result.metrics["unsupported_ops"] == 1 and result.status == "passed"
