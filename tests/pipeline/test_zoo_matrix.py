"""`gluon-vision-zoo` in a matrix expands to the zoo; zoo.yaml runs every model (slow)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from pipeline.run.config import matrix

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "tests" / "plugins"


def test_special_value_expands_in_place(monkeypatch):
    monkeypatch.setattr("pipeline.model.resolve.vision_zoo_names", lambda: ["alexnet", "resnet18_v1"])
    grid = {"model": ["first", "gluon-vision-zoo", "last"], "target": ["cpu", "onnxruntime"]}
    cells = matrix.cells(grid)
    assert [c["model"] for c in cells[::2]] == ["first", "alexnet", "resnet18_v1", "last"]
    assert len(cells) == 8
    assert matrix.expand_values(["gluon-vision-zoo-not", 3]) == ["gluon-vision-zoo-not", 3]


def _cells_from_zoo(tmp: str) -> list:
    """Runs in a spawned process, so the test stages never enter this process's registries."""
    import sys

    import pipeline.model.resolve

    pipeline.model.resolve.vision_zoo_names = lambda: ["alexnet", "inceptionv3"]
    os.environ["MXDEPLOY_PLUGINS"] = "runner_test_stages"
    sys.path.insert(0, str(PLUGINS))
    from pipeline.run.config import load_config

    path = Path(tmp) / "zoo.yaml"
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
    return [(p.name, p.stages[0].params.tag, p.stages[1].params.target) for p in config.pipelines]


def test_config_cells_from_the_zoo(tmp_path):
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        cells = pool.submit(_cells_from_zoo, str(tmp_path)).result(timeout=120)
    assert cells == [("zoo[model=alexnet,target=cpu]", "alexnet", "cpu"),
                     ("zoo[model=alexnet,target=onnxruntime]", "alexnet", "onnxruntime"),
                     ("zoo[model=inceptionv3,target=cpu]", "inceptionv3", "cpu"),
                     ("zoo[model=inceptionv3,target=onnxruntime]", "inceptionv3", "onnxruntime")]


@pytest.mark.slow
def test_zoo_yaml_every_model_on_cpu_and_onnxruntime(tmp_path):
    """The headline sweep: every vision zoo model x {cpu, onnxruntime} passes (needs the real stages)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "MXDEPLOY_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(REPO / "zoo.yaml"), "--jobs", "2",
                           "--out", str(tmp_path / "out")], env=env, text=True, capture_output=True, timeout=3600)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    from pipeline.model.resolve import vision_zoo_names as zoo_names

    assert len(report["pipelines"]) == 2 * len(zoo_names())
    bad = {p["name"]: p["status"] for p in report["pipelines"] if p["status"] not in ("passed", "cached")}
    assert bad == {}, proc.stdout[-3000:]
    assert proc.returncode == 0


ZOO_SAMPLE = ["zoo[model=resnet18_v1,target=cpu]", "zoo[model=resnet18_v1,target=onnxruntime]",
              "zoo[model=mobilenetv2_0.25,target=onnxruntime]", "zoo[model=squeezenet1.1,target=cpu]",
              "zoo[model=densenet121,target=onnxruntime]"]


def test_zoo_yaml_sample_of_five_cells(tmp_path):
    """The default run's sample of the zoo sweep (`--run-slow` runs all of it)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "MXDEPLOY_CACHE_DIR": str(tmp_path / "cache")}
    only = [arg for cell in ZOO_SAMPLE for arg in ("--only", cell)]
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(REPO / "zoo.yaml"), "--jobs", "2",
                           "--out", str(tmp_path / "out"), *only], env=env, text=True, capture_output=True,
                          timeout=1800)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    statuses = {p["name"]: p["status"] for p in report["pipelines"]}
    assert statuses == {cell: "passed" for cell in ZOO_SAMPLE}, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0
