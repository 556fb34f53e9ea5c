"""deploy reports the ONNX exporter's warnings as coded diagnostics (EI913), not only in log.txt.

mx2onnx's `dot` converter warns that "the behavior for when inputs > 2-D is different from that
of MXNet dot": a real warning of the exporter we use, on a one-node graph.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

import stages.deploy  # noqa: F401
from pipeline.model.bundle import ModelBundle, TensorSpec
from stages.deploy import DeployParams


def _dot_bundle() -> ModelBundle:
    sym = mx.sym.dot(mx.sym.var("data"), mx.sym.var("w"), name="dot0")
    w = mx.nd.array(np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3))
    return ModelBundle.from_symbol(sym, {"w": w}, {}, [TensorSpec("data", (1, 4, 8))])


@pytest.mark.parametrize("target", ["onnxruntime", "openvino"])
def test_an_exporter_warning_is_an_ei913_of_the_deploy_stage(make_runner, target):
    from pipeline.targets import TARGETS

    if not TARGETS.get(target).is_available():
        pytest.skip(f"{target} is not installed")
    runner = make_runner([("data", (1, 4, 8))])
    _, result = runner.run("deploy", _dot_bundle(), DeployParams(target=target))
    found = [d for d in result.diagnostics if d.code == "EI913"]
    assert [(d.severity, d.node) for d in found] == [("warning", "dot0")]
    assert "different from that of MXNet dot" in found[0].message and "\n" not in found[0].message


def test_a_clean_export_has_no_ei913(make_runner):
    sym = mx.sym.relu(mx.sym.var("data"), name="relu0")
    runner = make_runner([("data", (1, 4))])
    _, result = runner.run("deploy", ModelBundle.from_symbol(sym, {}, {}, [TensorSpec("data", (1, 4))]),
                           DeployParams(target="onnxruntime"))
    assert not [d for d in result.diagnostics if d.code == "EI913"]


def test_the_warning_reaches_report_md_and_still_the_log(tmp_path):
    bundle = _dot_bundle()
    prefix = tmp_path / "dot"
    bundle.write_checkpoint(prefix)
    config = tmp_path / "p.yaml"
    config.write_text("version: 1\npipelines:\n  dot:\n    source: {checkpoint: {prefix: dot}}\n"
                      "    inputs: {data: {shape: [1, 4, 8]}}\n    stages:\n      - deploy: {target: onnxruntime}\n")
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(config), "--out", str(out), "--no-cache"],
                          env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    deploy = next(s for s in report["pipelines"][0]["stages"] if s["name"] == "deploy")
    assert [(d["code"], d["node"]) for d in deploy["diagnostics"]] == [("EI913", "dot0")]
    markdown = (out / "report.md").read_text()
    assert "EI913" in markdown and "different from that of MXNet dot" in markdown
    assert "different from that of MXNet dot" in next(out.rglob("log.txt")).read_text()
