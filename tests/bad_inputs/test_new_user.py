"""Tried as a new user would: each mistake gives one clear line and a non-zero exit.

A truncated checkpoint, a model zeroed half-way, an ONNX file with a custom op and a YAML
with a typo, each through `python -m pipeline.cli` in its own process.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
from make_corpus import write_onnx  # noqa: E402


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def digits(tmp_path):
    for suffix in ("-symbol.json", "-0000.params"):
        shutil.copy(REPO / "examples" / f"digits-mlp{suffix}", tmp_path / f"digits-mlp{suffix}")
    return tmp_path


def _one_line(proc, code: str) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr
    assert code in lines[0] and "Traceback" not in proc.stderr + proc.stdout
    return lines[0]


def test_truncated_checkpoint(digits):
    params = digits / "digits-mlp-0000.params"
    params.write_bytes(params.read_bytes()[:3000])
    line = _one_line(_cli("check", "digits-mlp", "--target", "cpu", "--input", "data=1,64", cwd=digits), "LDR201")
    assert "digits-mlp-0000.params: byte" in line and "truncated" in line


def test_model_zeroed_half_way(digits):
    params = digits / "digits-mlp-0000.params"
    data = params.read_bytes()
    params.write_bytes(data[:len(data) // 2] + bytes(len(data) - len(data) // 2))
    line = _one_line(_cli("check", "digits-mlp", "--target", "cpu", "--input", "data=1,64", cwd=digits), "LDR204")
    assert "zero" in line


def test_onnx_with_a_custom_op(tmp_path):
    write_onnx(tmp_path / "custom.onnx", op=("FancyGelu", "com.acme"))
    line = _one_line(_cli("check", "custom.onnx", "--target", "cpu", "--input", "X=1,8", cwd=tmp_path), "ONNX101")
    assert "com.acme:FancyGelu" in line and "custom.onnx" in line


def test_yaml_with_a_typo(digits):
    (digits / "pipelines.yaml").write_text("version: 1\npipelines:\n  digits:\n    source: {checkpoint: {prefix: digits-mlp}}\n"
                                           "    inputs: {data: {shape: [1, 64]}}\n    stages:\n      - deploy: {taget: cpu}\n")
    line = _one_line(_cli("run", "pipelines.yaml", "--out", "out", cwd=digits), "CFG005")
    assert "pipelines.yaml:7:18:" in line and "did you mean 'target'" in line
    assert not (digits / "out").exists()
