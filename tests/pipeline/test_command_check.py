"""`pipeline check MODEL --target T`: the done-when cases of issue 4, through the real CLI."""
import json

import mxnet as mx
import numpy as np
import pytest

from pipeline import cli


@pytest.fixture
def pipeline_check(monkeypatch, capsys):
    """Run `pipeline check ARGS`; returns (exit code, stdout, stderr)."""
    monkeypatch.setitem(cli.COMMANDS, "check", "pipeline.cli.check")

    def run(*args):
        code = cli.main(["check", *map(str, args)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def save_checkpoint(prefix, sym, shapes, *, version=None):
    """Write PREFIX-symbol.json / PREFIX-0000.params with zero params (no forward pass)."""
    arg_shapes, _, aux_shapes = sym.infer_shape(**shapes)
    args = {n: mx.nd.zeros(s) for n, s in zip(sym.list_arguments(), arg_shapes) if n not in shapes}
    auxs = {n: mx.nd.zeros(s) for n, s in zip(sym.list_auxiliary_states(), aux_shapes)}
    mx.model.save_checkpoint(str(prefix), 0, sym, args, auxs)
    if version is not None:
        path = prefix.parent / f"{prefix.name}-symbol.json"
        graph = json.loads(path.read_text())
        graph["attrs"]["mxnet_version"] = ["int", version]
        path.write_text(json.dumps(graph))
    return prefix


def small_net():
    x = mx.sym.Convolution(mx.sym.var("data"), kernel=(3, 3), num_filter=4, name="conv0")
    return mx.sym.FullyConnected(mx.sym.relu(x, name="relu0"), num_hidden=3, name="fc0")


@pytest.fixture(scope="module")
def vgg16_prefix(tmp_path_factory):
    """VGG-16's graph with zero params: checked at batch 64 by shape inference only."""
    from mxnet.gluon.model_zoo import vision

    sym = vision.get_model("vgg16")(mx.sym.var("data"))
    return save_checkpoint(tmp_path_factory.mktemp("vgg16") / "vgg16", sym, {"data": (1, 3, 224, 224)})


def test_graph_saved_by_a_newer_mxnet_exits_1_with_the_version_error(pipeline_check, tmp_path):
    prefix = save_checkpoint(tmp_path / "newer", small_net(), {"data": (1, 3, 8, 8)}, version=20000)
    code, out, _ = pipeline_check(prefix, "--target", "eia1.medium", "--input", "data=1,3,8,8", "--json")
    assert code == 1
    report = json.loads(out)
    assert [(d["code"], d["severity"]) for d in report["diagnostics"]] == [("EI101", "error")]
    assert "MXNet 2.0.0" in report["diagnostics"][0]["message"]


def test_same_checkpoint_saved_by_1_9_1_is_clean(pipeline_check, tmp_path):
    prefix = save_checkpoint(tmp_path / "ok", small_net(), {"data": (1, 3, 8, 8)})
    code, out, _ = pipeline_check(prefix, "--target", "eia1.medium", "--input", "data=1,3,8,8")
    assert code == 0 and "no findings" in out


def test_vgg16_at_batch_64_on_eia1_medium_names_a_larger_size(pipeline_check, vgg16_prefix):
    code, out, _ = pipeline_check(vgg16_prefix, "--target", "eia1.medium", "--input", "data=64,3,224,224", "--json")
    assert code == 1
    report = json.loads(out)
    (diag,) = [d for d in report["diagnostics"] if d["severity"] == "error"]
    assert diag["code"] == "EI601" and "the smallest size that fits is eia2.large" in diag["message"]
    assert report["memory"]["smallest_fit"] == "eia2.large"
    assert 2 << 30 < report["memory"]["bytes"] <= 4 << 30


def test_vgg16_at_batch_64_fits_the_size_it_names(pipeline_check, vgg16_prefix):
    code, out, _ = pipeline_check(vgg16_prefix, "--target", "eia2.large", "--input", "data=64,3,224,224", "--json")
    assert code == 0
    assert [d["code"] for d in json.loads(out)["diagnostics"]] == []


def test_resnet18_at_batch_1_on_eia1_medium_has_no_error(pipeline_check):
    code, out, _ = pipeline_check("resnet18_v1", "--target", "eia1.medium", "--json")
    assert code == 0
    report = json.loads(out)
    assert [d for d in report["diagnostics"] if d["severity"] == "error"] == []
    assert report["memory"]["smallest_fit"] == "eia1.medium"


def test_json_is_exactly_the_design_object(pipeline_check):
    code, out, _ = pipeline_check("squeezenet1.1", "--target", "cpu", "--json")
    report = json.loads(out)
    assert code == 0 and out.count("\n") == 1
    assert list(report) == ["model", "target", "diagnostics", "memory"]
    assert (report["model"], report["target"]) == ("squeezenet1.1", "cpu")
    assert list(report["memory"]) == ["bytes", "smallest_fit"]
    assert isinstance(report["memory"]["bytes"], int) and report["memory"]["smallest_fit"] == "eia1.medium"
    for diag in report["diagnostics"]:
        assert list(diag) == ["code", "severity", "message", "node", "hint"]


def test_repeated_input_declares_another_shape(pipeline_check, tmp_path):
    prefix = save_checkpoint(tmp_path / "two", small_net(), {"data": (1, 3, 8, 8)})
    code, out, _ = pipeline_check(prefix, "--target", "eia1.large", "--input", "data=1,3,8,8",
                                  "--input", "data=4,3,8,8", "--json")
    assert code == 0
    assert [(d["code"], d["node"]) for d in json.loads(out)["diagnostics"]] == [("EI701", "data")]


def test_strict_makes_warnings_fail(pipeline_check, tmp_path):
    prefix = save_checkpoint(tmp_path / "two", small_net(), {"data": (1, 3, 8, 8)})
    code, _, _ = pipeline_check(prefix, "--target", "eia1.large", "--input", "data=1,3,8,8",
                                "--input", "data=4,3,8,8", "--strict")
    assert code == 1


@pytest.mark.parametrize("args", [
    ("resnet18_v1", "--target", "eia1.mediun"),          # unknown target
    ("resnet18_v1",),                                     # --target missing
    ("resnet18_v1", "--target", "cpu", "--input", "data=1,x"),  # bad shape
    ("not_a_model", "--target", "cpu"),                   # neither zoo, prefix nor .onnx
])
def test_bad_usage_exits_2(pipeline_check, args):
    code, _, err = pipeline_check(*args)
    assert code == 2 and err.strip()


def test_unknown_target_suggests_the_close_name(pipeline_check):
    _, _, err = pipeline_check("resnet18_v1", "--target", "eia1.mediun")
    assert "did you mean 'eia1.medium'" in err
