"""EI3xx: GPU / several contexts / group2ctxs / arrays on the accelerator, for accelerator targets."""
from dataclasses import dataclass

import pytest

from checks_helpers import SMALL, DeployParams, conv_net, make_bundle, run, subject
from pipeline.checks import RULES
from stages.deploy import DeployParams as StageDeployParams, contract_violations

BUNDLE = make_bundle(conv_net(), SMALL)


def _run(params, target="eia1.medium"):
    return run("contexts", subject(BUNDLE, target, planned=[("deploy", params)]))


def test_single_accelerator_context_is_fine():
    assert _run(DeployParams(contexts=["eia(0)"])) == []
    assert _run(DeployParams()) == []


def test_gpu_context_with_accelerator_is_an_error():
    assert _run(DeployParams(contexts=["gpu(0)"])) == [("EI301", "error", "")]


def test_several_contexts_quote_the_guide():
    found = RULES.get("contexts")(subject(BUNDLE, planned=[("deploy", DeployParams(contexts=["eia(0)", "eia(1)"]))]))
    assert [(d.code, d.severity) for d in found] == [("EI302", "error")]
    assert "Maximum one EIA device can be attached to an instance" in found[0].message


def test_gpu_among_several_contexts_reports_both():
    assert _run(DeployParams(contexts=["cpu(0)", "gpu(0)"])) == [("EI301", "error", ""), ("EI302", "error", "")]


def test_group2ctxs_is_an_error():
    assert _run(DeployParams(contexts=["eia(0)"], group2ctxs={"dev1": "eia(2)"})) == [("EI303", "error", "")]


def test_accelerator_named_only_by_the_deploy_stage_counts():
    params = DeployParams(target="eia2.large", contexts=["gpu(0)"])
    assert _run(params, target="cpu") == [("EI301", "error", "")]


def test_cpu_deployments_get_what_deploy_will_refuse():
    assert _run(DeployParams(target="cpu", contexts=["cpu(0)"]), target="cpu") == []
    params = DeployParams(target="cpu", contexts=["cpu(0)", "cpu(1)"], group2ctxs={"a": "cpu(1)"})
    assert _run(params, target="cpu") == [("EI305", "error", "")]
    assert _run(DeployParams(target="onnxruntime", contexts=["gpu(0)"]), target="onnxruntime") == \
        [("EI306", "error", "")]


def test_check_and_deploy_agree_on_a_host_target():
    """Every deploy refusal of contexts on a host target is a check error first, in the same words."""
    for contexts, group2ctxs in ((["cpu(0)", "cpu(1)"], {}), (["cpu(0)"], {"a": "cpu(1)"}), (["gpu(0)"], {})):
        refused = contract_violations(StageDeployParams(target="cpu", contexts=contexts, group2ctxs=group2ctxs), False)
        found = RULES.get("contexts")(subject(BUNDLE, "cpu", planned=[
            ("deploy", DeployParams(target="cpu", contexts=contexts, group2ctxs=group2ctxs))]))
        assert refused and [v.message for v in refused] == [d.message for d in found]


@dataclass(frozen=True)
class VerifyParams:
    input_context: str = "cpu(0)"


def test_input_arrays_on_the_accelerator_are_an_error():
    planned = [("deploy", DeployParams()), ("verify", VerifyParams("eia(0)"))]
    found = RULES.get("contexts")(subject(BUNDLE, planned=planned))
    assert [(d.code, d.severity) for d in found] == [("EI304", "error")]
    assert "Unimplemented device 6" in found[0].message
    planned = [("deploy", DeployParams()), ("verify", VerifyParams("cpu(0)"))]
    assert run("contexts", subject(BUNDLE, planned=planned)) == []


@pytest.mark.parametrize("context", ["GPU(0)", " gpu ( 1 )"])
def test_deploy_and_check_read_a_context_the_same_way(context):
    """A spelling check calls a GPU is one deploy refuses as a GPU too (DEP103, not DEP106)."""
    assert _run(DeployParams(contexts=[context])) == [("EI301", "error", "")]
    assert [v.code for v in contract_violations(StageDeployParams(contexts=[context]), True)] == ["DEP103"]
