"""verify's detection mode compares the tensors that feed NMS elementwise (pipeline/localize/pre_nms.py).

A one-NMS detector: the NMS input is a parameter table of 8 candidate rows (class, score, box)
plus a tiny data-dependent jitter, so the tensor is computed on both sides. Row 1 overlaps row 0
(same class, lower score): NMS suppresses it. Moving row 1's box by a pixel (a test-only stage,
tests/plugins/localize_test_stages.py) changes the tensor NMS reads but not one detection NMS
emits: the set rule passes, and only the pre-NMS comparison can fail.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest

from pipeline.model.bundle import ModelBundle, TensorSpec

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
ROWS = np.array([[0, 0.9, 10, 10, 50, 50], [0, 0.8, 12, 12, 52, 52], [1, 0.7, 100, 100, 150, 140],
                 [1, 0.6, 0, 0, 30, 30], [2, 0.5, 60, 0, 90, 20], [3, 0.4, 0, 60, 20, 90],
                 [4, 0.3, 200, 200, 220, 230], [5, 0.2, 150, 0, 190, 30]], dtype=np.float32)[None]


def _write_detector(prefix: Path) -> None:
    data, table, jitter = mx.sym.var("data"), mx.sym.var("table"), mx.sym.var("jitter")
    candidates = mx.sym.elemwise_add(table, mx.sym.elemwise_mul(data, jitter), name="candidates")
    nms = mx.sym.contrib.box_nms(candidates, overlap_thresh=0.5, topk=-1, coord_start=2, score_index=1,
                                 id_index=0, force_suppress=False, name="nms0")
    outs = [mx.sym.slice_axis(nms, axis=2, begin=b, end=e, name=n)
            for b, e, n in ((0, 1, "ids"), (1, 2, "scores"), (2, 6, "boxes"))]
    mask = np.full(ROWS.shape, 1e-3, dtype=np.float32)
    mask[..., 0] = 0  # class ids stay whole numbers
    bundle = ModelBundle.from_symbol(mx.sym.Group(outs), {"table": mx.nd.array(ROWS), "jitter": mx.nd.array(mask)},
                                     {}, [TensorSpec("data", ROWS.shape)])
    bundle.write_checkpoint(prefix)


def _run(tmp_path: Path, target: str, perturb: bool) -> tuple[int, dict]:
    _write_detector(tmp_path / "det")
    stages = ["      - t_add_at: {weight: table, index: [0, 1, 2], add: 1.0}"] if perturb else []
    stages += [f"      - deploy: {{target: {target}}}",
               "      - verify: {runs: 1, warmup: 0, compare: detection, localize: off}"]
    config = tmp_path / "p.yaml"
    config.write_text("version: 1\npipelines:\n  det:\n    source: {checkpoint: {prefix: det}}\n"
                      "    inputs: {data: {shape: [1, 8, 6]}}\n    stages:\n" + "\n".join(stages) + "\n")
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")]),
               MXDEPLOY_PLUGINS="localize_test_stages")
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(config), "--out", str(out), "--no-cache"],
                          env=env, capture_output=True, text=True, timeout=600)
    report = json.loads((out / "report.json").read_text())
    return proc.returncode, next(s for s in report["pipelines"][0]["stages"] if s["name"] == "verify")


@pytest.mark.parametrize("target", ["onnxruntime", "cpu"])
def test_a_correct_deploy_passes_with_its_nms_input_compared(tmp_path, target):
    code, verify = _run(tmp_path, target, perturb=False)
    assert code == 0 and verify["status"] == "passed", verify["diagnostics"]
    pre = verify["metrics"]["pre_nms"]
    assert pre["status"] == "compared"
    assert [(t["nms"], t["tensor"], t["status"], t["decides"]) for t in pre["tensors"]] == \
        [("nms0", "candidates", "passed", True)]
    assert pre["tensors"][0]["max_abs_err"] <= 1e-4


def test_a_drifted_nms_input_fails_although_the_detections_match(tmp_path):
    code, verify = _run(tmp_path, "onnxruntime", perturb=True)
    assert verify["metrics"]["matched_fraction"] == 1.0  # NMS hid the drift: every detection matches
    assert code == 1 and verify["status"] == "failed"
    (diag,) = [d for d in verify["diagnostics"] if d["severity"] == "error"]
    assert (diag["code"], diag["node"]) == ("VER109", "candidates")
    assert "max abs error 1" in diag["message"]
    (tensor,) = verify["metrics"]["pre_nms"]["tensors"]
    assert tensor["status"] == "failed" and tensor["mismatches"] == 1
