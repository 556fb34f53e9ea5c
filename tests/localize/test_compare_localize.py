"""`pipeline compare --localize` on a resnet18_v1 whose ONNX export has one corrupted Conv weight."""
from __future__ import annotations

import json

import pytest

from localize_helpers import SHAPE, run_cli
from pipeline.localize.repro import replay


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_localize_names_the_corrupted_conv_and_the_repro_reproduces_it(resnet, runtime, tmp_path):
    repro = tmp_path / "repro"
    code, out, err = run_cli(["compare", resnet["prefix"], f"{resnet['bad']}@{runtime}", "--input", SHAPE,
                              "--localize", "--json", "--save-repro", str(repro)])
    assert code == 1, err
    report = json.loads(out)
    found = report["first_divergent"]
    assert found["node"] == resnet["mx_node"] and found["op"] == "Convolution"
    assert found["other_tensor"] == resnet["conv"] and found["other_op"] == "Conv"
    assert found["max_abs_err"] > 1e-2 and found["confirmed"] is True
    check = found["confirmation"]  # the Conv run alone, untapped, on both runtimes: the same difference
    assert check["status"] == "reproduced" and check["max_abs_err"] == pytest.approx(found["max_abs_err"], rel=0.05)
    assert found["inputs"] and all(i["max_abs_err"] < 1e-4 for i in found["inputs"])
    loc = report["localize"]
    assert loc["runs"] <= 8 and loc["matched"] > 60  # bounded: far fewer runs than nodes
    replayed = replay(repro)
    assert not replayed.passed
    assert replayed.max_abs_err == pytest.approx(found["max_abs_err"], rel=1e-3)


def test_the_repro_of_an_unchanged_model_agrees(resnet, tmp_path):
    """Control for the repro test: the same subgraph cut from the good export agrees."""
    import onnx
    import shutil

    repro = tmp_path / "repro"
    assert run_cli(["compare", resnet["prefix"], resnet["bad"], "--input", SHAPE, "--save-repro", str(repro)])[0] == 1
    meta = json.loads((repro / "repro.json").read_text())
    good = onnx.load(resnet["onnx"])
    cut = onnx.load(str(repro / "b.onnx"))
    init = {t.name: t for t in good.graph.initializer}
    for t in cut.graph.initializer:
        t.CopyFrom(init[t.name])
    onnx.save(cut, str(repro / "b.onnx"))
    assert meta["sides"][1]["format"] == "onnx"
    assert replay(repro).passed
    shutil.rmtree(repro)


def test_agreeing_models_exit_0_with_no_finding(resnet):
    code, out, err = run_cli(["compare", resnet["prefix"], resnet["onnx"], "--input", SHAPE, "--localize", "--json"])
    assert code == 0, err
    assert json.loads(out)["first_divergent"] is None


def test_the_text_output_prints_one_line_per_finding(resnet):
    code, out, _ = run_cli(["compare", resnet["prefix"], resnet["bad"], "--input", SHAPE, "--localize"])
    assert code == 1
    line = next(ln for ln in out.splitlines() if ln.startswith("first divergent node:"))
    assert resnet["mx_node"] in line and "max abs err" in line and "cosine" in line and "inputs:" in line
