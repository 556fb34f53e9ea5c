"""pipelines.yaml's worked NLP example, `bert-dynamic-seq`, as a user runs it (about 20 s).

A small BERT from the GluonNLP zoo with a dynamic sequence axis on ONNX Runtime: it must pass at
the declared length and at twice it, and its report must carry no noise: ONNX Runtime's
transformer optimizer guessing the model's producer is not an exporter warning (EI913), and
BERT's masked padding rows are not tied top-k selections (VER121).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gluonnlp")

REPO = Path(__file__).resolve().parents[2]


def test_bert_dynamic_seq_passes_at_both_lengths_with_a_clean_report(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "MXDEPLOY_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(REPO / "pipelines.yaml"), "--only",
                           "bert-dynamic-seq", "--no-cache", "--out", str(tmp_path / "out")],
                          env=env, text=True, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    (cell,) = json.loads((tmp_path / "out" / "report.json").read_text())["pipelines"]
    stages = {s["name"]: s for s in cell["stages"]}
    assert [s["status"] for s in cell["stages"]] == ["passed"] * 4
    second = stages["verify"]["metrics"]["second_size"]
    assert second["shapes"]["data0"] == [2, 32] and second["max_abs_err"] < 1e-4
    codes = {(s["name"], d["code"]) for s in cell["stages"] for d in s["diagnostics"]}
    assert not {c for _, c in codes} & {"EI913", "VER121"}, codes
    log = (tmp_path / "out" / "bert-dynamic-seq" / "log.txt").read_text()
    assert "Model producer not matched" in log  # the optimizer's remark went to the log
