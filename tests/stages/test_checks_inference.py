"""EI2xx: training requested by the planned deploy; training-only parts of the graph."""
import mxnet as mx

from checks_helpers import SMALL, DeployParams, conv_net, make_bundle, run, subject
from pipeline.checks import RULES


def _bundle(sym=None, shapes=SMALL):
    return make_bundle(sym if sym is not None else conv_net(), shapes)


def test_plain_inference_deploy_is_fine():
    planned = [("deploy", DeployParams())]
    assert run("inference_requested", subject(_bundle(), planned=planned)) == []
    assert run("inference_requested", subject(_bundle())) == []  # nothing planned


def test_for_training_grad_req_and_optimizer_are_errors():
    planned = [("deploy", DeployParams(for_training=True, grad_req="write", optimizer="sgd"))]
    assert run("inference_requested", subject(_bundle(), "cpu", planned=planned)) == [
        ("EI201", "error", ""), ("EI202", "error", ""), ("EI203", "error", "")]


def test_for_training_quotes_the_guide():
    planned = [("deploy", DeployParams(for_training=True))]
    (diag,) = RULES.get("inference_requested")(subject(_bundle(), planned=planned))
    assert "for training cannot be set to true with EIA context" in diag.message


def test_params_without_the_fields_are_read_as_defaults():
    class Bare:  # a deploy params object from before the fields existed
        target = "eia1.medium"

    assert run("inference_requested", subject(_bundle(), planned=[("deploy", Bare())])) == []


def test_other_stages_params_are_not_deploy_params():
    planned = [("verify", DeployParams(for_training=True))]
    assert run("inference_requested", subject(_bundle(), planned=planned)) == []


def test_clean_graph_has_no_training_parts():
    assert run("inference_graph", subject(_bundle())) == []


def test_loss_head_with_label_warns_strip_training():
    sym = mx.sym.SoftmaxOutput(conv_net(), name="softmax")
    found = run("inference_graph", subject(_bundle(sym)))
    assert found == [("EI204", "warning", "softmax")]
    assert "strip_training" in RULES.get("inference_graph")(subject(_bundle(sym)))[0].hint


def test_dropout_always_warns_eliminate_but_default_mode_does_not():
    net = conv_net()
    always = mx.sym.Dropout(net, p=0.5, mode="always", name="drop_always")
    training = mx.sym.Dropout(net, p=0.5, name="drop_training")
    assert run("inference_graph", subject(_bundle(always))) == [("EI205", "warning", "drop_always")]
    assert run("inference_graph", subject(_bundle(training))) == []
    assert "eliminate" in RULES.get("inference_graph")(subject(_bundle(always)))[0].hint


def test_batchnorm_without_global_stats_is_info_naming_fold_batchnorm():
    data = mx.sym.var("data")
    bn1 = mx.sym.BatchNorm(data, name="bn1")
    bn2 = mx.sym.BatchNorm(bn1, name="bn2", use_global_stats=True)
    found = RULES.get("inference_graph")(subject(_bundle(bn2)))
    assert [(d.code, d.severity, d.node) for d in found] == [("EI206", "info", "bn1")]
    assert "1 BatchNorm" in found[0].message and "fold_batchnorm" in found[0].hint
    frozen = mx.sym.BatchNorm(data, name="bn3", use_global_stats=True)
    assert run("inference_graph", subject(_bundle(frozen))) == []


def test_a_warning_whose_pass_is_planned_becomes_info():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class OptimizeParams:
        passes: tuple = ("strip_training", "fold_batchnorm")

    sym = mx.sym.Dropout(mx.sym.SoftmaxOutput(conv_net(), name="softmax"), mode="always", name="drop0")
    planned = [("optimize", OptimizeParams())]
    found = RULES.get("inference_graph")(subject(_bundle(sym), planned=planned))
    assert [(d.code, d.severity, d.node) for d in found] == [
        ("EI204", "info", "softmax"), ("EI205", "warning", "drop0")]
    assert found[0].message.endswith("the planned optimize pass strip_training removes it")
