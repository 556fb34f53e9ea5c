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


def _float64_conv(prefix):
    sym = mx.sym.Convolution(mx.sym.var("data"), kernel=(3, 3), num_filter=2, name="conv0")
    mx.model.save_checkpoint(str(prefix), 0, sym, {"conv0_weight": mx.nd.ones((2, 2, 3, 3), dtype="float64"),
                                                   "conv0_bias": mx.nd.zeros(2, dtype="float64")}, {})
    return prefix


def test_a_runtime_refusal_names_the_log_that_holds_its_full_text(pipeline_check, tmp_path):
    """ONNX Runtime has no float64 Conv: EI914's hint names the file with ORT's own text, which exists."""
    prefix = _float64_conv(tmp_path / "f64")
    log = tmp_path / "logs" / "check.log"
    code, out, err = pipeline_check(prefix, "--target", "onnxruntime", "--input", "data=1,2,5,5:float64",
                                    "--log", log, "--json")
    assert code == 1 and err == ""
    report = json.loads(out)
    (diag,) = [d for d in report["diagnostics"] if d["code"] == "EI914"]
    assert f"in {log}" in diag["hint"] and report["log"] == str(log)
    assert "[ONNXRuntimeError]" in log.read_text() and "[ONNXRuntimeError]" not in out


def test_debug_prints_the_runtime_text_and_a_clean_check_leaves_no_log(pipeline_check, tmp_path):
    prefix = _float64_conv(tmp_path / "f64")
    log = tmp_path / "check.log"
    code, _, err = pipeline_check(prefix, "--target", "onnxruntime", "--input", "data=1,2,5,5:float64",
                                  "--log", log, "--debug")
    assert code == 1 and "[ONNXRuntimeError]" in err  # the runtime's own text, on request
    clean = save_checkpoint(tmp_path / "clean", small_net(), {"data": (1, 3, 8, 8)})
    code, _, err = pipeline_check(clean, "--target", "onnxruntime", "--input", "data=1,3,8,8", "--log",
                                  tmp_path / "clean.log")
    assert code == 0 and not (tmp_path / "clean.log").exists()


def test_json_of_a_model_that_cannot_be_loaded_is_a_json_error(pipeline_check, tmp_path):
    """A missing checkpoint: exit 2 (a bad input, docs/errors.md), one line on stderr, and a JSON document."""
    code, out, err = pipeline_check(tmp_path / "missing", "--target", "cpu", "--json")
    assert code == 2 and err.count("\n") == 1
    report = json.loads(out)
    assert report["diagnostics"] == [] and report["target"] == "cpu"
    assert report["error"]["code"] in err and report["error"]["message"] in err


def test_a_graph_that_does_not_bind_names_the_log_too(pipeline_check, tmp_path):
    """EI911 (MXNet's shape inference refuses) has its own hint; the log file is added to it."""
    sym = mx.sym.Convolution(mx.sym.var("data"), kernel=(5, 5), num_filter=2, name="conv0")
    mx.model.save_checkpoint(str(tmp_path / "big"), 0, sym, {"conv0_weight": mx.nd.ones((2, 2, 5, 5)),
                                                             "conv0_bias": mx.nd.zeros(2)}, {})
    log = tmp_path / "check.log"
    code, out, _ = pipeline_check(tmp_path / "big", "--target", "cpu", "--input", "data=1,2,8,8",
                                  "--input", "data=1,2,3,3", "--log", log, "--json")
    assert code == 1
    (diag,) = [d for d in json.loads(out)["diagnostics"] if d["code"] == "EI911"]
    assert diag["hint"].endswith(f"the runtime's full text is in {log}") and log.is_file()
