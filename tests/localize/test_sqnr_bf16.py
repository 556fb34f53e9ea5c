"""The SQNR scan on bf16 bundles, and on one whose middle Conv was quantized badly on purpose.

bf16 keeps 8 bits of mantissa, so every layer sits near 40-55 dB; a tapped bf16 tensor read as
its raw bits (the bug this guards against) gave about -90 dB. The bad layer: the weight of one
Conv in the middle of the mxnet-bf16 bundle is rounded to 7 levels, as a quantizer with a
far too coarse scale would; the finding must be exactly that Conv, and it must reproduce when
the node runs alone (confirmation).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from localize_helpers import run_cli

BAD_CONV = "resnetv10_stage3_conv1"
PIPELINES = """version: 1
pipelines:
  mx:
    source: {gluon: {model: resnet18_v1}}
    inputs: {data: {shape: [1, 3, 32, 32]}}
    stages:
      - quantize: {target: cpu, precision: bf16, holdout: 2, min_top1_agreement: 0, min_cosine: 0, max_rel_err: 100}
  ov:
    source: {gluon: {model: resnet18_v1}}
    inputs: {data: {shape: [1, 3, 32, 32]}}
    stages:
      - quantize: {target: openvino, precision: bf16, holdout: 2, min_top1_agreement: 0, min_cosine: 0,
                   max_rel_err: 100}
"""


@pytest.fixture(scope="module")
def bf16_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sqnr-bf16")
    (folder / "q.yaml").write_text(PIPELINES)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(folder / "q.yaml"), "--out",
                           str(folder / "run"), "--no-cache"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return folder / "run"


def _localize(source, candidate) -> dict:
    code, out, err = run_cli(["compare", str(source), str(candidate), "--localize", "--json"])
    assert code == 1, err
    return json.loads(out)["localize"]


@pytest.mark.parametrize("cell,fmt,target", [("mx", "mxnet-bf16", "cpu"), ("ov", "openvino-bf16", "openvino")])
def test_a_bf16_bundle_is_scanned_with_finite_sqnr_at_every_node(bf16_run, cell, fmt, target):
    quantized = json.loads((bf16_run / cell / "01-quantize" / "bundle.json").read_text())["metadata"]["quantized"]
    assert quantized["format"] == fmt
    loc = _localize(bf16_run / cell / "00-gluon", bf16_run / cell / "01-quantize")
    assert loc["mode"] == "sqnr" and loc["b"].endswith(f"@{target}") and loc["matched"] > 60
    assert len(loc["sqnr"]) == loc["matched"]
    assert all(math.isfinite(row["sqnr_db"]) and 25 < row["sqnr_db"] < 90 for row in loc["sqnr"]), loc["sqnr"]
    assert all(math.isfinite(row["own_sqnr_db"]) for row in loc["sqnr"])
    assert loc["first_divergent"]["confirmation"]["status"] in ("reproduced", "not_reproduced")


def test_the_one_badly_quantized_conv_is_the_finding(bf16_run, tmp_path):
    from pipeline.model.bundle import ModelBundle

    bundle = ModelBundle.load(bf16_run / "mx" / "01-quantize")
    weight = bundle.arg_params[f"{BAD_CONV}_weight"]
    step = float(np.abs(weight).max()) / 3
    bundle.arg_params[f"{BAD_CONV}_weight"] = (np.round(weight / step) * step).astype(weight.dtype)
    bad = tmp_path / "bad-quantize"
    bundle.save(bad)
    loc = _localize(bf16_run / "mx" / "00-gluon", bad)
    found = loc["first_divergent"]
    assert found["node"] == f"{BAD_CONV}_fwd" and found["op"] == "Convolution"
    rows = {row["node"]: row for row in loc["sqnr"]}
    assert rows[found["node"]]["own_sqnr_db"] < min(r["own_sqnr_db"] for n, r in rows.items() if n != found["node"]) - 10
    assert found["confirmed"] is True and found["confirmation"]["sqnr_db"] < found["confirmation"]["input_sqnr_db"]
    clean = _localize(bf16_run / "mx" / "00-gluon", bf16_run / "mx" / "01-quantize")  # control: the same Conv in bf16
    clean_row = next(row for row in clean["sqnr"] if row["node"] == found["node"])
    assert clean_row["own_sqnr_db"] > rows[found["node"]]["own_sqnr_db"] + 10
