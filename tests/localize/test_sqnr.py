"""Quantized bundles get the per-layer SQNR scan, and rewritten nodes are never matched.

ONNX Runtime's quantization pre-processing folds BatchNormalization into Conv but keeps the
exporter's node map in the file; `valid_node_map` must drop every entry whose node was rewritten,
so no MXNet Convolution is compared with a Conv that now also holds its BatchNorm.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import onnx
from onnx import TensorProto, helper

from localize_helpers import run_cli
from pipeline.onnx.export import NODE_MAP_KEY, valid_node_map

PIPELINES = """version: 1
pipelines:
  sq:
    source: {gluon: {model: resnet18_v1}}
    inputs: {data: {shape: [1, 3, 32, 32]}}
    stages:
      - quantize: {target: onnxruntime, holdout: 2, min_top1_agreement: 0, min_cosine: 0, max_rel_err: 100}
"""


def test_int8_bundle_reports_sqnr_per_matched_node(tmp_path):
    (tmp_path / "q.yaml").write_text(PIPELINES)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(tmp_path / "q.yaml"), "--out",
                           str(tmp_path / "run"), "--no-cache"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    cell = tmp_path / "run" / "sq"
    code, out, err = run_cli(["compare", str(cell / "00-gluon"), str(cell / "01-quantize"), "--localize", "--json"])
    assert code == 1, err
    loc = json.loads(out)["localize"]
    assert loc["mode"] == "sqnr" and loc["sqnr"]
    assert all(0 < row["sqnr_db"] < 100 for row in loc["sqnr"])  # int8 differs everywhere, but modestly
    worst = max(loc["sqnr"], key=lambda row: row["drop_db"])
    assert loc["first_divergent"]["node"] == worst["node"]
    assert not any(row["op"] in ("Convolution", "BatchNorm") for row in loc["sqnr"])  # folded by ORT: unmatched


def test_an_openvino_ir_bundle_is_refused_not_compared_as_its_fp32_symbol(tmp_path):
    """NNCF's IR cannot be tapped; exporting the Symbol instead would compare fp32 under its name."""
    (tmp_path / "q.yaml").write_text(PIPELINES.replace("target: onnxruntime", "target: openvino"))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(tmp_path / "q.yaml"), "--out",
                           str(tmp_path / "run"), "--no-cache"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    cell = tmp_path / "run" / "sq"
    code, out, err = run_cli(["compare", str(cell / "00-gluon"), str(cell / "01-quantize"), "--localize"])
    assert code == 2 and "LOC007" in err and "openvino-ir" in err and len(err.strip().splitlines()) == 1, err


def _model(nodes, map_entries):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph)
    entry = model.metadata_props.add()
    entry.key, entry.value = NODE_MAP_KEY, json.dumps(map_entries)
    return model


def test_an_entry_holds_through_activation_qdq_pairs():
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
             helper.make_node("Relu", ["xd"], ["y"])]
    assert valid_node_map(_model(nodes, [["relu0", 0, "y", "Relu", ["x"]]])) == [("relu0", 0, "y")]


def test_a_rewritten_node_drops_out_of_the_map():
    changed_op = [helper.make_node("Sigmoid", ["x"], ["y"])]
    changed_inputs = [helper.make_node("Neg", ["x"], ["n"]), helper.make_node("Relu", ["n"], ["y"])]
    entry = [["relu0", 0, "y", "Relu", ["x"]]]
    assert valid_node_map(_model(changed_op, entry)) == []
    assert valid_node_map(_model(changed_inputs, entry)) == []
    onnx.checker.check_model(_model(changed_inputs, entry))
