"""`gluon-vision-zoo` in a matrix expands to the zoo; zoo.yaml runs every model (slow)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline.config import matrix

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "tests" / "plugins"


def test_special_value_expands_in_place(monkeypatch):
    monkeypatch.setattr("pipeline.resolve.zoo_names", lambda: ["alexnet", "resnet18_v1"])
    grid = {"model": ["first", "gluon-vision-zoo", "last"], "target": ["cpu", "onnxruntime"]}
    cells = matrix.cells(grid)
    assert [c["model"] for c in cells[::2]] == ["first", "alexnet", "resnet18_v1", "last"]
    assert len(cells) == 8
    assert matrix.expand_values(["gluon-vision-zoo-not", 3]) == ["gluon-vision-zoo-not", 3]


def test_config_cells_from_the_zoo(monkeypatch, tmp_path):
    monkeypatch.setattr("pipeline.resolve.zoo_names", lambda: ["alexnet", "inceptionv3"])
    monkeypatch.setenv("MXDEPLOY_PLUGINS", "runner_test_stages")
    monkeypatch.syspath_prepend(str(PLUGINS))
    from pipeline.config import load_config

    path = tmp_path / "zoo.yaml"
    path.write_text(textwrap.dedent("""
        version: 1
        pipelines:
          zoo:
            matrix: {model: [gluon-vision-zoo], target: [cpu, onnxruntime]}
            source: {tiny_fc: {}}
            inputs: {data: {shape: [1, 4]}}
            stages:
              - t_count: {file: c.txt, tag: "${model}"}
              - t_deploy: {target: "${target}"}
    """))
    config = load_config(path)
    assert [p.name for p in config.pipelines] == [
        "zoo[model=alexnet,target=cpu]", "zoo[model=alexnet,target=onnxruntime]",
        "zoo[model=inceptionv3,target=cpu]", "zoo[model=inceptionv3,target=onnxruntime]"]
    assert config.pipelines[2].stages[0].params.tag == "inceptionv3"
    assert config.pipelines[3].stages[1].params.target == "onnxruntime"


@pytest.mark.slow
def test_zoo_yaml_every_model_on_cpu_and_onnxruntime(tmp_path):
    """The headline sweep: every vision zoo model x {cpu, onnxruntime} passes (needs the real stages)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "MXDEPLOY_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(REPO / "zoo.yaml"), "--jobs", "2",
                           "--out", str(tmp_path / "out")], env=env, text=True, capture_output=True, timeout=3600)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    from pipeline.resolve import zoo_names

    assert len(report["pipelines"]) == 2 * len(zoo_names())
    bad = {p["name"]: p["status"] for p in report["pipelines"] if p["status"] not in ("passed", "cached")}
    assert bad == {}, proc.stdout[-3000:]
    assert proc.returncode == 0
