"""verify's `localize: auto`: a failed verify names the first divergent node (VER101, localize.json, reports).

A test-only stage (tests/plugins/localize_test_stages.py) corrupts one Conv weight between the
source and the deploy, as a faulty transform would; verify compares with the source's Gluon
reference, fails, and localizes the failure to the Conv that reads that weight.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
WEIGHT = "resnetv10_stage2_conv1_weight"
PIPELINES = f"""version: 1
pipelines:
  corrupt:
    source: {{gluon: {{model: resnet18_v1}}}}
    inputs: {{data: {{shape: [1, 3, 32, 32]}}}}
    stages:
      - t_corrupt_param: {{weight: {WEIGHT}}}
      - deploy: {{target: LOC_TARGET}}
      - verify: {{runs: 1, warmup: 0, localize: LOC_MODE}}
"""


def _run(tmp_path: Path, target: str, mode: str) -> tuple[dict, Path]:
    config = tmp_path / "p.yaml"
    config.write_text(PIPELINES.replace("LOC_TARGET", target).replace("LOC_MODE", mode))
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(PLUGINS), MXDEPLOY_PLUGINS="localize_test_stages")
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(config), "--out", str(out), "--no-cache"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    return json.loads((out / "report.json").read_text()), out


def _verify(report: dict) -> dict:
    return next(s for s in report["pipelines"][0]["stages"] if s["name"] == "verify")


@pytest.mark.parametrize("target,other_op", [("onnxruntime", "Conv"), ("openvino", "Conv"), ("cpu", "Convolution")])
def test_a_failed_verify_names_the_corrupted_conv(tmp_path, target, other_op):
    report, out = _run(tmp_path, target, "auto")
    verify = _verify(report)
    ver101 = next(d for d in verify["diagnostics"] if d["code"] == "VER101")
    conv = WEIGHT[: -len("_weight")] + "_fwd"
    assert ver101["node"] == conv and f"first divergent node: {conv}" in ver101["message"]
    verify_json = out / verify["artifacts"]["verify"]
    assert verify_json.is_file()
    assert out / verify["artifacts"]["localize"] == verify_json.parent / "localize.json"  # beside verify.json
    located = json.loads((verify_json.parent / "localize.json").read_text())
    assert located["status"] == "localized" and located["b"].endswith(f"@{target}")
    assert located["first_divergent"]["node"] == conv and located["first_divergent"]["other_op"] == other_op
    assert located["first_divergent"]["confirmed"] is True
    assert f"first divergent node: `{conv}`" in (out / "report.md").read_text()
    assert f"first divergent node: <code>{conv}</code>" in (out / "report.html").read_text()


def test_localize_off_leaves_ver101_as_it_was(tmp_path):
    report, out = _run(tmp_path, "cpu", "off")
    ver101 = next(d for d in _verify(report)["diagnostics"] if d["code"] == "VER101")
    assert "first divergent" not in ver101["message"]
    assert not list(out.rglob("localize.json"))
