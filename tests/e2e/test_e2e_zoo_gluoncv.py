"""zoo-gluoncv.yaml through `pipeline run`: one model per family on cpu, onnxruntime and openvino
by default (small inputs: the file's own), every cell with --run-slow."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TARGETS = ("cpu", "onnxruntime", "openvino")
# The cheapest model of each family; other models of the same families run with --run-slow.
SAMPLE = {"classification": "cifar_resnet20_v1", "detection": "ssd_512_mobilenet1.0_voc",
          "segmentation": "psp_resnet50_ade", "pose": "simple_pose_resnet18_v1b",
          "action": "resnet18_v1b_kinetics400"}
EXPECTED_MODE = {"detection": "detection", "segmentation": "segmentation"}


def _run(tmp_path: Path, only: list[str], timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "pipeline.cli", "run", str(REPO / "zoo-gluoncv.yaml"), "--out", str(tmp_path / "run"),
            "--jobs", "2", "--no-cache"]
    for cell in only:
        args += ["--only", cell]
    proc = subprocess.run(args, env=env, text=True, capture_output=True, timeout=timeout)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    return {"proc": proc, "pipelines": {p["name"]: p for p in report["pipelines"]}}


def _verify(pipeline: dict) -> dict:
    return next(s for s in pipeline["stages"] if s["name"] == "verify")


def test_one_model_per_family_on_every_host_target(tmp_path):
    cells = [f"{family}[model={model},target={target}]" for family, model in SAMPLE.items() for target in TARGETS]
    result = _run(tmp_path, cells, timeout=3000)
    failed = {name: [d["message"][:200] for s in p["stages"] for d in s.get("diagnostics", [])]
              for name, p in result["pipelines"].items() if p["status"] != "passed"}
    assert not failed, failed
    assert set(result["pipelines"]) == set(cells)
    for name, pipeline in result["pipelines"].items():
        family = name.split("[")[0]
        metrics = _verify(pipeline)["metrics"]
        assert metrics["compare"] == EXPECTED_MODE.get(family, "elementwise"), name
        assert not [d for d in _verify(pipeline).get("diagnostics", []) if d["code"] == "VER120"], name


@pytest.mark.slow
def test_every_cell_of_zoo_gluoncv_yaml(tmp_path):
    result = _run(tmp_path, [], timeout=6 * 3600)
    failed = {name: [d["message"][:200] for s in p["stages"] for d in s.get("diagnostics", [])]
              for name, p in result["pipelines"].items() if p["status"] != "passed"}
    assert not failed, failed
